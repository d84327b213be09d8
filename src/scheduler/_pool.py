"""WorkStealingPool: worker threads with one Chase-Lev deque each.

Where work goes:

- ``submit`` from one of the pool's own workers (a job spawning jobs) pushes
  onto that worker's deque: no shared queue, no pool-wide lock.
- ``submit`` from any other thread (the event loop, via :meth:`WorkStealingPool.run`)
  appends to the *injection queue*, a ``collections.deque`` shared by all
  workers, under the pool lock.

Where a worker looks, in order: due periodic jobs; every ``inject_interval``
iterations the injection queue first (so injected work never starves behind
local work); its own deque newest first, except that after ``lifo_cap``
newest-first pops in a row it takes its *oldest* item (so old local work
never starves behind new); the injection queue; the deques of the other
workers, from a random victim onwards; finally it parks.

Parking and waking (the lost-wakeup argument):

A worker parks in two steps: (1) under the pool lock it announces itself in
``_parked`` (and reads the pool state); (2) without the lock it looks for
work once more — injection queue, own deque, every victim — and only then
blocks on its private :class:`threading.Event`. Waking takes the pool lock,
removes a worker from ``_parked`` and sets its event.

- Injected work: ``submit`` appends and checks ``_parked`` inside the pool
  lock. Either its critical section precedes the parker's announcement, and
  then the re-check (which follows the announcement's lock acquisition) sees
  the item; or it follows it, and then it finds the parker and wakes it.
  This rests on the lock alone, so it holds on every CPython build.
- Local pushes: the owner pushes onto its deque, then reads ``_parked``
  *without* the lock and wakes a worker only if someone is parked. This is
  Dekker's pattern (parker: write ``_parked``, read deques; owner: write
  deque, read ``_parked``): with the GIL, execution is sequentially
  consistent and one side always sees the other. The free-threaded build
  does not document that ordering; if it ever fails, the cost is bounded —
  the pushed item stays in a deque whose owner is awake and running, and an
  owner always drains its own deque before it parks, so the item is still
  run exactly once; at worst an idle worker stays parked until the next
  submission or wake. Safety (exactly-once, results delivered) never
  depends on this hint.
- Shutdown sets the state under the pool lock, then wakes every parked
  worker; a worker reads the state while announcing, under the same lock.

Periodic jobs (:mod:`scheduler._periodic`): the first worker to park while a
job is scheduled becomes the *timer keeper* and parks with a timeout until
the next deadline; busy workers compare the clock with the next deadline at
the top of each iteration. Registering a job wakes the keeper.

Shutdown policy (:class:`ShutdownPolicy`): new submissions are refused with
:class:`~scheduler.PoolClosed` from the moment shutdown begins; periodic jobs
are dispatched no more. ``DRAIN`` runs every queued job first; ``CANCEL``
cancels every queued job (its future ends cancelled). A job already running
always finishes: Python cannot interrupt a thread. Then every worker thread
exits and is joined.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import logging
import math
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, ParamSpec, TypeAlias, TypeVar

from ._deque import EMPTY, DequeStatistics, Empty, WorkStealingDeque
from ._errors import PoolClosed, PoolNotStarted, PoolStateError, SchedulerConfigError
from ._periodic import PeriodicJob, PeriodicJobSpec, PeriodicJobStatistics, PeriodicTable
from ._work import DROPPED, RAISED, Runnable, WorkItem

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from types import TracebackType
    from typing import Self

__all__ = ["PoolStatistics", "ShutdownPolicy", "WorkStealingPool", "WorkerStatistics"]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

_INF: Final = math.inf
_Found: TypeAlias = "Runnable | Literal[Empty.EMPTY]"


class ShutdownPolicy(enum.Enum):
    """What leaving the pool's ``with`` block does with work still queued."""

    DRAIN = "drain"
    """Run every queued job, then stop (the default)."""
    CANCEL = "cancel"
    """Cancel every queued job (its future ends cancelled), then stop."""


class _State(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    CLOSING = "closing"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class WorkerStatistics:
    """One worker's counters (each written only by that worker's thread)."""

    index: int
    """The worker's position, 0 to ``workers - 1`` (also in its thread's name)."""
    completed: int
    """Jobs and periodic runs executed, whatever their outcome."""
    failed: int
    """Executed jobs that raised."""
    cancelled: int
    """Jobs taken but not executed: cancelled by the submitter or by shutdown."""
    spawned: int
    """Jobs this worker's own jobs submitted (pushed onto its deque)."""
    lifo_pops: int
    """Own jobs taken newest first."""
    fifo_pops: int
    """Own jobs taken oldest first because ``lifo_cap`` was reached."""
    injected: int
    """Jobs taken from the injection queue or the urgent queue."""
    steals: int
    """Jobs stolen from other workers."""
    failed_sweeps: int
    """Rounds over every victim that found nothing to steal."""
    parks: int
    """Times the worker blocked for lack of work."""
    deque: DequeStatistics
    """The counters of this worker's own deque."""


@dataclass(frozen=True, slots=True)
class PoolStatistics:
    """A snapshot of a pool (counters of busy workers may be mid-update)."""

    state: str
    """``new``, ``running``, ``closing`` or ``closed``."""
    workers: tuple[WorkerStatistics, ...]
    """One record per worker, by index."""
    submitted: int
    """Jobs accepted, from outside (injected) and from the pool's own jobs."""
    injected: int
    """Jobs accepted from outside the pool (by ``submit`` and ``submit_urgent``)."""
    injection_queue: int
    """Jobs waiting in the injection queue now (urgent ones included)."""
    parked: int
    """Workers parked now."""
    completed: int
    """Jobs and periodic runs executed, whatever their outcome."""
    failed: int
    """Executed jobs that raised."""
    cancelled: int
    """Taken but not executed, plus cancelled in the queues by shutdown."""
    steals: int
    """Jobs taken from another worker's deque."""
    periodic: tuple[PeriodicJobStatistics, ...]
    """One record per registered periodic job."""


class _Worker:
    __slots__ = (
        "cancelled",
        "completed",
        "deque",
        "failed",
        "failed_sweeps",
        "fifo_pops",
        "index",
        "injected",
        "lifo_pops",
        "parked",
        "parks",
        "rng",
        "spawned",
        "steals",
        "thread",
        "wake",
    )

    def __init__(self, index: int, rng: random.Random) -> None:
        self.index = index
        self.rng = rng
        self.deque: WorkStealingDeque[Runnable] = WorkStealingDeque()
        self.wake = threading.Event()
        self.parked = False
        self.thread: threading.Thread | None = None
        self.completed = 0
        self.failed = 0
        self.cancelled = 0
        self.spawned = 0
        self.lifo_pops = 0
        self.fifo_pops = 0
        self.injected = 0
        self.steals = 0
        self.failed_sweeps = 0
        self.parks = 0

    def snapshot(self) -> WorkerStatistics:
        return WorkerStatistics(
            index=self.index,
            completed=self.completed,
            failed=self.failed,
            cancelled=self.cancelled,
            spawned=self.spawned,
            lifo_pops=self.lifo_pops,
            fifo_pops=self.fifo_pops,
            injected=self.injected,
            steals=self.steals,
            failed_sweeps=self.failed_sweeps,
            parks=self.parks,
            deque=self.deque.statistics(),
        )


class WorkStealingPool(concurrent.futures.Executor):
    """A work-stealing thread pool: one Chase-Lev deque per worker, an injection queue, parking.

    Use it as a context manager (``with`` or ``async with``), which starts the
    workers and, on exit, shuts down by ``exit_policy`` and joins every thread.

    :param workers: number of worker threads (≥ 1).
    :param name: prefix of the worker threads' names.
    :param seed: seed of the victim-choice randomness (ignored if ``rng`` is given).
    :param rng: the randomness to draw each worker's own generator from.
    :param clock: monotonic seconds, for periodic jobs.
    :param lifo_cap: newest-first pops in a row before a worker takes its oldest job.
    :param inject_interval: a busy worker checks the injection queue first
        every this many iterations.
    :param exit_policy: what leaving the ``with`` block does with queued work.
    :param periodic: periodic jobs to register at construction.
    """

    def __init__(
        self,
        workers: int = 4,
        *,
        name: str = "scheduler",
        seed: int | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        lifo_cap: int = 32,
        inject_interval: int = 61,
        exit_policy: ShutdownPolicy = ShutdownPolicy.DRAIN,
        periodic: Iterable[PeriodicJobSpec] = (),
    ) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise SchedulerConfigError(f"workers must be an integer >= 1, got {workers!r}")
        if lifo_cap < 1:
            raise SchedulerConfigError(f"lifo_cap must be >= 1, got {lifo_cap!r}")
        if inject_interval < 1:
            raise SchedulerConfigError(f"inject_interval must be >= 1, got {inject_interval!r}")
        if not isinstance(exit_policy, ShutdownPolicy):
            raise SchedulerConfigError(f"exit_policy must be a ShutdownPolicy, got {exit_policy!r}")
        source = rng if rng is not None else random.Random(seed)
        self._name = name
        self._clock = clock
        self._lifo_cap = lifo_cap
        self._inject_interval = inject_interval
        self._exit_policy = exit_policy
        self._workers = tuple(
            _Worker(i, random.Random(source.getrandbits(64))) for i in range(workers)
        )
        self._injector: deque[Runnable] = deque()
        self._urgent: deque[Runnable] = deque()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._state = _State.NEW
        self._cancelling = False
        self._parked: list[_Worker] = []
        self._keeper: _Worker | None = None
        self._alive = 0
        self._injected = 0
        self._cancelled_in_queue = 0
        self._terminated: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._periodic = PeriodicTable(clock)
        for spec in periodic:
            self._periodic.add(spec)

    # -- lifecycle ----------------------------------------------------------

    @property
    def name(self) -> str:
        """Prefix of the worker threads' names."""
        return self._name

    @property
    def worker_count(self) -> int:
        """Number of worker threads."""
        return len(self._workers)

    def start(self) -> Self:
        """Start the worker threads (``with`` and ``async with`` do it for you)."""
        with self._lock:
            if self._state in (_State.CLOSING, _State.CLOSED):
                raise PoolClosed(f"pool {self._name!r} is {self._state.value}: it cannot start")
            if self._state is not _State.NEW:
                raise PoolStateError(
                    f"pool {self._name!r} was already started ({self._state.value})"
                )
            self._state = _State.RUNNING
            self._alive = len(self._workers)
        started = 0
        try:
            for w in self._workers:
                t = threading.Thread(
                    target=self._worker_main,
                    args=(w,),
                    name=f"{self._name}-worker-{w.index}",
                    daemon=True,
                )
                w.thread = t
                t.start()
                started += 1
        except BaseException:  # e.g. "can't start new thread": undo, then re-raise
            with self._lock:
                self._alive -= len(self._workers) - started
                for w in self._workers[started:]:
                    w.thread = None
                none_alive = self._alive == 0
                if none_alive:
                    self._state = _State.CLOSED
            if none_alive:
                self._terminated.set_result(None)
            self.shutdown(wait=True, cancel_futures=True)
            raise
        return self

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work; drain (default) or cancel what is queued; join the workers.

        :param wait: block until every worker thread has exited.
        :param cancel_futures: cancel queued jobs instead of running them.
        :raises PoolStateError: ``wait=True`` from one of this pool's own jobs
            (a worker cannot join itself).
        """
        if wait and getattr(self._local, "worker", None) is not None:
            raise PoolStateError(
                f"shutdown(wait=True) called from a job of pool {self._name!r}: "
                "a worker cannot wait for itself; use shutdown(wait=False)"
            )
        with self._lock:
            never_started = self._state is _State.NEW
            if never_started:
                self._state = _State.CLOSED
            elif self._state is _State.RUNNING:
                self._state = _State.CLOSING
            if cancel_futures:
                self._cancelling = True
            self._wake_all_locked()
        self._periodic.close()
        if never_started and not self._terminated.done():
            self._terminated.set_result(None)
        if cancel_futures:
            self._cancel_queued()
        if wait:
            self._join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.shutdown(wait=True, cancel_futures=self._exit_policy is ShutdownPolicy.CANCEL)

    async def __aenter__(self) -> Self:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Shut down by ``exit_policy`` and wait for every worker without blocking the loop.

        If the waiting task is cancelled, queued work is cancelled too; the
        wait still lasts until running jobs finish (threads cannot be
        interrupted), and then the cancellation propagates.
        """
        self.shutdown(wait=False, cancel_futures=self._exit_policy is ShutdownPolicy.CANCEL)
        cancelled: asyncio.CancelledError | None = None
        while not self._terminated.done():
            try:
                await asyncio.shield(asyncio.wrap_future(self._terminated))
            except asyncio.CancelledError as exc:
                cancelled = exc
                self.shutdown(wait=False, cancel_futures=True)
        # Every worker has signalled its exit; joining waits only for the
        # threads to return from their last few bytecodes.
        self._join()
        if cancelled is not None:
            raise cancelled

    # -- submitting ---------------------------------------------------------

    def submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        """Schedule ``fn(*args, **kwargs)``; its result or exception goes to the returned future.

        Never blocks. From one of this pool's jobs, the job goes onto the
        calling worker's own deque; from anywhere else, onto the injection queue.

        :raises PoolNotStarted: before :meth:`start`.
        :raises PoolClosed: once shutdown has begun.
        """
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._submit_runnable(WorkItem(future, fn, args, kwargs))
        return future

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the pool and await its result (for actors).

        The event loop is never blocked: the job's future is bridged with
        :func:`asyncio.wrap_future`. Its exception is raised here. Cancelling
        the awaiting task cancels the job if it has not started; a job that
        has started runs to the end and its result is discarded.
        """
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def _submit_runnable(self, item: Runnable) -> None:
        w: _Worker | None = getattr(self._local, "worker", None)
        if w is not None:
            if self._state is not _State.RUNNING:
                raise self._refusal()
            w.deque.push(item)
            w.spawned += 1
            if self._parked:  # unlocked hint: Dekker pair with _park (module docstring)
                self._wake_one()
            return
        with self._lock:
            if self._state is not _State.RUNNING:
                raise self._refusal()
            self._injector.append(item)
            self._injected += 1
            if self._parked:
                self._wake_one_locked()

    def submit_urgent(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        """Like :meth:`submit`, but ahead of every queued job, from any thread.

        The job goes onto the *urgent queue*, which every worker looks at
        first, before its periodic table, the injection queue and its own
        deque: the next worker to finish its current job takes it. For short
        jobs that must keep a schedule while the pool is saturated (the
        maintenance ticks an event loop dispatches); urgent jobs run in
        submission order among themselves.

        :raises PoolNotStarted: before :meth:`start`.
        :raises PoolClosed: once shutdown has begun.
        """
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        item = WorkItem(future, fn, args, kwargs)
        with self._lock:
            if self._state is not _State.RUNNING:
                raise self._refusal()
            self._urgent.append(item)
            self._injected += 1
            if self._parked:
                self._wake_one_locked()
        return future

    def _refusal(self) -> PoolStateError:
        if self._state is _State.NEW:
            return PoolNotStarted(
                f"pool {self._name!r} is not started: use it in `with` or call start()"
            )
        return PoolClosed(f"pool {self._name!r} is {self._state.value}: it accepts no more work")

    # -- periodic jobs ------------------------------------------------------

    def schedule(self, spec: PeriodicJobSpec) -> PeriodicJob:
        """Register a periodic maintenance job (the hook other parts use).

        :raises DuplicateJobName: a job of that name is already registered.
        :raises PoolClosed: once shutdown has begun.
        """
        if self._state in (_State.CLOSING, _State.CLOSED):
            raise self._refusal()
        job = self._periodic.add(spec)
        self._timers_changed()
        return job

    def every(
        self,
        interval: float,
        fn: Callable[[], object],
        *,
        name: str,
        first_delay: float | None = None,
    ) -> PeriodicJob:
        """Run ``fn()`` every ``interval`` seconds; shorthand for :meth:`schedule`."""
        return self.schedule(PeriodicJobSpec(name, interval, fn, first_delay))

    def check_periodic(self) -> int:
        """Dispatch the periodic runs due by the pool's clock now; return how many.

        Workers do this on their own; call it after moving a virtual clock.
        """
        if self._state is not _State.RUNNING:
            return 0
        runs = self._periodic.collect_due(self._clock())
        for r in runs:
            try:
                self._submit_runnable(r)
            except PoolStateError:
                r.cancel()
        self._timers_changed()
        return len(runs)

    def _timers_changed(self) -> None:
        # The earliest deadline may have moved: the keeper re-reads it, or a
        # parked worker becomes the keeper.
        with self._lock:
            if self._keeper is not None:
                self._keeper.wake.set()
            elif self._parked:
                self._wake_one_locked()

    # -- statistics ---------------------------------------------------------

    def statistics(self) -> PoolStatistics:
        """A snapshot of the pool, its workers, their deques and the periodic jobs."""
        workers = tuple(w.snapshot() for w in self._workers)
        with self._lock:
            state = self._state.value
            injected = self._injected
            queued = len(self._injector) + len(self._urgent)
            parked = len(self._parked)
            cancelled_in_queue = self._cancelled_in_queue
        return PoolStatistics(
            state=state,
            workers=workers,
            submitted=injected + sum(w.spawned for w in workers),
            injected=injected,
            injection_queue=queued,
            parked=parked,
            completed=sum(w.completed for w in workers),
            failed=sum(w.failed for w in workers),
            cancelled=cancelled_in_queue + sum(w.cancelled for w in workers),
            steals=sum(w.steals for w in workers),
            periodic=self._periodic.statistics(),
        )

    def __repr__(self) -> str:
        return f"<WorkStealingPool {self._name!r} workers={len(self._workers)} {self._state.value}>"

    # -- worker side --------------------------------------------------------

    def _worker_main(self, w: _Worker) -> None:
        self._local.worker = w
        try:
            self._work_loop(w)
        except BaseException:
            logger.critical("scheduler_worker_crashed", exc_info=True, extra={"worker": w.index})
            raise
        finally:
            with self._lock:
                self._alive -= 1
                last = self._alive == 0
                if self._keeper is w:
                    self._keeper = None
                if last:
                    self._state = _State.CLOSED
            if last:
                self._terminated.set_result(None)

    def _work_loop(self, w: _Worker) -> None:
        own = w.deque
        periodic = self._periodic
        clock = self._clock
        lifo_cap = self._lifo_cap
        inject_interval = self._inject_interval
        since_injected = 0
        lifo_run = 0
        urgent = self._urgent
        while True:
            item: _Found = EMPTY
            if urgent:
                item = self._take_urgent(w)
                if item is not EMPTY:
                    self._execute(item, w)
                    continue
            due = periodic.next_due
            if due != _INF and due <= clock():
                self._dispatch_due(w)
            since_injected += 1
            if since_injected >= inject_interval:
                since_injected = 0
                item = self._take_injected(w)
            if item is EMPTY:
                if lifo_run >= lifo_cap:
                    lifo_run = 0
                    item = own.pop_oldest()
                    if item is not EMPTY:
                        w.fifo_pops += 1
                else:
                    item = own.pop()
                    if item is not EMPTY:
                        lifo_run += 1
                        w.lifo_pops += 1
            if item is EMPTY:
                lifo_run = 0
                item = self._take_injected(w)
                if item is EMPTY:
                    item = self._steal(w)
                    if item is EMPTY:
                        found = self._park(w)
                        if found is None:
                            return
                        if found is EMPTY:
                            continue
                        item = found
                        del found  # a parked worker must not keep its last job alive
            self._execute(item, w)

    def _execute(self, item: Runnable, w: _Worker) -> None:
        if self._cancelling:
            item.cancel()
            w.cancelled += 1
            return
        outcome = item.run()
        if outcome == DROPPED:
            w.cancelled += 1
        else:
            w.completed += 1
            if outcome == RAISED:
                w.failed += 1

    def _take_urgent(self, w: _Worker) -> _Found:
        if not self._urgent:
            return EMPTY
        try:
            item = self._urgent.popleft()
        except IndexError:  # another worker took the last one
            return EMPTY
        w.injected += 1
        return item

    def _take_injected(self, w: _Worker) -> _Found:
        if not self._injector:
            return EMPTY
        try:
            item = self._injector.popleft()
        except IndexError:  # another worker took the last one
            return EMPTY
        w.injected += 1
        return item

    def _steal(self, w: _Worker) -> _Found:
        workers = self._workers
        n = len(workers)
        if n == 1:
            return EMPTY
        first = w.rng.randrange(n - 1)
        for k in range(n - 1):
            victim = workers[(w.index + 1 + (first + k) % (n - 1)) % n]
            item = victim.deque.steal()
            if item is not EMPTY:
                w.steals += 1
                return item
        w.failed_sweeps += 1
        return EMPTY

    def _find_work(self, w: _Worker) -> _Found:
        item = self._take_urgent(w)
        if item is EMPTY:
            item = self._take_injected(w)
        if item is EMPTY:
            item = w.deque.pop()
            if item is not EMPTY:
                w.lifo_pops += 1
            else:
                item = self._steal(w)
        return item

    def _park(self, w: _Worker) -> _Found | None:
        """Block until woken; return work found on the way, EMPTY, or None to exit."""
        timeout: float | None = None
        with self._lock:
            running = self._state is _State.RUNNING
            if running:
                w.wake.clear()
                w.parked = True
                self._parked.append(w)
                due = self._periodic.next_due
                if self._keeper is None and due != _INF:
                    self._keeper = w
                    timeout = max(0.0, due - self._clock())
        # Look once more *after* announcing: see "Parking and waking".
        item = self._find_work(w)
        if item is not EMPTY:
            if running:
                self._unpark(w, pass_duty=True)
            return item
        if not running:
            return None
        w.parks += 1
        woken = w.wake.wait(timeout)
        # Woken for work (not by its deadline), a keeper may now be busy for a
        # long time: it hands the timer duty to another parked worker.
        self._unpark(w, pass_duty=woken)
        return EMPTY

    def _unpark(self, w: _Worker, *, pass_duty: bool) -> None:
        with self._lock:
            if w.parked:
                w.parked = False
                self._parked.remove(w)
            if self._keeper is w:
                self._keeper = None
                if pass_duty and self._parked and self._periodic.next_due != _INF:
                    self._wake_one_locked()

    def _wake_one(self) -> None:
        with self._lock:
            if self._parked:
                self._wake_one_locked()

    def _wake_one_locked(self) -> None:
        # The most recently parked worker, but not the timer keeper if another will do.
        parked = self._parked
        i = len(parked) - 1
        if i > 0 and parked[i] is self._keeper:
            i -= 1
        w = parked.pop(i)
        w.parked = False
        w.wake.set()

    def _wake_all_locked(self) -> None:
        for w in self._parked:
            w.parked = False
            w.wake.set()
        self._parked.clear()

    def _dispatch_due(self, w: _Worker) -> None:
        if self._state is not _State.RUNNING:
            return
        for r in self._periodic.collect_due(self._clock()):
            w.deque.push(r)
            if self._parked:
                self._wake_one()

    # -- shutdown -----------------------------------------------------------

    def _cancel_queued(self) -> None:
        cancelled = 0
        for queue in (self._urgent, self._injector):
            while True:
                try:
                    item = queue.popleft()
                except IndexError:
                    break
                item.cancel()
                cancelled += 1
        for w in self._workers:
            while (stolen := w.deque.steal()) is not EMPTY:
                stolen.cancel()
                cancelled += 1
        with self._lock:
            self._cancelled_in_queue += cancelled

    def _join(self) -> None:
        for w in self._workers:
            if w.thread is not None:
                w.thread.join()
