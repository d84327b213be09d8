"""The failure-detection examples of docs/cluster.md stay true."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

PAGE = Path(__file__).resolve().parents[4] / "docs" / "cluster.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def section(title: str) -> str:
    text = PAGE.read_text()
    start = text.index(f"### {title}\n")
    end = text.find("\n#", start + 1)
    return text[start : end if end != -1 else None]


def test_the_failure_detection_example_runs() -> None:
    blocks = BLOCK.findall(section("Failure detection"))
    assert blocks
    for block in blocks:
        namespace: dict[str, Any] = {"__name__": "docs_cluster_page", "pytest": pytest}
        exec(compile(block, str(PAGE), "exec"), namespace)


@pytest.mark.parametrize(
    "name",
    ["acceptable_pause", "min_std_deviation", "membership_task_failed", "task_failures"],
)
def test_the_section_covers(name: str) -> None:
    assert name in section("Failure detection")
