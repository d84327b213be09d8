"""system.maintenance: the system's pool, its lifetime, periodic and one-off jobs."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from actors import Actor, ActorSystem, SystemNotRunning, SystemShutdown
from actors.testing import Simulation, simulate
from scheduler import DuplicateJobName, SchedulerConfigError
from tests.helpers import WAIT, ManualClock, wait_until

pytestmark = pytest.mark.anyio


def maintenance_threads(system_name: str) -> list[threading.Thread]:
    prefix = f"{system_name}-maintenance-worker-"
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


class Collector:
    """Results delivered on the loop; ``wait(n)`` waits for the n-th with a failing timeout."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.threads: list[str] = []
        self._changed = asyncio.Event()

    def __call__(self, value: Any) -> None:
        self.values.append(value)
        self.threads.append(threading.current_thread().name)
        self._changed.set()

    async def wait(self, count: int) -> None:
        async with asyncio.timeout(WAIT):
            while len(self.values) < count:
                self._changed.clear()
                await self._changed.wait()


# -- the pool's lifetime -----------------------------------------------------------


async def test_a_system_that_runs_no_job_starts_no_thread() -> None:
    before = set(threading.enumerate())
    async with ActorSystem("lazy") as system:
        assert set(threading.enumerate()) == before
        assert not system.maintenance.started
        assert system.maintenance.statistics().pool is None
    assert set(threading.enumerate()) == before


async def test_the_pool_starts_on_first_use_and_no_thread_outlives_the_system() -> None:
    async with ActorSystem("joined", maintenance_workers=3) as system:
        assert await system.maintenance.run(sum, [1, 2, 3]) == 6
        assert system.maintenance.started
        assert len(maintenance_threads("joined")) == 3
        stats = system.maintenance.statistics()
        assert stats.workers == 3
        assert stats.pool is not None
        assert stats.pool.submitted == 1
    assert maintenance_threads("joined") == []


async def test_the_default_pool_has_two_workers() -> None:
    async with ActorSystem("default") as system:
        assert system.maintenance.workers == 2
        await system.maintenance.run(int)
        assert len(maintenance_threads("default")) == 2


@pytest.mark.parametrize(
    ("workers", "error", "message"),
    [
        (-1, ValueError, "maintenance_workers must be >= 0, got -1"),
        (True, TypeError, "maintenance_workers must be an int, got True"),
        ("2", TypeError, "maintenance_workers must be an int, got '2'"),
        (1.5, TypeError, "maintenance_workers must be an int, got 1.5"),
    ],
)
def test_a_bad_worker_count_is_refused_naming_it(
    workers: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ActorSystem("bad", maintenance_workers=workers)


async def test_maintenance_is_refused_before_the_system_runs_and_after_it_stopped() -> None:
    system = ActorSystem("closed")
    with pytest.raises(SystemNotRunning, match="not running"):
        system.maintenance.every("job", 1.0, int)
    with pytest.raises(SystemNotRunning, match="not running"):
        await system.maintenance.run(int)
    async with system:
        pass
    with pytest.raises(SystemNotRunning, match="shut down"):
        system.maintenance.every("job", 1.0, int)
    with pytest.raises(SystemNotRunning, match="shut down"):
        await system.maintenance.run(int)


# -- one-off jobs ------------------------------------------------------------------


async def test_a_one_off_job_runs_on_a_worker_and_its_exception_reaches_the_awaiter() -> None:
    async with ActorSystem("once") as system:
        name = await system.maintenance.run(lambda: threading.current_thread().name)
        assert name.startswith("once-maintenance-worker-")
        with pytest.raises(ZeroDivisionError):
            await system.maintenance.run(lambda: 1 / 0)
        assert await system.maintenance.run(int, "12", base=8) == 10


async def test_a_job_still_queued_at_shutdown_fails_its_awaiter_with_system_shutdown() -> None:
    entered, release = threading.Event(), threading.Event()

    def block() -> str:
        entered.set()
        assert release.wait(WAIT)
        return "finished"

    system = ActorSystem("queued", maintenance_workers=1)
    async with system:
        running = asyncio.ensure_future(system.maintenance.run(block))
        await asyncio.to_thread(entered.wait, WAIT)
        queued = asyncio.ensure_future(system.maintenance.run(int, "1"))
        await asyncio.sleep(0)  # the queued job is submitted
        stopping = asyncio.ensure_future(system.shutdown())
        with pytest.raises(SystemShutdown, match="shut down before the job ran"):
            await asyncio.wait_for(queued, WAIT)
        release.set()  # the running job always finishes
        await asyncio.wait_for(stopping, WAIT)
    assert await running == "finished"
    assert maintenance_threads("queued") == []


class UsesMaintenanceWhenStopping(Actor[Any]):
    def __init__(self, results: list[int]) -> None:
        self.results = results

    async def receive(self, message: Any) -> Any:
        return None

    async def on_stop(self) -> None:
        self.results.append(await self.context.system.maintenance.run(int, "7"))


async def test_actors_stop_hooks_may_still_run_maintenance_jobs() -> None:
    results: list[int] = []
    async with ActorSystem("hooks") as system:
        await system.spawn(UsesMaintenanceWhenStopping, results)
    assert results == [7]
    assert maintenance_threads("hooks") == []


# -- periodic jobs -----------------------------------------------------------------


async def test_a_periodic_job_runs_on_the_systems_clock_and_its_results_come_back_on_the_loop() -> (
    None
):
    clock = ManualClock()
    collect = Collector()
    async with ActorSystem("ticks", clock=clock) as system:
        job = system.maintenance.every(
            "rollup", 10.0, lambda: threading.current_thread().name, on_result=collect
        )
        clock.advance(9.0)
        assert job.statistics().runs == 0
        for n in range(1, 4):
            clock.advance(1.0 if n == 1 else 10.0)
            await collect.wait(n)
        stats = job.statistics()
        assert (stats.runs, stats.failures, stats.skipped) == (3, 0, 0)
        assert stats.next_due == clock.now() + 10.0
        assert all(v.startswith("ticks-maintenance-worker-") for v in collect.values)
        assert collect.threads == [threading.current_thread().name] * 3  # on the loop


async def test_a_failing_periodic_job_is_logged_counted_and_keeps_its_schedule(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    collect = Collector()
    calls = iter([RuntimeError("first run fails"), "second", "third"])

    def flaky() -> str:
        outcome = next(calls)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    caplog.set_level(logging.ERROR, logger="scheduler")
    async with ActorSystem("flaky", clock=clock) as system:
        job = system.maintenance.every("flaky", 5.0, flaky, on_result=collect)
        clock.advance(5.0)
        await wait_until(lambda: job.statistics().runs == 1)
        clock.advance(5.0)
        await collect.wait(1)
        clock.advance(5.0)
        await collect.wait(2)
        stats = job.statistics()
        assert (stats.runs, stats.failures, stats.cancelled) == (3, 1, False)
        assert collect.values == ["second", "third"]
    failures = [r for r in caplog.records if r.getMessage() == "periodic_job_failed"]
    assert [getattr(r, "job_id", None) for r in failures] == ["flaky"]


async def test_a_failing_result_callback_is_counted_and_the_job_goes_on() -> None:
    clock = ManualClock()
    collect = Collector()

    def apply(value: int) -> None:
        collect(value)
        if value == 1:
            raise ValueError("cannot apply")

    counter = iter(range(1, 10))
    async with ActorSystem("apply", clock=clock) as system:
        job = system.maintenance.every("count", 1.0, lambda: next(counter), on_result=apply)
        clock.advance(1.0)
        await collect.wait(1)
        clock.advance(1.0)
        await collect.wait(2)
        assert collect.values == [1, 2]
        assert job.result_failures == 1
        assert system.maintenance.statistics().result_failures == 1


async def test_a_cancelled_job_runs_no_more_and_frees_its_name() -> None:
    clock = ManualClock()
    collect = Collector()
    async with ActorSystem("cancel", clock=clock) as system:
        job = system.maintenance.every("job", 1.0, lambda: "old", on_result=collect)
        clock.advance(1.0)
        await collect.wait(1)
        assert job.cancel() is True
        assert job.cancel() is False
        assert clock.pending == 0  # no timer left for it
        again = system.maintenance.every("job", 1.0, lambda: "new", on_result=collect)
        clock.advance(1.0)
        await collect.wait(2)
        assert collect.values == ["old", "new"]
        assert job.statistics().runs == 1
        assert again.statistics().runs == 1


async def test_bad_periodic_jobs_are_refused_naming_the_value() -> None:
    async with ActorSystem("refuse") as system:
        with pytest.raises(SchedulerConfigError, match="interval of periodic job 'j'"):
            system.maintenance.every("j", 0.0, int)
        with pytest.raises(SchedulerConfigError, match="first_delay of periodic job 'j'"):
            system.maintenance.every("j", 1.0, int, first_delay=-1.0)
        with pytest.raises(SchedulerConfigError, match="name must be a non-empty string"):
            system.maintenance.every("", 1.0, int)
        with pytest.raises(TypeError, match="fn of maintenance job 'j' must be callable, got 5"):
            system.maintenance.every("j", 1.0, 5)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="on_result of maintenance job 'j' must be callable"):
            system.maintenance.every("j", 1.0, int, on_result=3)  # type: ignore[arg-type]
        system.maintenance.every("j", 1.0, int)
        with pytest.raises(DuplicateJobName, match="'j' is already registered"):
            system.maintenance.every("j", 2.0, int)
        assert [s.name for s in system.maintenance.statistics().periodic] == ["j"]


async def test_no_periodic_run_is_dispatched_once_the_system_stops() -> None:
    clock = ManualClock()
    collect = Collector()
    async with ActorSystem("after", clock=clock) as system:
        job = system.maintenance.every("job", 1.0, lambda: 1, on_result=collect)
    clock.advance(5.0)
    assert job.statistics().runs == 0
    assert collect.values == []


# -- inline (no pool) ----------------------------------------------------------------


async def test_zero_workers_runs_every_job_inline_on_the_loop_with_no_thread() -> None:
    clock = ManualClock()
    collect = Collector()
    before = set(threading.enumerate())
    here = threading.current_thread().name
    async with ActorSystem("inline", clock=clock, maintenance_workers=0) as system:
        assert await system.maintenance.run(lambda: threading.current_thread().name) == here
        with pytest.raises(ZeroDivisionError):
            await system.maintenance.run(lambda: 1 / 0)
        system.maintenance.every(
            "j", 2.0, lambda: threading.current_thread().name, on_result=collect
        )
        clock.advance(2.0)  # inline: the run and its result happen within the tick
        assert collect.values == [here]
        assert set(threading.enumerate()) == before
        assert system.maintenance.statistics().pool is None


# -- virtual time --------------------------------------------------------------------


def test_on_virtual_time_ticks_land_on_the_grid_and_jobs_take_no_virtual_time() -> None:
    release = threading.Event()

    def slow() -> float:
        # Real time passes on the worker; virtual time must not.
        release.wait(0.05)
        return 1.0

    async def scenario(sim: Simulation) -> tuple[list[float], float, int]:
        loop = asyncio.get_running_loop()
        ticks: list[float] = []
        async with sim.system("virtual") as system:
            job = system.maintenance.every(
                "decay", 10.0, slow, on_result=lambda _: ticks.append(loop.time())
            )
            await sim.sleep(35.0)
            before = loop.time()
            await system.maintenance.run(slow)
            took = loop.time() - before
            return ticks, took, job.statistics().skipped

    ticks, took, skipped = simulate(scenario, seed=3).value
    assert ticks == [10.0, 20.0, 30.0]
    assert took == 0.0
    assert skipped == 0


# -- lanes -----------------------------------------------------------------------------


async def test_a_lane_runs_its_jobs_one_at_a_time_in_order_on_the_pool() -> None:
    async with ActorSystem("laned", maintenance_workers=3) as system:
        lane = system.maintenance.lane("serial")
        running = 0
        overlaps: list[int] = []
        order: list[int] = []
        threads: set[str] = set()
        guard = threading.Lock()

        def job(n: int) -> int:
            nonlocal running
            with guard:
                running += 1
                overlaps.append(running)
            threads.add(threading.current_thread().name)
            order.append(n)
            with guard:
                running -= 1
            return n * n

        futures = [lane.submit(lambda n=n: job(n)) for n in range(50)]
        async with asyncio.timeout(WAIT):
            results = await asyncio.gather(*futures)
        assert results == [n * n for n in range(50)]
        assert order == list(range(50))
        assert max(overlaps) == 1
        assert all(t.startswith("laned-maintenance-worker-") for t in threads)
        assert lane.jobs == 50
        assert lane.idle.is_set()


async def test_a_lane_job_that_raises_fails_its_future_and_the_next_job_still_runs() -> None:
    async with ActorSystem("laned") as system:
        lane = system.maintenance.lane("serial")
        failing = lane.submit(lambda: 1 / 0)
        after = lane.submit(lambda: "next")
        with pytest.raises(ZeroDivisionError):
            await asyncio.wait_for(failing, WAIT)
        assert await asyncio.wait_for(after, WAIT) == "next"


async def test_closing_lets_a_lane_finish_what_it_holds_and_refuses_new_jobs() -> None:
    release = threading.Event()
    async with ActorSystem("laned") as system:
        lane = system.maintenance.lane("serial")
        held = lane.submit(lambda: release.wait(WAIT))
        queued = lane.submit(lambda: "queued")
        lane.close()
        assert lane.closed
        assert not lane.idle.is_set()
        with pytest.raises(SystemNotRunning):
            lane.submit(lambda: None)
        release.set()
        assert await asyncio.wait_for(held, WAIT) is True
        assert await asyncio.wait_for(queued, WAIT) == "queued"
        await asyncio.wait_for(lane.wait_idle(), WAIT)
        assert lane.idle.is_set()
        # The name is free again.
        system.maintenance.lane("serial").close()


async def test_system_shutdown_runs_what_a_lane_holds_to_the_end() -> None:
    release = threading.Event()

    class Releaser(Actor[None]):
        async def on_stop(self) -> None:  # the shutdown has begun
            release.set()

    async with ActorSystem("laned") as system:
        await system.spawn(Releaser)
        lane = system.maintenance.lane("serial")
        held = lane.submit(lambda: release.wait(WAIT))
        queued = lane.submit(lambda: "queued")
    assert held.result() is True
    assert queued.result() == "queued"
    assert lane.closed


async def test_a_lane_needs_a_running_system_and_a_free_name() -> None:
    system = ActorSystem("laned")
    with pytest.raises(SystemNotRunning):
        system.maintenance.lane("serial")
    async with system:
        system.maintenance.lane("serial")
        with pytest.raises(ValueError, match="already open"):
            system.maintenance.lane("serial")
        with pytest.raises(ValueError, match="needs a name"):
            system.maintenance.lane("")


async def test_a_lane_runs_inline_without_workers() -> None:
    async with ActorSystem("inline", maintenance_workers=0) as system:
        lane = system.maintenance.lane("serial")
        future = lane.submit(threading.current_thread)
        assert future.done()
        assert future.result() is threading.current_thread()
