"""Hypothesis: every submitted job ends exactly once, under random tadpole crashes."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from tests.unit.actors.roles.swarm_helpers import Events, finals, job

from actors import Backoff
from actors.roles import (
    JOB_EVENTS,
    Crash,
    GetStatistics,
    GetTadpoles,
    JobContext,
    JobSupervisor,
    SupervisorConfig,
    submit_job,
)
from actors.testing import Simulation, seeds, simulate

JOBS = 40


def scenario_for(active: dict[str, int], overlaps: list[str]) -> Any:
    async def handler(ctx: JobContext) -> None:
        job_id = ctx.job.job_id
        if active.get(job_id):
            overlaps.append(job_id)
        active[job_id] = active.get(job_id, 0) + 1
        try:
            await asyncio.sleep(float(ctx.job.metadata["seconds"]))
            if ctx.job.metadata["flaky"] and ctx.attempt == 1:
                raise RuntimeError("flaky")
        finally:
            active[job_id] -= 1

    async def scenario(sim: Simulation) -> tuple[dict[str, int], int]:
        rng = sim.random_for("workload")
        async with sim.system("chaos") as system:
            events: list[Any] = []
            listener = await system.spawn(Events, events)
            system.topics.subscribe(JOB_EVENTS, listener)
            config = SupervisorConfig(
                max_attempts=3,
                retry_backoff=Backoff(initial=0.05, jitter=0.5),
                auto_acknowledge=True,
            )
            sup = await system.spawn(JobSupervisor, {"*": handler}, config)
            for i in range(JOBS):
                metadata = {"seconds": rng.uniform(0.1, 1.5), "flaky": rng.random() < 0.2}
                await submit_job(sup, job(f"j{i}", metadata=metadata))
            crashes = 0
            for _ in range(rng.randint(1, 8)):
                await sim.sleep(rng.uniform(0.05, 1.0))
                pods = await sup.ask(GetTadpoles(), timeout=1.0)
                busy = [pod for pod in pods if pod.running] or list(pods)
                victim = rng.choice(busy)
                system.lookup(victim.path).tell(Crash("chaos"))
                crashes += 1
            for _ in range(600):
                stats = await sup.ask(GetStatistics(), timeout=1.0)
                if stats.unread == JOBS:
                    break
                await sim.sleep(0.1)
            return finals(events), crashes

    return scenario


@settings(max_examples=12, deadline=None)
@given(seed=seeds())
def test_every_job_ends_exactly_once_under_tadpole_crashes(seed: int) -> None:
    active: dict[str, int] = {}
    overlaps: list[str] = []
    result = simulate(scenario_for(active, overlaps), seed=seed)
    counts, crashes = result.value
    assert crashes >= 1
    assert counts == {f"j{i}": 1 for i in range(JOBS)}  # none lost, none twice
    assert overlaps == []  # no attempt ran while another of the same job did
