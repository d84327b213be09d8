"""WorkStealingPool: results, errors, stealing, fairness rules, periodic jobs, shutdown."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

import pytest

from scheduler import (
    DuplicateJobName,
    PeriodicJobSpec,
    PoolClosed,
    PoolNotStarted,
    PoolStateError,
    SchedulerConfigError,
    ShutdownPolicy,
    WorkStealingPool,
)

if TYPE_CHECKING:
    import concurrent.futures

    from conftest import FakeClock

TIMEOUT = 10.0


def pool_threads(pool: WorkStealingPool) -> list[threading.Thread]:
    prefix = f"{pool.name}-worker-"
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


class Gate:
    """Blocks one worker inside a job until the test opens it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(self) -> str:
        self.entered.set()
        assert self.opened.wait(TIMEOUT), "gate never opened"
        return "gate passed"

    def hold(self, pool: WorkStealingPool) -> concurrent.futures.Future[str]:
        future = pool.submit(self)
        assert self.entered.wait(TIMEOUT), "gate job never started"
        return future


# -- results and errors ----------------------------------------------------------


def test_submitted_job_result_reaches_the_submitter() -> None:
    with WorkStealingPool(2) as pool:
        futures = [pool.submit(pow, i, 2) for i in range(200)]
        assert [f.result(TIMEOUT) for f in futures] == [i * i for i in range(200)]


def test_keyword_arguments_are_passed_to_the_job() -> None:
    with WorkStealingPool(1) as pool:
        assert pool.submit(int, "ff", base=16).result(TIMEOUT) == 255


def test_job_exception_reaches_the_submitter_unchanged() -> None:
    error = LookupError("no such lease")

    def fail() -> None:
        raise error

    with WorkStealingPool(2) as pool:
        future = pool.submit(fail)
        assert future.exception(TIMEOUT) is error
        assert pool.submit(int, "7").result(TIMEOUT) == 7  # the worker lives on
    stats = pool.statistics()
    assert (stats.completed, stats.failed) == (2, 1)


def test_map_from_the_executor_interface_works() -> None:
    with WorkStealingPool(3) as pool:
        assert list(pool.map(str, range(5), timeout=TIMEOUT)) == ["0", "1", "2", "3", "4"]


# -- states ---------------------------------------------------------------------


def test_submit_before_start_is_refused() -> None:
    pool = WorkStealingPool(1)
    with pytest.raises(PoolNotStarted, match="not started"):
        pool.submit(int)
    pool.shutdown()


def test_submit_after_shutdown_is_refused() -> None:
    with WorkStealingPool(1) as pool:
        pass
    with pytest.raises(PoolClosed) as err:
        pool.submit(int)
    assert isinstance(err.value, RuntimeError)
    assert pool.statistics().state == "closed"


def test_starting_twice_is_refused() -> None:
    with WorkStealingPool(1) as pool, pytest.raises(PoolStateError, match="already started"):
        pool.start()


@pytest.mark.parametrize(
    ("kwargs", "offending"),
    [
        ({"workers": 0}, "0"),
        ({"lifo_cap": 0}, "0"),
        ({"inject_interval": -1}, "-1"),
        ({"exit_policy": "drain"}, "'drain'"),
    ],
)
def test_invalid_configuration_is_refused_naming_the_value(
    kwargs: dict[str, object], offending: str
) -> None:
    with pytest.raises(SchedulerConfigError, match=offending):
        WorkStealingPool(**kwargs)  # type: ignore[arg-type]


# -- where work goes ------------------------------------------------------------


def test_jobs_submitted_by_a_job_go_onto_its_workers_own_deque() -> None:
    with WorkStealingPool(1) as pool:

        def parent() -> list[int]:
            children = [pool.submit(int, str(i)) for i in range(10)]
            return [c.result(TIMEOUT) for c in children[:0]]  # do not wait on ourselves

        pool.submit(parent).result(TIMEOUT)
    stats = pool.statistics()
    (worker,) = stats.workers
    assert stats.injected == 1
    assert worker.spawned == 10
    assert worker.deque.pushes == 10
    assert stats.submitted == stats.completed == 11


def test_idle_worker_wakes_and_steals_work_pushed_by_a_busy_worker() -> None:
    # Two jobs that can only finish together: the worker that pushed them runs
    # one, the other must be woken and steal the second from its deque.
    barrier = threading.Barrier(2, timeout=TIMEOUT)

    with WorkStealingPool(2) as pool:

        def fork() -> list[concurrent.futures.Future[int]]:
            return [pool.submit(barrier.wait), pool.submit(barrier.wait)]

        children = pool.submit(fork).result(TIMEOUT)
        assert sorted(c.result(TIMEOUT) for c in children) == [0, 1]
    assert pool.statistics().steals >= 1


def test_injected_job_runs_while_a_worker_keeps_generating_local_work() -> None:
    inject_interval = 5
    gate = Gate()
    done = threading.Event()
    spins = [0]

    with WorkStealingPool(1, inject_interval=inject_interval) as pool:

        def churn() -> None:  # always leaves one more job on the local deque
            gate()
            spins[0] += 1
            if not done.is_set() and spins[0] < 10_000:
                pool.submit(churn)

        gate.hold(pool)  # the first churn blocks until the outside job is queued
        pool.submit(churn)
        outside = pool.submit(done.set)
        gate.opened.set()
        outside.result(TIMEOUT)
    assert spins[0] <= 2 * inject_interval


def test_lifo_cap_lets_the_oldest_local_job_run_despite_newer_work() -> None:
    lifo_cap = 4
    old_ran = threading.Event()
    chain = [0]

    with WorkStealingPool(1, lifo_cap=lifo_cap) as pool:

        def link() -> None:  # each link pushes a newer link
            chain[0] += 1
            if not old_ran.is_set() and chain[0] < 10_000:
                pool.submit(link)

        def root() -> None:
            pool.submit(old_ran.set)  # the oldest item on this worker's deque
            pool.submit(link)

        pool.submit(root).result(TIMEOUT)
        assert old_ran.wait(TIMEOUT)
    assert chain[0] <= lifo_cap + 1
    assert pool.statistics().workers[0].fifo_pops >= 1


def test_job_cancelled_before_it_starts_never_runs() -> None:
    ran = threading.Event()
    gate = Gate()
    with WorkStealingPool(1) as pool:
        gate.hold(pool)
        future = pool.submit(ran.set)
        assert future.cancel()
        gate.opened.set()
    assert not ran.is_set()
    assert pool.statistics().cancelled == 1


def test_statistics_add_up_per_worker_and_in_total() -> None:
    with WorkStealingPool(3, name="stats") as pool:
        for f in [pool.submit(int) for _ in range(50)]:
            f.result(TIMEOUT)
        stats = pool.statistics()
    assert stats.state == "running"
    assert stats.completed == sum(w.completed for w in stats.workers) == 50
    assert stats.injected == stats.submitted == 50
    assert sum(w.injected + w.steals + w.lifo_pops for w in stats.workers) == 50
    assert [w.index for w in stats.workers] == [0, 1, 2]


# -- shutdown -------------------------------------------------------------------


def test_shutdown_drains_queued_jobs_by_default() -> None:
    gate = Gate()
    pool = WorkStealingPool(1).start()
    held = gate.hold(pool)
    pending = [pool.submit(int, str(i)) for i in range(10)]
    pool.shutdown(wait=False)
    with pytest.raises(PoolClosed):
        pool.submit(int)
    gate.opened.set()
    pool.shutdown(wait=True)
    assert held.result(0) == "gate passed"
    assert [f.result(0) for f in pending] == list(range(10))
    assert pool_threads(pool) == []


def test_shutdown_with_cancel_cancels_queued_jobs_and_finishes_the_running_one() -> None:
    gate = Gate()
    pool = WorkStealingPool(1).start()
    held = gate.hold(pool)
    pending = [pool.submit(int, str(i)) for i in range(10)]
    pool.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in pending)  # at once, not when a worker frees up
    gate.opened.set()
    pool.shutdown(wait=True)
    assert held.result(0) == "gate passed"
    assert pool.statistics().cancelled == 10


def test_exit_policy_cancel_applies_when_leaving_the_with_block() -> None:
    gate = Gate()
    with WorkStealingPool(1, exit_policy=ShutdownPolicy.CANCEL) as pool:
        gate.hold(pool)
        pending = pool.submit(int)
        # The gate opens only once __exit__ has cancelled the queued job.
        pending.add_done_callback(lambda _: gate.opened.set())
    assert pending.cancelled()


def test_no_worker_thread_outlives_the_pool() -> None:
    with WorkStealingPool(4, name="outlive") as pool:
        assert len(pool_threads(pool)) == 4
        pool.submit(int).result(TIMEOUT)
    assert pool_threads(pool) == []


def test_shutdown_of_a_pool_never_started_needs_no_threads() -> None:
    pool = WorkStealingPool(2)
    pool.shutdown()
    assert pool.statistics().state == "closed"
    with pytest.raises(PoolClosed):
        pool.start()


def test_waiting_shutdown_from_inside_a_job_is_refused() -> None:
    with WorkStealingPool(1) as pool:
        future = pool.submit(pool.shutdown)
        assert isinstance(future.exception(TIMEOUT), PoolStateError)


# -- periodic jobs ----------------------------------------------------------------


def test_periodic_job_runs_when_the_virtual_clock_reaches_its_interval(
    clock: FakeClock,
) -> None:
    ran = threading.Semaphore(0)
    with WorkStealingPool(2, clock=clock) as pool:
        job = pool.every(30.0, ran.release, name="heat-decay")
        assert pool.check_periodic() == 0
        # A worker may notice the moved clock first; either way one run each time.
        clock.advance(30.0)
        pool.check_periodic()
        assert ran.acquire(timeout=TIMEOUT)
        clock.advance(30.0)
        pool.check_periodic()
        assert ran.acquire(timeout=TIMEOUT)
    assert job.statistics().runs == 2


def test_periodic_job_never_runs_twice_at_once(clock: FakeClock) -> None:
    gate = Gate()
    with WorkStealingPool(4, clock=clock) as pool:
        job = pool.every(1.0, gate, name="ledger-snapshot")
        clock.advance(1.0)
        pool.check_periodic()
        assert gate.entered.wait(TIMEOUT)
        for _ in range(3):  # three more ticks while the first run is still going
            clock.advance(1.0)
            assert pool.check_periodic() == 0
        stats = job.statistics()
        assert (stats.running, stats.skipped, stats.runs) == (True, 3, 0)
        gate.opened.set()
    assert job.statistics().runs == 1


def test_failing_periodic_job_is_logged_and_keeps_its_schedule(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    attempts = threading.Semaphore(0)

    def rollup() -> None:
        attempts.release()
        raise RuntimeError("metrics store unavailable")

    with (
        caplog.at_level(logging.ERROR, logger="scheduler"),
        WorkStealingPool(2, clock=clock) as pool,
    ):
        job = pool.every(5.0, rollup, name="metric-rollup")
        for _ in range(2):
            clock.advance(5.0)
            pool.check_periodic()
            assert attempts.acquire(timeout=TIMEOUT)
    failures = [r for r in caplog.records if r.msg == "periodic_job_failed"]
    assert [r.__dict__["job_id"] for r in failures] == ["metric-rollup"] * 2
    assert (job.statistics().failures, job.statistics().runs) == (2, 2)


def test_periodic_jobs_given_at_construction_are_registered(clock: FakeClock) -> None:
    ran = threading.Event()
    spec = PeriodicJobSpec("lease-aging", 2.0, ran.set, first_delay=0.0)
    with WorkStealingPool(1, clock=clock, periodic=[spec]) as pool:
        pool.check_periodic()  # due at once: a worker may already have dispatched it
        assert ran.wait(TIMEOUT)
        (stats,) = pool.statistics().periodic
        assert stats.name == "lease-aging"
        with pytest.raises(DuplicateJobName):
            pool.schedule(spec)


def test_periodic_job_cannot_be_registered_after_shutdown() -> None:
    with WorkStealingPool(1) as pool:
        pass
    with pytest.raises(PoolClosed):
        pool.every(1.0, int, name="late")


def test_no_periodic_job_is_dispatched_after_shutdown(clock: FakeClock) -> None:
    with WorkStealingPool(1, clock=clock) as pool:
        job = pool.every(1.0, int, name="rollup")
    clock.advance(10.0)
    assert pool.check_periodic() == 0
    assert job.statistics().runs == 0


# -- the awaitable form ---------------------------------------------------------


@pytest.mark.anyio
async def test_run_awaits_the_result_without_blocking_the_event_loop() -> None:
    release = threading.Event()
    async with WorkStealingPool(2) as pool:
        # Only the event loop can release the job: a blocked loop would time it out.
        asyncio.get_running_loop().call_soon(release.set)
        assert await pool.run(release.wait, TIMEOUT) is True


@pytest.mark.anyio
async def test_run_raises_the_jobs_exception_in_the_awaiting_task() -> None:
    async with WorkStealingPool(1) as pool:
        with pytest.raises(ValueError, match="invalid literal"):
            await pool.run(int, "not a number")


@pytest.mark.anyio
async def test_cancelling_the_awaiting_task_cancels_a_job_not_yet_started() -> None:
    ran = threading.Event()
    gate = Gate()
    async with WorkStealingPool(1) as pool:
        held = pool.submit(gate)
        task = asyncio.ensure_future(pool.run(ran.set))
        await asyncio.sleep(0)  # let the task submit its job
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.opened.set()
        assert await asyncio.wrap_future(held) == "gate passed"
    assert not ran.is_set()
    assert pool.statistics().cancelled == 1


@pytest.mark.anyio
async def test_async_with_joins_every_worker_without_blocking_the_loop() -> None:
    gate = Gate()
    async with WorkStealingPool(2, name="async-exit") as pool:
        held = pool.submit(gate)
        # Runs only once this task yields, i.e. while __aexit__ awaits the
        # workers: a blocking exit would leave the gate shut until it times out.
        asyncio.get_running_loop().call_soon(gate.opened.set)
    assert held.result(0) == "gate passed"
    assert pool_threads(pool) == []
    assert pool.statistics().state == "closed"


@pytest.mark.parametrize("startable", [0, 1])
def test_pool_whose_threads_cannot_start_reports_the_error_and_ends_closed(
    monkeypatch: pytest.MonkeyPatch, startable: int
) -> None:
    starts = [0]
    real_start = threading.Thread.start

    def start_only_one(thread: threading.Thread) -> None:
        starts[0] += 1
        if starts[0] > startable:
            raise RuntimeError("can't start new thread")
        real_start(thread)

    pool = WorkStealingPool(3, name="unstartable")
    monkeypatch.setattr(threading.Thread, "start", start_only_one)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        pool.start()
    monkeypatch.undo()
    assert pool.statistics().state == "closed"
    assert pool_threads(pool) == []
    asyncio.run(asyncio.wait_for(pool.aclose(), TIMEOUT))  # nothing left to wait for


# -- the urgent queue ----------------------------------------------------------------


def test_an_urgent_job_runs_before_every_queued_job() -> None:
    gate = Gate()
    order: list[str] = []
    with WorkStealingPool(1) as pool:
        held = gate.hold(pool)
        queued = [pool.submit(order.append, f"job {i}") for i in range(5)]
        urgent = [pool.submit_urgent(order.append, f"urgent {i}") for i in range(2)]
        gate.opened.set()
        for future in (held, *queued, *urgent):
            future.result(TIMEOUT)
    # Urgent jobs first, in submission order, then the rest in theirs.
    assert order == ["urgent 0", "urgent 1"] + [f"job {i}" for i in range(5)]
    assert pool.statistics().injected == 8


def test_an_urgent_job_runs_before_a_workers_own_local_jobs() -> None:
    gate = Gate()
    order: list[str] = []
    started = threading.Event()

    def fan_out() -> None:
        for i in range(3):
            pool.submit(order.append, f"local {i}")
        started.set()
        gate()

    with WorkStealingPool(1) as pool:
        fan_out_future = pool.submit(fan_out)
        assert started.wait(TIMEOUT)
        urgent = pool.submit_urgent(order.append, "urgent")
        gate.opened.set()
        fan_out_future.result(TIMEOUT)
        urgent.result(TIMEOUT)
    assert order[0] == "urgent"
    assert sorted(order[1:]) == ["local 0", "local 1", "local 2"]


def test_an_urgent_job_result_and_exception_reach_the_submitter() -> None:
    with WorkStealingPool(2) as pool:
        assert pool.submit_urgent(int, "42").result(TIMEOUT) == 42
        with pytest.raises(ValueError, match="invalid literal"):
            pool.submit_urgent(int, "x").result(TIMEOUT)


def test_urgent_submission_is_refused_before_start_and_after_shutdown() -> None:
    pool = WorkStealingPool(1)
    with pytest.raises(PoolNotStarted):
        pool.submit_urgent(int, "1")
    pool.start()
    pool.shutdown()
    with pytest.raises(PoolClosed):
        pool.submit_urgent(int, "1")


def test_shutdown_with_cancel_cancels_queued_urgent_jobs() -> None:
    gate = Gate()
    pool = WorkStealingPool(1).start()
    held = gate.hold(pool)
    pending = [pool.submit_urgent(int, str(i)) for i in range(4)]
    pool.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in pending)
    gate.opened.set()
    pool.shutdown(wait=True)
    assert held.result(0) == "gate passed"
    assert pool.statistics().cancelled == 4


def test_a_parked_pool_wakes_for_an_urgent_job() -> None:
    with WorkStealingPool(2) as pool:
        assert pool.submit(int, "1").result(TIMEOUT) == 1
        # Every worker parks for lack of work; an urgent submission must wake one.
        for _ in range(3):
            assert pool.submit_urgent(int, "7").result(TIMEOUT) == 7
