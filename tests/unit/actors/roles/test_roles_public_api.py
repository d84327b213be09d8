"""Every public name of ``actors.roles`` says what it is: a docstring of its own."""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
from pathlib import Path

import actors.roles


def _attribute_docstrings(module_name: str) -> dict[str, str]:
    """Module-level ``NAME = value`` followed by a string: the attribute docstrings."""
    module = importlib.import_module(module_name)
    tree = ast.parse(Path(inspect.getfile(module)).read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    body = tree.body
    for node, following in itertools.pairwise(body):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            for target in targets:
                if isinstance(target, ast.Name):
                    found[target.id] = following.value.value
    return found


def _defining_modules() -> dict[str, str]:
    """Public name -> the private module ``actors.roles`` re-exports it from."""
    source = Path(inspect.getfile(actors.roles)).read_text(encoding="utf-8")
    origins: dict[str, str] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            for alias in node.names:
                origins[alias.asname or alias.name] = f"actors.roles.{node.module}"
    return origins


def test_every_public_role_name_has_a_docstring() -> None:
    origins = _defining_modules()
    missing = []
    for name in actors.roles.__all__:
        value = getattr(actors.roles, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            # The object's own docstring: not one inherited from Message or Struct.
            doc = vars(value).get("__doc__") if inspect.isclass(value) else value.__doc__
        else:
            doc = _attribute_docstrings(origins[name]).get(name)
        if not (doc and doc.strip()):
            missing.append(name)
    assert not missing, f"public names of actors.roles without a docstring: {missing}"


def test_every_role_message_is_defined_in_the_messages_module() -> None:
    from protocol import Message

    elsewhere = [
        name
        for name in actors.roles.__all__
        if inspect.isclass(getattr(actors.roles, name))
        and issubclass(getattr(actors.roles, name), Message)
        and getattr(actors.roles, name).__module__ != "actors.roles._messages"
    ]
    # Two stay with the pure modules that produce them (indexed in _messages).
    assert sorted(elsewhere) == ["Dispatched", "JobEvent"]
