"""A dashboard source and a metrics registry the tests fill themselves."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

pytest.importorskip("starlette", reason="the HTTP listener needs the http extra")

from actors.web import AlertRow, JobRow, MemberRow

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


@dataclasses.dataclass
class FakeSource:
    """A :class:`actors.web.DashboardSource` whose contents a test sets."""

    member_rows: list[MemberRow] = dataclasses.field(default_factory=list)
    values: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    alert_rows: list[AlertRow] = dataclasses.field(default_factory=list)
    job_rows: list[JobRow] = dataclasses.field(default_factory=list)

    def record(self, name: str, value: float) -> None:
        self.values.setdefault(name, []).append(value)

    def members(self) -> Sequence[MemberRow]:
        return self.member_rows

    def parameters(self) -> Mapping[str, float]:
        return {name: series[-1] for name, series in self.values.items() if series}

    def history(self, name: str) -> Sequence[float]:
        return self.values.get(name, [])

    def alerts(self) -> Sequence[AlertRow]:
        return self.alert_rows

    def jobs(self) -> Sequence[JobRow]:
        return self.job_rows


def calm_source() -> FakeSource:
    source = FakeSource(
        member_rows=[MemberRow("n1", "tcp://127.0.0.1:7001"), MemberRow("n2", "tcp://h:2", "up")],
        job_rows=[JobRow("job-1", "running", "3/10 tasks")],
    )
    for value in (0.1, 0.2, 0.15, 0.3):
        source.record("message_rate_variance", value)
    for value in (1.0, 1.0, 2.0):
        source.record("queue_oscillation", value)
    return source


ALERT = AlertRow(
    "queue_oscillation",
    "critical",
    9.5,
    5.0,
    "queue oscillation 9.5 is over 5",
    1_700_000_000.0,
)
