"""The runtime reads time and randomness only through its seams (see ARCHITECTURE.md).

No module under ``src/actors`` calls the wall or monotonic clock, sleeps, or
draws from the ``random`` module's hidden global generator; they go through
the system's :class:`~actors.Clock` and its seeded ``random.Random``. Only the
clock implementation (``actors/_clock.py``) and the testing package may.
The check parses the source with :mod:`ast` and follows import aliases.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import actors

SRC = Path(actors.__file__).parent
EXEMPT = (SRC / "_clock.py", SRC / "testing")

FORBIDDEN = frozenset(
    {
        "time.monotonic",
        "time.monotonic_ns",
        "time.time",
        "time.time_ns",
        "time.perf_counter",
        "time.perf_counter_ns",
        "time.sleep",
        "asyncio.sleep",
        "anyio.sleep",
        "anyio.sleep_until",
        "anyio.current_time",
    }
)
"""Time, read or waited on directly instead of through the clock."""

RANDOM_ALLOWED = frozenset({"random.Random"})
"""From ``random`` only the seedable class; its functions share one unseeded generator."""


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> dotted name it was imported as, for every import in the module."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    names[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    return ".".join([aliases[node.id], *reversed(parts)])


def _is_forbidden(name: str) -> bool:
    if name in FORBIDDEN:
        return True
    module, _, attr = name.partition(".")
    return module == "random" and bool(attr) and name not in RANDOM_ALLOWED


def seam_violations(source: str, filename: str = "<source>") -> list[str]:
    """``file:line: name`` for every use of a forbidden time or randomness function."""
    tree = ast.parse(source, filename)
    aliases = _aliases(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) or (
            isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
        ):
            name = _dotted(node, aliases)
            if name is not None and _is_forbidden(name):
                found.append(f"{filename}:{node.lineno}: {name}")
    for node in ast.walk(tree):
        # `from time import monotonic` is a use even before it is called.
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                if _is_forbidden(name):
                    found.append(f"{filename}:{node.lineno}: {name}")
    return sorted(set(found))


def _runtime_modules() -> list[Path]:
    return sorted(
        path
        for path in SRC.rglob("*.py")
        if not any(path == exempt or exempt in path.parents for exempt in EXEMPT)
    )


def test_the_runtime_reads_time_and_randomness_only_through_its_seams() -> None:
    violations: list[str] = []
    for path in _runtime_modules():
        violations += seam_violations(path.read_text(), str(path.relative_to(SRC.parent)))
    assert not violations, "direct time/randomness calls outside the seams:\n" + "\n".join(
        violations
    )


def test_the_check_covers_the_runtime_and_only_exempts_what_exists() -> None:
    modules = {path.relative_to(SRC).as_posix() for path in _runtime_modules()}
    assert {"_system.py", "_cell.py", "_timers.py", "_ref.py", "supervision/_engine.py"} <= modules
    assert not any(name.startswith("testing/") or name == "_clock.py" for name in modules)
    assert all(exempt.exists() for exempt in EXEMPT)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import time\nt = time.monotonic()", ["time.monotonic"]),
        ("import time as t\nx = t.time()", ["time.time"]),
        ("from time import perf_counter as pc\nx = pc()", ["time.perf_counter"]),
        ("import asyncio\nasync def f():\n    await asyncio.sleep(1)", ["asyncio.sleep"]),
        ("import anyio\nasync def f():\n    await anyio.sleep(1)", ["anyio.sleep"]),
        ("import random\nx = random.random()", ["random.random"]),
        ("import random\nx = random.choice([1, 2])", ["random.choice"]),
        ("from random import shuffle\nshuffle([])", ["random.shuffle"]),
        ("import random as r\nr.SystemRandom().random()", ["random.SystemRandom"]),
        ("import time\nclock = time.monotonic", ["time.monotonic"]),
    ],
)
def test_the_check_finds_direct_calls_through_any_alias(source: str, expected: list[str]) -> None:
    found = [line.split(": ", 1)[1] for line in seam_violations(source)]
    assert sorted(set(found)) == expected


@pytest.mark.parametrize(
    "source",
    [
        "import random\nrng = random.Random(42)\nx = rng.random()",
        "from random import Random\nx: Random = Random(1)",
        "import asyncio\nasync def f(loop):\n    await asyncio.wait([], timeout=1)",
        "async def f(clock):\n    await clock.sleep(1)\n    return clock.now()",
        "def f(rng):\n    return rng.choice([1, 2])",
    ],
)
def test_the_check_accepts_the_seams(source: str) -> None:
    assert seam_violations(source) == []
