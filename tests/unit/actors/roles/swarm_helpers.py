"""Shared helpers for the roles tests (not a test module)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors import Actor
from actors.roles import Channel, JobEvent, JobState, JobView

if TYPE_CHECKING:
    from actors.roles._entries import JobRecord
    from actors.roles._errors import InvalidJob
    from actors.roles._table import JobTable


def job(job_id: str, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "job_id": job_id,
        "objective": "work",
        "requested_resources": {"compute_units": 4, "memory_mb": 512, "bandwidth_mbps": 100},
        "tadpole_count": 1,
    }
    data.update(overrides)
    return data


class ListSink:
    """A ledger stand-in that keeps what was appended."""

    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []

    def append_nowait(self, kind: str, payload: object) -> object:
        assert isinstance(payload, dict)
        self.records.append((kind, payload))
        return None

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [payload for k, payload in self.records if k == kind]


class Events(Actor[Any]):
    """Collects job events (and anything else published to it) with their arrival order."""

    def __init__(self, sink: list[Any]) -> None:
        self.sink = sink

    async def receive(self, message: Any) -> Any:
        self.sink.append(message)


def finals(events: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        if isinstance(event, JobEvent) and event.final and event.state != "rejected":
            counts[event.job_id] = counts.get(event.job_id, 0) + 1
    return counts


class TableEffectsLog:
    """A job table's effects that record what it asks; admission dispatches at once."""

    def __init__(self) -> None:
        self.table: JobTable | None = None
        self.changes: list[tuple[str, str | None, str, bool]] = []
        self.settled_views: list[JobView] = []
        self.rejections: list[str] = []
        self.schedules = 0

    def changed(
        self,
        job: JobRecord,
        previous: JobState | None,
        reason: str,
        final: bool,
        extra: dict[str, Any] | None,
    ) -> None:
        self.changes.append(
            (job.spec.job_id, None if previous is None else previous.value, job.state.value, final)
        )

    def rejected(self, job_id: str, error: InvalidJob) -> None:
        self.rejections.append(job_id)

    def settled(self, job: JobRecord, view: JobView) -> None:
        self.settled_views.append(view)

    def abort(self, job: JobRecord, reason: str) -> None:
        assert self.table is not None
        job.shards.clear()
        self.table.fail(job, reason, 0.0, retry=False)

    def admit(self) -> None:
        table = self.table
        assert table is not None
        while table.intake:
            job_id = table.intake.popleft()
            table.jobs[job_id].admitted = True
            table.dispatched(job_id, Channel.STRICT, None)

    def schedule(self) -> None:
        self.schedules += 1
