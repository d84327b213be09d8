"""The wire lives in ``protocol``: no module of ``actors.remote`` spells a byte of it.

Frame headers, envelopes, runs of tells and the handshake's messages are built
and parsed by named functions of :mod:`protocol` and :mod:`protocol.wire`.
This test reads the source of every module under ``src/actors/remote/`` and
fails on a non-empty bytes literal, an import of ``struct``, or any use of
``msgspec.msgpack`` (an encoder or decoder of its own), so the rule stays kept.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REMOTE = Path(__file__).resolve().parents[4] / "src" / "actors" / "remote"
MODULES = sorted(REMOTE.glob("*.py"))


def violations(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, bytes) and node.value:
            found.append(f"{where}: bytes literal {node.value!r}")
        elif isinstance(node, ast.Import):
            found.extend(
                f"{where}: import {alias.name}"
                for alias in node.names
                if alias.name == "struct" or alias.name.startswith("msgspec.msgpack")
            )
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = {alias.name for alias in node.names}
            if module == "struct" or module.startswith("msgspec.msgpack"):
                found.append(f"{where}: from {module} import ...")
            elif module == "msgspec" and "msgpack" in names:
                found.append(f"{where}: from msgspec import msgpack")
        elif (
            isinstance(node, ast.Attribute)
            and node.attr == "msgpack"
            and isinstance(node.value, ast.Name)
            and node.value.id == "msgspec"
        ):
            found.append(f"{where}: msgspec.msgpack")
    return found


def test_the_remote_package_has_modules_to_check() -> None:
    assert len(MODULES) > 5


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_no_remote_module_spells_wire_bytes(path: Path) -> None:
    found = violations(path.read_text(encoding="utf-8"))
    assert not found, f"{path.name} builds or parses wire bytes itself: {found}"


@pytest.mark.parametrize(
    "source",
    [
        'HEAD = b"\\x93\\x05"',
        "import struct",
        "from struct import Struct",
        "import msgspec\nmsgspec.msgpack.Encoder()",
        "from msgspec import msgpack",
        "import msgspec.msgpack",
    ],
)
def test_the_check_catches_each_way_of_spelling_bytes(source: str) -> None:
    assert violations(source)


def test_the_check_allows_an_empty_buffer_and_plain_msgspec() -> None:
    assert not violations('import msgspec\nrest = b""\nclass C(msgspec.Struct): pass')
