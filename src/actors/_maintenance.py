"""The system's maintenance: periodic and one-off jobs on its work-stealing pool.

Every :class:`~actors.ActorSystem` has one :class:`Maintenance`,
``system.maintenance``. Parts of the runtime and applications register
periodic jobs (lease aging, heat decay, metric rollups, ...) with
:meth:`Maintenance.every` and run one-off blocking or CPU-bound calls with
:meth:`Maintenance.run`; both run on the system's
:class:`~scheduler.WorkStealingPool`.

Who does what:

- The **schedule** is kept on the event loop, by the system's clock: one
  ``clock.call_later`` timer for the earliest deadline of a
  :class:`~scheduler.PeriodicTable`. So a virtual clock (``actors.testing``)
  moves maintenance with every other timer of the system.
- A due **run** goes to the pool's *urgent* queue
  (:meth:`~scheduler.WorkStealingPool.submit_urgent`): the next worker to
  finish its current job takes it, ahead of any queued one-off job, so a
  saturated pool delays a tick by at most one job.
- A run's **result** comes back on the event loop: to ``on_result`` for a
  periodic job (``on_result=ref.tell`` makes it a message), as the awaited
  value for :meth:`Maintenance.run`. Jobs never touch actor state directly.
- A periodic run that raises is logged (``periodic_job_failed``, with its
  traceback) and counted in its statistics; the job stays scheduled. A
  one-off job's exception is raised to its awaiter.

Threads start on first use: a system that never registers or runs a job
starts none. ``workers=0`` runs every job inline on the event loop (no
threads at all), for simulations where everything must happen on one thread.
Leaving the system stops the ticks first, then (after the actors have
stopped, so that their stop hooks may still use it) closes the pool: queued
one-off jobs are cancelled (their awaiters get
:class:`~actors.SystemShutdown`), running ones finish, and every worker
thread is joined.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

import msgspec
import structlog

from scheduler import (
    PeriodicJob,
    PeriodicJobSpec,
    PeriodicJobStatistics,
    PeriodicRun,
    PeriodicTable,
    PoolStatistics,
    ShutdownPolicy,
    WorkStealingPool,
)

from ._clock import thread_timer
from ._errors import SystemNotRunning, SystemShutdown
from ._validate import check_int

if TYPE_CHECKING:
    import concurrent.futures
    from collections.abc import Callable

    from ._clock import Cancellable, Clock

__all__ = [
    "DEFAULT_MAINTENANCE_WORKERS",
    "Maintenance",
    "MaintenanceJob",
    "MaintenanceLane",
    "MaintenanceStatistics",
]

logger = structlog.get_logger("actors")

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MAINTENANCE_WORKERS = 2
"""Worker threads of a system's maintenance pool unless configured otherwise."""


class MaintenanceStatistics(msgspec.Struct, frozen=True):
    """A snapshot of a system's maintenance."""

    workers: int
    """Configured worker threads (0: jobs run inline on the event loop)."""
    started: bool
    """Whether the pool's threads have been started (they start on first use)."""
    periodic: tuple[PeriodicJobStatistics, ...]
    """One record per registered periodic job, in registration order."""
    result_failures: int
    """``on_result`` callbacks that raised, over every periodic job."""
    pool: PoolStatistics | None
    """The pool's own statistics, once started."""


class MaintenanceJob(Generic[R]):
    """Handle to a periodic maintenance job: observe it or cancel it."""

    __slots__ = ("_job", "_on_result", "_owner", "_results", "result_failures")

    def __init__(
        self,
        owner: Maintenance,
        job: PeriodicJob,
        results: deque[R],
        on_result: Callable[[R], object] | None,
    ) -> None:
        self._owner = owner
        self._job = job
        self._results = results
        self._on_result = on_result
        self.result_failures = 0
        """``on_result`` calls that raised (each logged as ``maintenance_result_failed``)."""

    @property
    def name(self) -> str:
        """The job's name, unique among the system's periodic jobs."""
        return self._job.name

    @property
    def interval(self) -> float:
        """Seconds between scheduled runs, by the system's clock."""
        return self._job.interval

    def cancel(self) -> bool:
        """Schedule no more runs (call on the event loop); a run in progress finishes.

        Its result is still delivered. Returns ``False`` if already cancelled.
        The name is free again for a new job.
        """
        cancelled = self._job.cancel()
        self._owner._arm()
        return cancelled

    def statistics(self) -> PeriodicJobStatistics:
        """Runs, failures, overruns, skipped ticks, next deadline (system clock)."""
        return self._job.statistics()

    def __repr__(self) -> str:
        return f"<MaintenanceJob {self.name!r} every {self.interval}s>"


class MaintenanceLane:
    """Jobs that run on the maintenance pool one at a time, in submission order.

    From :meth:`Maintenance.lane`. For work that must stay serial, such as a
    ledger's fsyncs and WAL copies on one database: a job goes to the pool
    once the one before it finished, so no two of a lane's jobs ever overlap,
    while the pool's threads serve every lane and job of the system. Call
    :meth:`submit` on the event loop.

    The lane closes when the system's maintenance closes (after the actors
    stopped), or by :meth:`close`: it takes no new jobs from then on, and the
    ones it holds still run (none is cancelled); :attr:`idle` is set once the
    last has finished, so an owner can hand its serial work to a thread of its
    own without the two overlapping.
    """

    def __init__(self, owner: Maintenance, name: str) -> None:
        self._owner = owner
        self.name = name
        self._queue: deque[tuple[Callable[[], Any], asyncio.Future[Any]]] = (
            deque()
        )  # Any: each job's
        self._running = False
        self._closed = False
        self.idle = threading.Event()
        """Set while the lane holds no job (thread-safe: a thread may wait on it)."""
        self.idle.set()
        self._drained = asyncio.Event()  # the same, for the loop
        self._drained.set()
        self.jobs = 0
        """Jobs run to the end (or to their exception) so far."""

    @property
    def closed(self) -> bool:
        """Whether the lane refuses new jobs."""
        return self._closed

    def submit(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Queue ``fn()``; the returned future settles with its outcome, on the loop.

        :raises SystemNotRunning: the lane is closed.
        """
        if self._closed:
            raise SystemNotRunning(f"maintenance lane {self.name!r} is closed")
        owner = self._owner
        loop = owner._loop
        assert loop is not None
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((fn, future))
        self.idle.clear()
        if not self._running:
            self._next()
        return future

    def close(self) -> None:
        """Take no new jobs; the queued ones still run. Idempotent."""
        self._closed = True
        self._owner._lanes.pop(self.name, None)

    async def wait_idle(self) -> None:
        """Wait until the lane holds no job."""
        while self._running:
            await self._drained.wait()

    def _next(self) -> None:
        if not self._queue:
            self._running = False
            self.idle.set()
            self._drained.set()
            return
        self._running = True
        self._drained.clear()
        fn, future = self._queue.popleft()
        owner = self._owner
        if owner._workers == 0:
            self._settle(future, fn)
            self._next()
            return
        done = owner._ensure_pool().submit(fn)
        release = owner._hold_time()
        loop = owner._loop
        assert loop is not None

        def finished(f: concurrent.futures.Future[Any]) -> None:  # Any: the job's result
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody to tell
                loop.call_soon_threadsafe(self._finished, f, future, release)

        done.add_done_callback(finished)

    def _finished(
        self,
        done: concurrent.futures.Future[Any],  # Any: the job's result
        future: asyncio.Future[Any],
        release: Callable[[], None],
    ) -> None:
        release()
        self.jobs += 1
        if not future.done():
            if done.cancelled():
                future.cancel()
            elif (exc := done.exception()) is not None:
                future.set_exception(exc)
            else:
                future.set_result(done.result())
        self._next()

    def _settle(self, future: asyncio.Future[Any], fn: Callable[[], Any]) -> None:
        self.jobs += 1
        try:
            result = fn()
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<MaintenanceLane {self.name!r} {state} queued={len(self._queue)}>"


class Maintenance:
    """Periodic and one-off maintenance jobs of one actor system (``system.maintenance``).

    :param name: prefix of the pool's thread names.
    :param clock: the system's clock (the schedule's only time source).
    :param workers: worker threads; ``0`` runs jobs inline on the event loop.
    """

    def __init__(self, name: str, clock: Clock, workers: int) -> None:
        check_int("ActorSystem", "maintenance_workers", workers, minimum=0)
        self._name = name
        self._clock = clock
        self._workers = workers
        # Durations of runs are measured on the thread that runs them, where
        # the system's clock (an event loop's) cannot be read.
        self._table = PeriodicTable(clock.now, timer=thread_timer)
        self._handles: dict[str, MaintenanceJob[Any]] = {}
        self._pool: WorkStealingPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: Cancellable | None = None
        self._timer_due = math.inf
        self._open = False
        self._closed = False
        self._result_failures = 0
        self._lanes: dict[str, MaintenanceLane] = {}

    @property
    def workers(self) -> int:
        """Configured worker threads (0: inline on the event loop)."""
        return self._workers

    @property
    def started(self) -> bool:
        """Whether the pool's worker threads have been started."""
        return self._pool is not None

    # -- for applications and the runtime's parts --------------------------------

    def every(
        self,
        name: str,
        interval: float,
        fn: Callable[[], R],
        *,
        first_delay: float | None = None,
        on_result: Callable[[R], object] | None = None,
    ) -> MaintenanceJob[R]:
        """Run ``fn()`` on the pool every ``interval`` seconds of the system's clock.

        Call it on the event loop while the system runs. The schedule is
        fixed-rate from now (first run after ``first_delay``, default one
        interval); a tick that comes due while the previous run is still
        queued or running is skipped and counted, never run twice at once.
        ``fn`` runs on a worker thread: it must not touch actor state. Its
        result goes to ``on_result``, called on the event loop (pass
        ``ref.tell`` to make it a message to an actor). A run that raises is
        logged and counted (``statistics().failures``); the job stays
        scheduled.

        :raises ValueError: empty ``name``, a non-positive or non-finite
            ``interval``, a negative ``first_delay``
            (:class:`~scheduler.SchedulerConfigError`), or a ``name`` already
            registered (:class:`~scheduler.DuplicateJobName`).
        :raises SystemNotRunning: the system is not running.
        """
        self._check_open()
        if not callable(fn):
            raise TypeError(f"fn of maintenance job {name!r} must be callable, got {fn!r}")
        if on_result is not None and not callable(on_result):
            raise TypeError(f"on_result of maintenance job {name!r} must be callable")
        results: deque[R] = deque()  # thread-safe append/popleft: worker -> loop

        def call() -> None:
            result = fn()
            if on_result is not None:
                results.append(result)

        job = self._table.add(PeriodicJobSpec(name, interval, call, first_delay))
        handle = MaintenanceJob[R](self, job, results, on_result)
        self._handles[name] = handle
        self._arm()
        return handle

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the pool and await its result.

        The event loop is not blocked (unless ``workers=0``, which calls ``fn``
        inline). ``fn``'s exception is raised here. Cancelling the awaiting
        task cancels the job if it has not started. A job still queued when
        the system shuts down is cancelled, and its awaiter gets
        :class:`~actors.SystemShutdown`.

        It works until the system has stopped its actors, so their stop hooks
        may still use it.

        :raises SystemNotRunning: the system is not running.
        """
        self._check_open(registering=False)
        if self._workers == 0:
            return fn(*args, **kwargs)
        future = self._ensure_pool().submit(fn, *args, **kwargs)
        release = self._hold_time()
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._closed and future.cancelled() and not (task and task.cancelling()):
                raise SystemShutdown(
                    f"maintenance of {self._name!r}",
                    "the system shut down before the job ran",
                ) from None
            raise
        finally:
            release()

    def lane(self, name: str) -> MaintenanceLane:
        """A new :class:`MaintenanceLane`: jobs on the pool, one at a time, in order.

        Call it on the event loop while the system runs.

        :raises ValueError: ``name`` is empty or names an open lane.
        :raises SystemNotRunning: the system is not running.
        """
        self._check_open()
        if not name:
            raise ValueError("a maintenance lane needs a name")
        if name in self._lanes:
            raise ValueError(f"maintenance lane {name!r} is already open")
        lane = self._lanes[name] = MaintenanceLane(self, name)
        return lane

    def statistics(self) -> MaintenanceStatistics:
        """A snapshot: configuration, every periodic job, the pool once started."""
        return MaintenanceStatistics(
            workers=self._workers,
            started=self._pool is not None,
            periodic=self._table.statistics(),
            result_failures=self._result_failures,
            pool=None if self._pool is None else self._pool.statistics(),
        )

    def __repr__(self) -> str:
        state = "started" if self._pool is not None else "idle"
        return f"<Maintenance {self._name!r} workers={self._workers} {state}>"

    # -- lifetime (the system calls these) ----------------------------------------

    def _attach(self) -> None:
        """The system started: accept jobs (threads still start on first use)."""
        self._loop = asyncio.get_running_loop()
        self._open = True

    def _stop_ticking(self) -> None:
        """Dispatch no more periodic runs (the system began shutting down)."""
        self._open = False
        self._table.close()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_due = math.inf

    async def _aclose(self) -> None:
        """Cancel queued jobs, wait for running ones, join every thread."""
        self._stop_ticking()
        # Lanes first: what they hold still runs (a ledger's fsync must not be
        # cancelled), and their owners turn to threads of their own.
        lanes = list(self._lanes.values())
        for lane in lanes:
            lane.close()
        for lane in lanes:
            await lane.wait_idle()
        self._closed = True
        pool = self._pool
        if pool is not None:
            await pool.aclose()

    # -- inside ----------------------------------------------------------------------

    def _check_open(self, *, registering: bool = True) -> None:
        if self._open or (not registering and self._loop is not None and not self._closed):
            return
        if self._closed:
            state = "shut down"
        elif self._loop is not None:
            state = "shutting down"
        else:
            state = "not running (use `async with`)"
        raise SystemNotRunning(f"actor system {self._name!r} is {state}: no maintenance")

    def _ensure_pool(self) -> WorkStealingPool:
        pool = self._pool
        if pool is None:
            pool = WorkStealingPool(
                self._workers,
                name=f"{self._name}-maintenance",
                seed=0,
                exit_policy=ShutdownPolicy.CANCEL,
            )
            pool.start()
            self._pool = pool
        return pool

    def _arm(self) -> None:
        """Keep one loop timer at the table's earliest deadline."""
        due = self._table.next_due
        if due == self._timer_due and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_due = due
        if due == math.inf or not self._open:
            return
        self._timer = self._clock.call_later(max(0.0, due - self._clock.now()), self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._timer_due = math.inf
        if not self._open:
            return
        for run in self._table.collect_due(self._clock.now()):
            self._dispatch(run)
        self._arm()

    def _dispatch(self, run: PeriodicRun) -> None:
        handle = self._handles[run.name]
        if self._workers == 0:
            run.run()
            self._finished(handle, _nothing)
            return
        future = self._ensure_pool().submit_urgent(run.run)
        release = self._hold_time()
        loop = self._loop

        def done(f: concurrent.futures.Future[int]) -> None:
            # After the run's end is recorded: a result delivered now finds
            # the job ready for its next tick.
            if f.cancelled():
                run.cancel()
            if loop is not None:
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody to tell
                    loop.call_soon_threadsafe(self._finished, handle, release)

        future.add_done_callback(done)

    def _hold_time(self) -> Callable[[], None]:
        """On a loop on virtual time (``actors.testing``), keep time still while a job runs."""
        hold: Callable[[], Callable[[], None]] | None = getattr(self._loop, "hold_time", None)
        return _nothing if hold is None else hold()

    def _finished(self, handle: MaintenanceJob[Any], release: Callable[[], None]) -> None:
        """On the loop, after a run: hand its result to ``on_result``."""
        release()
        results, on_result = handle._results, handle._on_result
        while results:
            result = results.popleft()
            if self._closed or on_result is None:
                continue
            try:
                on_result(result)
            except Exception as exc:
                handle.result_failures += 1
                self._result_failures += 1
                logger.error(
                    "maintenance_result_failed",
                    system=self._name,
                    job_id=handle.name,
                    error=repr(exc),
                )


def _nothing() -> None:
    pass
