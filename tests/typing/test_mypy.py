"""Typed refs, proved with mypy: user code that must pass, and code that must fail.

``pass_*.py`` must type-check under ``mypy --strict`` with no error at all;
``fail_*.py`` must produce exactly the errors marked on their lines with
``# E: <text>`` (each marked line has an error whose message contains the
text, and no unmarked line has one). The files are only checked, never run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api")

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"
PASS = sorted(HERE.glob("pass_*.py"))
FAIL = sorted(HERE.glob("fail_*.py"))
_MARK = re.compile(r"#\s*E:\s*(?P<text>.+?)\s*$")
_ERROR = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): error: (?P<message>.*)$")


def _mypy(path: Path, cache: Path) -> list[tuple[int, str]]:
    """(line, message) of each error mypy --strict reports in ``path``."""
    stdout, stderr, _status = api.run(
        [
            "--strict",
            "--no-error-summary",
            "--hide-error-context",
            "--no-pretty",
            "--show-error-codes",
            "--no-incremental",
            "--cache-dir",
            str(cache),
            "--python-version",
            "3.11",
            str(path),
        ]
    )
    assert not stderr, stderr
    found: list[tuple[int, str]] = []
    for line in stdout.splitlines():
        match = _ERROR.match(line)
        if match is not None:
            assert Path(match["path"]).name == path.name, f"error outside {path.name}: {line}"
            found.append((int(match["line"]), match["message"]))
    return found


@pytest.fixture(autouse=True)
def _mypy_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYPYPATH", str(SRC))


@pytest.mark.parametrize("path", PASS, ids=lambda p: p.name)
def test_user_code_type_checks(path: Path, tmp_path: Path) -> None:
    errors = _mypy(path, tmp_path)
    assert not errors, "\n".join(f"{path.name}:{line}: {message}" for line, message in errors)


@pytest.mark.parametrize("path", FAIL, ids=lambda p: p.name)
def test_user_code_fails_exactly_where_marked(path: Path, tmp_path: Path) -> None:
    expected = {
        number: match["text"]
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if (match := _MARK.search(text)) is not None
    }
    assert expected, f"{path.name} marks no expected error"
    errors = _mypy(path, tmp_path)
    by_line: dict[int, list[str]] = {}
    for line, message in errors:
        by_line.setdefault(line, []).append(message)
    missing = {
        line: text
        for line, text in expected.items()
        if not any(text in message for message in by_line.get(line, []))
    }
    unexpected = {line: messages for line, messages in by_line.items() if line not in expected}
    assert not missing, f"{path.name}: marked, but mypy reports no such error: {missing}"
    assert not unexpected, f"{path.name}: mypy reports errors on unmarked lines: {unexpected}"


def test_both_kinds_of_file_exist() -> None:
    assert PASS
    assert FAIL
