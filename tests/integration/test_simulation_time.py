"""Time-based behaviour of the runtime on virtual time, with exact expectations.

Each test runs a scenario with :func:`actors.testing.simulate`: timers, ask
timeouts, restart backoff, restart intensity and shutdown timeouts all read
the loop's clock, which jumps to the next timer whenever every task waits.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any, ClassVar

import pytest

from actors import (
    Actor,
    ActorRef,
    AskTimeout,
    Backoff,
    SupervisorFlags,
)
from actors.testing import Probe, Simulation, simulate
from protocol import Message

HOUR = 3600.0


class Tick(Message, tag="test.simtime.tick"):
    pass


class Metronome(Actor[Any]):
    """Records the virtual time of every tick of its periodic timer."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.ticks: list[float] = []

    async def on_start(self) -> None:
        self.context.timers.send_periodically(self.interval, Tick())

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Tick):
            self.ticks.append(self.context.system.clock.now())
            return None
        return list(self.ticks)


def test_an_hour_of_periodic_timers_passes_in_under_a_second_with_every_tick() -> None:
    intervals = (1.0, 7.5, 60.0)

    async def scenario(sim: Simulation) -> list[list[float]]:
        async with sim.system("metronomes") as system:
            refs = [await system.spawn(Metronome, interval) for interval in intervals]
            await sim.sleep(HOUR + 0.5)
            return [await ref.ask("ticks", timeout=1.0) for ref in refs]

    started = time.perf_counter()
    result = simulate(scenario, seed=1)
    real = time.perf_counter() - started

    assert real < 1.0, f"one virtual hour took {real:.2f}s of real time"
    for interval, ticks in zip(intervals, result.value, strict=True):
        expected = int(HOUR / interval)
        assert len(ticks) == expected
        # Fixed rate, no drift: tick n lands exactly at n * interval.
        assert ticks == [n * interval for n in range(1, expected + 1)]
    assert result.deliveries == 3600 + 480 + 60 + 3


class Busy(Actor[Any]):
    """Takes ``work`` virtual seconds per message; replies with what it handled."""

    def __init__(self, work: float) -> None:
        self.work = work

    async def receive(self, message: Any) -> Any:
        await self.context.system.clock.sleep(self.work)
        return message


def test_an_ask_times_out_exactly_after_its_timeout_and_is_then_not_delivered() -> None:
    async def scenario(sim: Simulation) -> tuple[float, float, Any]:
        async with sim.system("asks") as system:
            busy = await system.spawn(Busy, 10.0, name="busy")
            await sim.sleep(5.0)
            first = asyncio.create_task(busy.ask("first", timeout=60.0))
            await asyncio.sleep(0)
            start = sim.now()
            with pytest.raises(AskTimeout):
                await busy.ask("late", timeout=2.5)  # queued behind "first"
            timed_out_at = sim.now() - start
            answer = await first
            answered_at = sim.now()
            return timed_out_at, answered_at, answer

    result = simulate(scenario, seed=1, keep_trace=True)
    timed_out_after, answered_at, answer = result.value
    assert timed_out_after == 2.5
    assert (answered_at, answer) == (15.0, "first")
    # The expired ask was dropped from the mailbox: never handed to receive.
    assert [d.message for d in result.trace] == ['"first"']


class Crash(Message, tag="test.simtime.crash"):
    pass


class Started(Message, tag="test.simtime.started"):
    at: float
    restart_count: int


class Crashed(Message, tag="test.simtime.crashed"):
    at: float


class Fragile(Actor[Any]):
    """Reports each start to a probe; fails on Crash, reporting when."""

    def __init__(self, probe: ActorRef[Any]) -> None:
        self.probe = probe

    async def on_start(self) -> None:
        now = self.context.system.clock.now()
        self.probe.tell(Started(at=now, restart_count=self.context.restart_count))

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Crash):
            self.probe.tell(Crashed(at=self.context.system.clock.now()))
            raise RuntimeError("crash")
        return None


class Supervisor(Actor[Any]):
    """Starts one Fragile child under the flags it is given."""

    supervisor_flags: ClassVar[SupervisorFlags]

    def __init__(self, probe: ActorRef[Any]) -> None:
        self.probe = probe

    async def on_start(self) -> None:
        self.child = await self.context.spawn(Fragile, self.probe, name="fragile")

    async def receive(self, message: Any) -> Any:
        return self.child


def supervisor_with(flags: SupervisorFlags) -> type[Supervisor]:
    return type("Supervising", (Supervisor,), {"supervisor_flags": flags})


async def crash_and_restart(
    sim: Simulation, flags: SupervisorFlags, crashes: int, spacing: float = 0.0
) -> list[tuple[float, Started]]:
    """Crash the child ``crashes`` times; return when it crashed and how it came back."""
    async with sim.system("sup") as system:
        probe = await Probe.start(system)
        parent = await system.spawn(supervisor_with(flags), probe.ref, name="parent")
        await probe.expect(Started, timeout=1.0)
        restarts = []
        for _ in range(crashes):
            await sim.sleep(spacing)
            child = await parent.ask("child", timeout=1.0)
            child.tell(Crash())
            crashed = await probe.expect(Crashed, timeout=1.0)
            restarts.append((crashed.at, await probe.expect(Started, timeout=60.0)))
        return restarts


def test_a_restart_with_a_backoff_of_0_4_s_happens_exactly_0_4_virtual_seconds_later() -> None:
    flags = SupervisorFlags(backoff=Backoff(initial=0.4, factor=2.0, jitter=0.0), intensity=10)

    async def scenario(sim: Simulation) -> list[tuple[float, Started]]:
        return await crash_and_restart(sim, flags, crashes=3)

    restarts = simulate(scenario, seed=1).value
    assert restarts[0] == (0.0, Started(at=0.4, restart_count=1))
    # Exponential: 0.4, 0.8, 1.6 after each failure (the same float sums as the runtime's).
    for (crashed, started), delay in zip(restarts, (0.4, 0.8, 1.6), strict=True):
        assert started.at == crashed + delay


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_jittered_backoff_is_exactly_what_the_seed_draws(seed: int) -> None:
    backoff = Backoff(initial=0.4, factor=2.0, jitter=0.5)
    flags = SupervisorFlags(backoff=backoff, intensity=10)

    async def scenario(sim: Simulation) -> list[tuple[float, Started]]:
        return await crash_and_restart(sim, flags, crashes=4)

    restarts = simulate(scenario, seed=seed).value
    # The system's stream derives from the seed; backoff jitter is its only user here.
    rng = random.Random(f"{seed}/system/sup/1")
    delays = [backoff.delay(attempt, rng) for attempt in range(1, 5)]
    assert [started.at for _, started in restarts] == [
        crashed + delay for (crashed, _), delay in zip(restarts, delays, strict=True)
    ]
    assert len(set(delays)) == 4
    assert simulate(scenario, seed=seed).value == restarts


def test_restarts_older_than_the_intensity_period_are_forgotten() -> None:
    flags = SupervisorFlags(backoff=Backoff(initial=0.0, jitter=0.0), intensity=2, period=10.0)

    async def spaced(sim: Simulation) -> list[tuple[float, Started]]:
        # A crash every 5.5 s: never more than 2 restarts within any 10 s.
        return await crash_and_restart(sim, flags, crashes=6, spacing=5.5)

    restarts = simulate(spaced, seed=1).value
    assert [started.restart_count for _, started in restarts] == [1, 2, 3, 4, 5, 6]
    assert [started.at for _, started in restarts] == [5.5 * n for n in range(1, 7)]


def test_a_supervisor_that_gives_up_is_restarted_after_the_seeded_guardian_backoff() -> None:
    flags = SupervisorFlags(backoff=Backoff(initial=0.0, jitter=0.0), intensity=2, period=10.0)

    async def bunched(sim: Simulation) -> list[tuple[float, Started]]:
        # A crash every 4.5 s: the third lands within 10 s of the other two.
        return await crash_and_restart(sim, flags, crashes=3, spacing=4.5)

    restarts = simulate(bunched, seed=1).value
    assert [started.restart_count for _, started in restarts] == [1, 2, 0]
    crashed, fresh = restarts[2]
    assert crashed == 13.5
    # The parent gave up and failed; /user restarted it (a fresh child) after
    # the default backoff, drawn from the system's seeded stream. The child's
    # own backoff has no jitter, so that was the stream's first draw.
    guardian_delay = SupervisorFlags().backoff.delay(1, random.Random("1/system/sup/1"))
    assert guardian_delay > 0
    assert fresh.at == crashed + guardian_delay


class Stubborn(Actor[Any]):
    """Never finishes a message: stopping it waits for the shutdown timeout, then kills it."""

    async def receive(self, message: Any) -> Any:
        await asyncio.get_running_loop().create_future()


def test_stopping_a_stuck_actor_waits_exactly_its_shutdown_timeout() -> None:
    async def scenario(sim: Simulation) -> float:
        async with sim.system("stop") as system:
            stuck = await system.spawn(Stubborn, shutdown=3.0)
            stuck.tell("work forever")
            await sim.sleep(1.0)
            start = sim.now()
            await system.stop(stuck)
            return sim.now() - start

    assert simulate(scenario, seed=1).value == 3.0
