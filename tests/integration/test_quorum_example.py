"""examples/quorum.py runs and shows proposals granted, rejected and failed, and the ledger."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_quorum_example_shows_every_outcome_and_the_ledger_story() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quorum.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("alice -> src/app.py: granted (quorum, by quorum, token 1)")
    assert lines[1].startswith("mallory -> src/db.py: rejected (votes, by quorum)")
    assert lines[2].startswith("bob -> src/app.py: rejected (held, by quorum)")
    assert lines[3].startswith("carol -> docs/: granted (store, by store, token 1) after 2 round")
    assert "erin:timeout" in lines[3]
    assert lines[4].startswith("dave -> docs/guide: failed (timeout, by quorum) after 1 round")
    story = lines[lines.index("the ledger:") + 1 : -2]
    assert [line.split()[1] for line in story] == [
        "quorum.decided",
        "quorum.decided",
        "quorum.decided",
        "quorum.alert",
        "quorum.alert",
        "quorum.decided",
        "quorum.alert",
        "quorum.decided",
    ]
    assert lines[-2] == (
        "the ledger replays to the lease table: {'docs/': 'carol', 'src/app.py': 'alice'}, "
        "tokens {'src/app.py': 1, 'docs/': 1}"
    )
    assert (
        lines[-1] == "and to 5 decisions: ['granted', 'rejected', 'rejected', 'granted', 'failed']"
    )
