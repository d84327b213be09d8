"""The examples of docs/testing.md stay true: its Python blocks run, and their tests pass."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

PAGE = Path(__file__).resolve().parents[4] / "docs" / "testing.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_every_example_runs_and_its_tests_pass() -> None:
    blocks = BLOCK.findall(PAGE.read_text())
    assert len(blocks) >= 5
    namespace: dict[str, Any] = {"__name__": "docs_testing_page"}
    for block in blocks:  # in order: later examples use earlier definitions
        exec(compile(block, str(PAGE), "exec"), namespace)
    tests = [
        function
        for name, function in namespace.items()
        if name.startswith("test_") and inspect.isfunction(function)
    ]
    assert len(tests) >= 4
    for test in tests:
        test()


@pytest.mark.parametrize(
    "name", ["simulate", "seeds", "VirtualEventLoop", "Probe", "SimulationDeadlock"]
)
def test_the_page_covers_the_api(name: str) -> None:
    assert name in PAGE.read_text()
