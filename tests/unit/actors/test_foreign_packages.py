"""``import actors`` refuses a ``protocol`` or ``scheduler`` that is not Tadpole's.

PyPI has unrelated packages named ``actors``, ``protocol`` and ``scheduler``;
one installed beside Tadpole (or earlier on ``sys.path``) must make the import
fail at once with one line naming the foreign module's path. Each case runs in
a fresh interpreter, with a temporary directory first on ``sys.path``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[3] / "src"


def run_import(tmp_path: Path, code: str = "import actors") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(SRC)])
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def fake_package(root: Path, name: str, body: str = "VALUE = 1\n") -> Path:
    package = root / name
    package.mkdir()
    init = package / "__init__.py"
    init.write_text(body)
    return init


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("name", ["scheduler", "protocol"])
def test_a_foreign_package_first_on_the_path_is_named_with_its_path(
    tmp_path: Path, name: str
) -> None:
    init = fake_package(tmp_path, name)
    result = run_import(tmp_path)
    assert result.returncode != 0
    line = last_line(result)
    assert line.startswith("ImportError: ")
    assert f"the package {name!r} imported from {init} is not Tadpole's {name}" in line
    assert "tadpole-actors" in line


def test_a_foreign_package_with_a_marker_for_another_name_is_refused(tmp_path: Path) -> None:
    fake_package(tmp_path, "scheduler", '__tadpole__ = "something else"\n')
    result = run_import(tmp_path)
    assert result.returncode != 0
    assert "is not Tadpole's scheduler" in last_line(result)


def test_a_foreign_package_that_fails_to_import_is_named(tmp_path: Path) -> None:
    init = fake_package(tmp_path, "scheduler", "import no_such_dependency_xyz\n")
    result = run_import(tmp_path)
    assert result.returncode != 0
    line = last_line(result)
    assert line.startswith("ImportError: ")
    assert f"'scheduler' at {init} failed to import" in line
    assert "not Tadpole's" in line


def test_a_foreign_package_raising_anything_on_import_is_named(tmp_path: Path) -> None:
    fake_package(tmp_path, "protocol", "raise RuntimeError('this is not yours')\n")
    result = run_import(tmp_path)
    assert result.returncode != 0
    line = last_line(result)
    assert line.startswith("ImportError: ")
    assert "RuntimeError: this is not yours" in line


def test_tadpoles_own_packages_import_and_carry_the_marker(tmp_path: Path) -> None:
    code = (
        "import actors, protocol, scheduler\n"
        "print(actors.__tadpole__, protocol.__tadpole__, scheduler.__tadpole__)\n"
    )
    result = run_import(tmp_path, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["actors", "protocol", "scheduler"]
