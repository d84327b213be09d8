"""What the roles write to the ledger, and reducers that rebuild the job table from it.

================== ==================================================================
kind               payload
================== ==================================================================
``roles.dispatch`` task id, channel, score, cycle, queue slot, parent artifact, lineage digest,
                   quota breach, delay in cycles
``roles.defer``    task id, backlog, reason: a creative task deferred by the backlog cap
``roles.job``      job id, from state, to state, attempt, reason, tadpoles, channel
``roles.allocate`` job id, attempt, requested and granted amounts, weight, best effort
``roles.release``  job id, attempt, granted amounts
``roles.mitigate`` utilisation, tadpoles spawned, new thread budget
================== ==================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from .. import RecordSink
from ..ledger import Reducers

if TYPE_CHECKING:
    from ..ledger import Record

__all__ = [
    "ALLOCATE",
    "DEFER",
    "DISPATCH",
    "JOB",
    "MITIGATE",
    "RELEASE",
    "RecordSink",
    "append_record",
    "job_table_reducers",
]

logger = structlog.get_logger("actors.roles")

DISPATCH = "roles.dispatch"
DEFER = "roles.defer"
JOB = "roles.job"
ALLOCATE = "roles.allocate"
RELEASE = "roles.release"
MITIGATE = "roles.mitigate"


def append_record(sink: RecordSink | None, kind: str, payload: dict[str, Any]) -> None:
    """Append without waiting; a ledger that refuses is logged, never fatal to the role."""
    if sink is None:
        return
    try:
        sink.append_nowait(kind, payload)
    except Exception as exc:
        logger.warning("role_record_failed", kind=kind, error=repr(exc))


def job_table_reducers() -> Reducers[dict[str, Any]]:
    """Reducers (``roles.jobs``) rebuilding ``{"jobs": {id: {...}}, "held": {...}}``.

    ``jobs`` maps each job id to its last state and attempt; ``held`` maps each
    job holding an allocation to its granted amounts. Replaying a supervisor's
    ledger gives its job table and the allocations still outstanding.
    """
    reducers: Reducers[dict[str, Any]] = Reducers(
        "roles.jobs", initial=lambda: {"jobs": {}, "held": {}, "dispatches": 0}
    )

    @reducers.on(JOB)
    def _job(state: dict[str, Any], record: Record) -> dict[str, Any]:
        value = record.value()
        state["jobs"][value["job_id"]] = {"state": value["to"], "attempt": value["attempt"]}
        return state

    @reducers.on(ALLOCATE)
    def _allocate(state: dict[str, Any], record: Record) -> dict[str, Any]:
        value = record.value()
        state["held"][value["job_id"]] = value["granted"]
        return state

    @reducers.on(RELEASE)
    def _release(state: dict[str, Any], record: Record) -> dict[str, Any]:
        state["held"].pop(record.value()["job_id"], None)
        return state

    @reducers.on(DISPATCH)
    def _dispatch(state: dict[str, Any], record: Record) -> dict[str, Any]:
        state["dispatches"] += 1
        return state

    return reducers
