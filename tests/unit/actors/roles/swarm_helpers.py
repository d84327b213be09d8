"""Shared helpers for the roles tests (not a test module)."""

from __future__ import annotations

from typing import Any

from actors import Actor
from actors.roles import JobEvent


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
