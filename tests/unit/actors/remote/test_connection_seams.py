"""A connection sees its node only through the ``NodeLink`` protocol.

The connection's modules never reach a private member of the node
(``node._anything``); what they use of it is declared once, in
``actors.remote._link.NodeLink``, and every such use names a member declared there.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from actors.remote._link import NodeLink

REMOTE = Path(__file__).resolve().parents[4] / "src" / "actors" / "remote"
CONNECTION_PARTS = [
    "_connection.py",
    "_reading.py",
    "_inbound.py",
    "_answering.py",
    "_answer.py",
    "_outbound.py",
    "_state.py",
]
DECLARED = set(NodeLink.__annotations__) | {
    name for name in vars(NodeLink) if not name.startswith("__")
}


def node_members(source: str) -> list[tuple[int, str]]:
    """``(line, member)`` for every ``<...>.node.member`` or ``node.member``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            owner = node.value
            named_node = (isinstance(owner, ast.Name) and owner.id == "node") or (
                isinstance(owner, ast.Attribute) and owner.attr == "node"
            )
            if named_node:
                found.append((node.lineno, node.attr))
    return found


@pytest.mark.parametrize("name", CONNECTION_PARTS)
def test_the_connection_uses_only_what_node_link_declares(name: str) -> None:
    members = node_members((REMOTE / name).read_text(encoding="utf-8"))
    private = [(line, m) for line, m in members if m.startswith("_")]
    assert not private, f"{name} reaches into the node's privates: {private}"
    undeclared = [(line, m) for line, m in members if m not in DECLARED]
    assert not undeclared, f"{name} uses node members NodeLink does not declare: {undeclared}"


def test_the_check_sees_a_private_reach() -> None:
    assert node_members("self.node._counters.x += 1") == [(1, "_counters")]
