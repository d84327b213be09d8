"""`python -m actors.node` with a bad setting or a weak secret: one line on stderr, exit 2.

The in-process table (tests/unit/actors/node/test_validation.py) covers every
setting from every source; this checks the real process: its exit status, that
stderr is that single line and that nothing started (no log line on stdout).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import SECRET

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TADPOLE_")}
    environ |= {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}", **env}
    return subprocess.run(
        [sys.executable, "-m", "actors.node", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--name", "n", "--cluster", ""], {}, "invalid cluster '' from --cluster"),
        (["--name", "n"], {"TADPOLE_HANDSHAKE_TIMEOUT": "nan"}, "TADPOLE_HANDSHAKE_TIMEOUT"),
        (["--name", "n" * 256], {}, "invalid name 'nnnn"),
        (["--name", "n"], {"TADPOLE_SECRET": "k3y"}, "from TADPOLE_SECRET: the cluster secret"),
    ],
)
def test_a_bad_start_is_one_line_and_exit_status_2(
    args: list[str], env: dict[str, str], expected: str
) -> None:
    result = run([*args, "--listen", "127.0.0.1:0"], {"TADPOLE_SECRET": SECRET, **env})
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("python -m actors.node: error: ")
    assert expected in lines[0]


def test_gen_secret_makes_a_file_the_node_accepts(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    made = run(["gen-secret", str(path)], {})
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = run(["gen-secret", str(path)], {})
    assert again.returncode == 1
    assert "not overwritten" in again.stderr
