"""examples/territories.py runs and shows contention, a stale holder refused, and a heat alert."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_territories_example_shows_contention_fencing_and_an_alert() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "territories.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "alice leases src/app.py with token 1" in lines
    assert "alice stalls; her lease expired (token 1)" in lines
    assert "bob leases src/app.py with token 2" in lines
    assert (
        "alice wakes up and writes: refused, stale fencing token 1 for territory "
        "'src/app.py': highest seen is 2"
    ) in lines
    assert sum("refused, held by 'bob'" in line for line in lines) == 3
    assert any(line.startswith("heat alert on src/app.py") for line in lines)
    assert lines[-1] == "the ledger replays to the lease table: tokens {'src/app.py': 2}"
