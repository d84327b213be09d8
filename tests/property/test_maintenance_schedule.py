"""Maintenance keeps its fixed-rate schedule on the system's clock, however time moves.

With ``maintenance_workers=0`` a run happens inside the tick, so the outcome
is exact and the property can be stated without any timing (times are
dyadic fractions, so that float sums are exact): whatever the
steps by which the clock is advanced, a periodic job runs once at each grid
point ``t0 + first_delay + k * interval`` passed, at that very point of the
system's clock, in order, and never otherwise; a job registered later or
cancelled midway follows its own grid.
"""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import ManualClock

from actors import ActorSystem

intervals = st.sampled_from([0.5, 1.0, 2.5, 7.0])
steps = st.lists(st.sampled_from([0.125, 0.5, 1.0, 2.0, 3.25, 10.0]), min_size=1, max_size=25)


def expected_grid(start: float, first: float, interval: float, end: float) -> list[float]:
    ticks: list[float] = []
    k = 0
    while (t := start + first + k * interval) <= end:
        ticks.append(t)
        k += 1
    return ticks


@settings(max_examples=60, deadline=None)
@given(interval=intervals, first_delay=st.sampled_from([None, 0.0, 0.25, 4.0]), steps=steps)
def test_an_inline_job_runs_once_at_every_grid_point_passed(
    interval: float, first_delay: float | None, steps: list[float]
) -> None:
    clock = ManualClock(start=0.0)
    seen: list[float] = []

    async def scenario() -> tuple[int, int]:
        async with ActorSystem("grid", clock=clock, maintenance_workers=0) as system:
            job = system.maintenance.every(
                "grid", interval, clock.now, first_delay=first_delay, on_result=seen.append
            )
            for step in steps:
                clock.advance(step)
            stats = job.statistics()
            return stats.runs, stats.skipped

    runs, skipped = asyncio.run(scenario())
    first = interval if first_delay is None else first_delay
    grid = expected_grid(0.0, first, interval, sum(steps))
    assert seen == grid
    assert runs == len(grid)
    assert skipped == 0


@settings(max_examples=40, deadline=None)
@given(interval=intervals, steps=steps, cancel_after=st.integers(min_value=0, max_value=25))
def test_a_cancelled_job_runs_no_more_and_a_second_job_keeps_its_own_grid(
    interval: float, steps: list[float], cancel_after: int
) -> None:
    clock = ManualClock(start=0.0)
    first_seen: list[float] = []
    second_seen: list[float] = []

    async def scenario() -> float:
        async with ActorSystem("two", clock=clock, maintenance_workers=0) as system:
            first = system.maintenance.every("a", interval, clock.now, on_result=first_seen.append)
            system.maintenance.every("b", 1.5, clock.now, on_result=second_seen.append)
            cancelled_at = float("inf")
            for i, step in enumerate(steps):
                if i == cancel_after:
                    first.cancel()
                    cancelled_at = clock.now()
                clock.advance(step)
            return cancelled_at

    cancelled_at = asyncio.run(scenario())
    end = sum(steps)
    assert first_seen == expected_grid(0.0, interval, interval, min(end, cancelled_at))
    assert second_seen == expected_grid(0.0, 1.5, 1.5, end)
