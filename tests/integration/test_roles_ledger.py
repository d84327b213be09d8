"""A swarm run recorded in a real ledger verifies and replays into the job table."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors import ActorSystem
from actors.ledger import open_ledger
from actors.roles import (
    JOB_EVENTS,
    JobContext,
    JobSupervisor,
    SupervisorConfig,
    job_table_reducers,
    submit_job,
)
from tests.helpers import WAIT, wait_until
from tests.unit.actors.roles.swarm_helpers import Events, finals, job

pytestmark = pytest.mark.anyio


async def quick(ctx: JobContext) -> None:
    await asyncio.sleep(0)
    if ctx.job.job_id.endswith("7") and ctx.attempt == 1:
        raise RuntimeError("seven fails once")


async def test_a_run_verifies_and_replays_to_the_same_job_table() -> None:
    async with open_ledger() as ledger, ActorSystem("ledgered", ledger=ledger) as system:
        events: list[Any] = []
        listener = await system.spawn(Events, events)
        system.topics.subscribe(JOB_EVENTS, listener)
        sup = await system.spawn(
            JobSupervisor, {"*": quick}, SupervisorConfig(auto_acknowledge=True)
        )
        for i in range(20):
            await submit_job(sup, job(f"j{i}"))
        await wait_until(lambda: len(finals(events)) == 20, timeout=WAIT)
        await ledger.flush()
        report = await ledger.verify()
        assert report.ok, report
        state = (await ledger.replay(job_table_reducers())).state
        assert {job_id: row["state"] for job_id, row in state["jobs"].items()} == {
            f"j{i}": "completed" for i in range(20)
        }
        assert state["jobs"]["j7"]["attempt"] == 2
        assert state["jobs"]["j17"]["attempt"] == 2
        assert state["held"] == {}
        assert state["dispatches"] == 20


class _ListSink:
    """Any object with ``append_nowait`` is a :class:`actors.RecordSink`."""

    def __init__(self) -> None:
        self.records: list[tuple[str, object]] = []

    def append_nowait(self, kind: str, payload: object) -> object:
        self.records.append((kind, payload))
        return None


async def test_one_record_sink_serves_the_system_and_the_roles() -> None:
    import inspect

    import actors
    import actors.roles
    from actors.roles import Balancer

    assert actors.roles.RecordSink is actors.RecordSink
    for target in (ActorSystem.__init__, JobSupervisor.__init__, Balancer.__init__):
        annotation = inspect.signature(target).parameters["ledger"].annotation
        assert annotation == "RecordSink | None", (target, annotation)

    sink = _ListSink()
    async with ActorSystem("sunk", ledger=sink) as system:
        sup = await system.spawn(
            JobSupervisor, {"*": quick}, SupervisorConfig(auto_acknowledge=True)
        )
        await submit_job(sup, job("only"))
        await wait_until(
            lambda: any(
                kind == "roles.job" and isinstance(p, dict) and p.get("final")
                for kind, p in sink.records
            ),
            timeout=WAIT,
        )
    kinds = {kind for kind, _ in sink.records}
    assert {"roles.job", "roles.allocate", "roles.release", "roles.dispatch"} <= kinds
