"""Maintenance keeps its schedule while the pool is saturated and the loop is busy.

A deep backlog of one-off jobs (each sleeps, so the backlog lasts at least
BACKLOG * JOB / workers seconds however fast the machine is) fills the pool's
queue, and two actors bounce messages without pause on the event loop. A
periodic job registered *after* the backlog must still run on its schedule:
its ticks go to the pool's urgent queue, so each waits for at most one
running job, not for the backlog. The assertions count and order, they do
not time: the ticks must run while most of the earlier backlog still waits.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from actors import Actor, ActorRef, ActorSystem, SystemShutdown
from tests.helpers import WAIT

pytestmark = pytest.mark.anyio

BACKLOG = 1000
JOB = 0.002  # seconds: with 2 workers the backlog lasts at least one second
TICKS = 5


class Rally(Actor[Any]):
    """Passes a ball to its peer forever: traffic that keeps the event loop busy."""

    def __init__(self, rallies: list[int]) -> None:
        self.rallies = rallies
        self.peer: ActorRef[Any] | None = None

    async def receive(self, message: Any) -> Any:
        if isinstance(message, ActorRef):
            self.peer = message
            return None
        self.rallies[0] += 1
        if self.peer is not None:
            self.peer.tell(message + 1)
        return None


async def test_periodic_maintenance_runs_on_schedule_through_a_saturated_pool_and_busy_loop() -> (
    None
):
    lock = threading.Lock()
    finished = [0]

    def one_off() -> None:
        time.sleep(JOB)  # a blocking call, as maintenance jobs are
        with lock:
            finished[0] += 1

    def probe() -> int:
        with lock:
            return finished[0]

    rallies = [0]
    seen: list[tuple[int, int]] = []  # (one-offs finished at the run, rallies at delivery)
    enough = asyncio.Event()

    def on_result(done: int) -> None:
        seen.append((done, rallies[0]))
        if len(seen) == TICKS:
            enough.set()

    async with ActorSystem("load", maintenance_workers=2) as system:
        a = await system.spawn(Rally, rallies)
        b = await system.spawn(Rally, rallies)
        a.tell(b)
        b.tell(a)
        a.tell(0)
        backlog = [asyncio.ensure_future(system.maintenance.run(one_off)) for _ in range(BACKLOG)]
        await asyncio.sleep(0)  # every one-off job is submitted before the periodic job
        job = system.maintenance.every("probe", 0.01, probe, first_delay=0.0, on_result=on_result)
        await asyncio.wait_for(enough.wait(), WAIT * 6)
        stats = job.statistics()
    outcomes = await asyncio.gather(*backlog, return_exceptions=True)

    # Every tick ran while most of the backlog queued before it still waited.
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1][0] < BACKLOG // 2, seen
    # The loop kept serving actor traffic between the ticks' results.
    assert seen[-1][1] > seen[0][1]
    assert stats.failures == 0
    assert stats.runs >= TICKS
    # Whatever the shutdown found still queued was cancelled and said so.
    assert all(o is None or isinstance(o, SystemShutdown) for o in outcomes)
    assert any(isinstance(o, SystemShutdown) for o in outcomes)
