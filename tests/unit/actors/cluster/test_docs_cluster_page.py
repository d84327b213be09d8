"""docs/cluster.md explains the failure detector's settings and supervision.

(tests/docs runs and type-checks the page's examples.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[4] / "docs" / "cluster.md"


def section(title: str) -> str:
    text = PAGE.read_text()
    start = text.index(f"### {title}\n")
    end = text.find("\n#", start + 1)
    return text[start : end if end != -1 else None]


@pytest.mark.parametrize(
    "name",
    ["acceptable_pause", "min_std_deviation", "membership_task_failed", "task_failures"],
)
def test_the_section_covers(name: str) -> None:
    assert name in section("Failure detection")
