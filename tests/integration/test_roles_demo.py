"""`make demo` runs examples/swarm.py: it must finish and verify its ledger."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_swarm_demo_balances_retries_reclaims_and_verifies_its_ledger() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "swarm.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    for channel in ("balanced", "creative", "strict"):
        assert channel in out
    assert "(reclaimed)" in out
    # Results are kept with their jobs; unread jobs (failures, a review) are listed.
    assert "results (kept with each job)" in out
    assert "{'summary': 'think of job-007'" in out
    assert "unread, awaiting a reader (3)" in out
    assert "needs_review" in out
    assert "ledger verify: ok" in out
    assert "replayed job table matches: True" in out
