"""examples/tickets_pipeline.py runs as written: a silent worker fenced off, the run done."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("httpx", reason="the example needs httpx (the dev extra)")
pytest.importorskip("uvicorn", reason="the example needs the http extra (starlette, uvicorn)")

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_tickets_pipeline_example_runs() -> None:
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'src'}")
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "tickets_pipeline.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "late submit from the silent worker: 409 claim_lost" in result.stdout
    assert "the ledger's replay equals the ticket table" in result.stdout
