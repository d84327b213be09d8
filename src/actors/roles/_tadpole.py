"""The tadpole: a worker actor that runs job handlers and heartbeats while it works.

A tadpole has a uuid4 id (drawn from the system's seeded ``random.Random``,
and kept across restarts because its supervisor passes it in) and a
specialization (default ``generalist``). It runs up to ``thread_budget``
jobs at once (default 4, at most 16): an ``async def`` handler on the event
loop, a plain function in a worker thread, within the tadpole's own thread
budget and the shared pool's cap (128 threads). Every job ends in exactly one
:class:`JobReport` to its supervisor: success, or failure with a reason.

While it runs jobs, it sends a :class:`Heartbeat` every ``heartbeat_interval``
seconds from its own timer on the event loop, never from a job's thread, so a
CPU-bound job cannot silence it; each beat carries each job's progress.

Stopping or restarting a tadpole cancels its jobs; a thread that is already
running is asked to stop (``JobContext.cancelled``) and waited for, up to
``thread_grace`` seconds, before the tadpole reports the run as ended. So an
attempt is never still running when its supervisor retries it. Run requests
carry the incarnation they were meant for: a restarted tadpole refuses those
sent to its previous incarnation.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

import anyio
import anyio.to_thread

from protocol import Message

from .. import Actor, ActorError
from ._errors import HandlerNotFound, TadpoleCrashed
from ._messages import (
    BeatEntry,
    CancelRun,
    Crash,
    GetTadpoleStatus,
    Heartbeat,
    JobReport,
    RunJob,
    SetThreadBudget,
    TadpoleRestarted,
    TadpoleStatus,
)

if TYPE_CHECKING:
    import random
    from collections.abc import Mapping

    from .. import ActorRef

__all__ = [
    "DEFAULT_THREAD_BUDGET",
    "MAX_THREADS",
    "MAX_THREADS_PER_TADPOLE",
    "Handler",
    "JobContext",
    "Tadpole",
    "ThreadPool",
    "new_tadpole_id",
]

DEFAULT_THREAD_BUDGET = 4
"""Runs a tadpole may have at once unless told otherwise."""
MAX_THREADS_PER_TADPOLE = 16
"""The largest thread budget of one tadpole."""
MAX_THREADS = 128
"""Threads of all tadpoles of a supervisor together (the shared pool's cap)."""


def new_tadpole_id(rng: random.Random) -> str:
    """A uuid4 drawn from ``rng`` (so a seed reproduces a run)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class _Beat(Message, tag="roles.tadpole_beat"):
    pass


# -- jobs -------------------------------------------------------------------------------


class JobContext:
    """What a handler gets: its job, its shard, progress reporting and a cancel flag.

    ``progress()`` and ``cancelled`` are safe to use from a worker thread.
    """

    def __init__(self, run: RunJob, tadpole_id: str) -> None:
        self.job = run.job
        self.attempt = run.attempt
        self.shard = run.shard
        self.shards = run.shards
        self.granted = run.granted
        self.tadpole_id = tadpole_id
        self._progress = 0.0
        self._cancel = threading.Event()

    def progress(self, fraction: float) -> None:
        """Report progress in ``0..1``; the next heartbeat carries it."""
        self._progress = min(1.0, max(0.0, float(fraction)))

    @property
    def reported_progress(self) -> float:
        return self._progress

    @property
    def cancelled(self) -> bool:
        """True once the run is cancelled: a sync handler should return soon."""
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()


Handler: TypeAlias = Callable[[JobContext], Any]  # Any: a result, or an awaitable of one
"""A job handler: ``async def handler(ctx)`` runs on the loop, ``def handler(ctx)`` in a thread."""


class ThreadPool:
    """The cap shared by a supervisor's tadpoles (128 threads by default)."""

    def __init__(self, threads: int = MAX_THREADS) -> None:
        if not 1 <= threads <= MAX_THREADS:
            raise ValueError(f"a thread pool has 1..{MAX_THREADS} threads, got {threads}")
        self.threads = threads
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.threads)
        return self._limiter

    @property
    def in_use(self) -> int:
        return 0 if self._limiter is None else self._limiter.borrowed_tokens


class _Run:
    __slots__ = ("context", "finished", "started", "task")

    def __init__(self, context: JobContext) -> None:
        self.context = context
        self.task: asyncio.Task[None] | None = None
        self.started = False
        self.finished: asyncio.Future[None] | None = None


# -- the actor --------------------------------------------------------------------------


class Tadpole(Actor[Message]):
    """A worker actor; see the module docstring.

    ``handlers`` maps a job's ``objective`` to its handler; the key ``"*"``
    is the default. ``report_to`` receives reports and heartbeats (default:
    the parent, usually a :class:`~actors.roles.JobSupervisor`).
    """

    record_deliveries: ClassVar[bool | None] = False

    def __init__(
        self,
        tadpole_id: str,
        handlers: Mapping[str, Handler],
        *,
        specialization: str = "generalist",
        thread_budget: int = DEFAULT_THREAD_BUDGET,
        pool: ThreadPool | None = None,
        heartbeat_interval: float = 0.5,
        thread_grace: float = 30.0,
        report_to: ActorRef[Any] | None = None,
    ) -> None:
        if not 1 <= thread_budget <= MAX_THREADS_PER_TADPOLE:
            raise ValueError(
                f"thread_budget must be in 1..{MAX_THREADS_PER_TADPOLE}, got {thread_budget}"
            )
        if heartbeat_interval <= 0:
            raise ValueError(f"heartbeat_interval must be > 0, got {heartbeat_interval}")
        self.tadpole_id = tadpole_id
        self.specialization = specialization
        self.handlers = handlers
        self.thread_budget = thread_budget
        self.pool = pool
        self.heartbeat_interval = heartbeat_interval
        self.thread_grace = thread_grace
        self._report_to = report_to
        self._runs: dict[tuple[str, int, int], _Run] = {}
        self._limiter: anyio.CapacityLimiter | None = None
        self._beating = False
        self._stopping = False
        self.completed = 0
        self.failed = 0

    # -- lifecycle ------------------------------------------------------------------

    async def on_start(self) -> None:
        context = self.context
        self._ctx = context
        self._clock = context.system.clock
        self._target = self._report_to or context.parent

    async def on_restart(self, reason: BaseException) -> None:
        await self.on_start()
        self._tell(
            TadpoleRestarted(
                tadpole_id=self.tadpole_id,
                incarnation=self.context.restart_count,
                reason=repr(reason),
            )
        )

    async def on_stop(self) -> None:
        self._stopping = True
        runs = list(self._runs.values())
        tasks = [run.task for run in runs if run.task is not None and not run.task.done()]
        for run in runs:
            run.context.cancel()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    # -- messages -------------------------------------------------------------------

    async def receive(self, message: Message) -> Any:
        if isinstance(message, RunJob):
            self._start(message)
        elif isinstance(message, _Beat):
            self._heartbeat()
        elif isinstance(message, CancelRun):
            for key, run in list(self._runs.items()):
                if key[0] == message.job_id and key[1] == message.attempt:
                    run.context.cancel()
                    if run.task is not None:
                        run.task.cancel()
        elif isinstance(message, SetThreadBudget):
            threads = message.threads
            if not 1 <= threads <= MAX_THREADS_PER_TADPOLE:
                self.context.log.warning("thread_budget_refused", threads=threads)
            else:
                self.thread_budget = threads
                if self._limiter is not None:
                    self._limiter.total_tokens = threads
        elif isinstance(message, GetTadpoleStatus):
            return self.status()
        elif isinstance(message, Crash):
            raise TadpoleCrashed(message.reason)
        return None

    def status(self) -> TadpoleStatus:
        return TadpoleStatus(
            tadpole_id=self.tadpole_id,
            specialization=self.specialization,
            thread_budget=self.thread_budget,
            incarnation=self.context.restart_count,
            running=tuple(sorted({key[0] for key in self._runs})),
            completed=self.completed,
            failed=self.failed,
        )

    # -- running jobs ---------------------------------------------------------------

    def _start(self, run: RunJob) -> None:
        key = (run.job.job_id, run.attempt, run.shard)
        context = self._ctx
        if run.incarnation != context.restart_count:
            self._report(key, ok=False, reason="stale incarnation", duration=0.0)
            return
        if key in self._runs:
            return  # already running: a duplicate request is not a second run
        state = _Run(JobContext(run, self.tadpole_id))
        self._runs[key] = state
        state.task = asyncio.get_running_loop().create_task(
            self._execute(key, state), name=f"{context.path}:{key[0]}#{key[1]}.{key[2]}"
        )
        if not self._beating:
            self._beating = True
            context.timers.send_periodically(self.heartbeat_interval, _Beat(), key="beat")

    async def _execute(self, key: tuple[str, int, int], run: _Run) -> None:
        clock = self._clock
        started = clock.now()
        context = run.context
        try:
            handler = self.handlers.get(context.job.objective) or self.handlers.get("*")
            if handler is None:
                raise HandlerNotFound(context.job.objective)
            if inspect.iscoroutinefunction(handler):
                result = await handler(context)
            else:
                result = await self._in_thread(handler, run)
        except asyncio.CancelledError:
            context.cancel()
            if run.started and run.finished is not None and not run.finished.done():
                # The thread runs on: wait for it, so the attempt has truly ended.
                await asyncio.wait({run.finished}, timeout=self.thread_grace)
            reason = "tadpole stopped" if self._stopping else "cancelled"
            self._finish(
                key, ok=False, reason=reason, duration=clock.now() - started, lost=self._stopping
            )
            raise
        except Exception as exc:
            self._finish(
                key, ok=False, reason=f"{type(exc).__name__}: {exc}", duration=clock.now() - started
            )
        else:
            self._finish(key, ok=True, reason="", duration=clock.now() - started, result=result)

    async def _in_thread(self, handler: Callable[[JobContext], Any], run: _Run) -> Any:
        loop = asyncio.get_running_loop()
        finished = run.finished = loop.create_future()
        context = run.context
        out: list[Any] = []

        def call() -> None:
            run.started = True
            try:
                if not context.cancelled:
                    out.append(handler(context))
            finally:
                loop.call_soon_threadsafe(_set_done, finished)

        limiter = self._limiter
        if limiter is None:
            limiter = self._limiter = anyio.CapacityLimiter(self.thread_budget)
        if self.pool is None:
            await anyio.to_thread.run_sync(call, limiter=limiter, abandon_on_cancel=True)
        else:
            async with self.pool.limiter:
                await anyio.to_thread.run_sync(call, limiter=limiter, abandon_on_cancel=True)
        return out[0] if out else None

    def _finish(
        self,
        key: tuple[str, int, int],
        *,
        ok: bool,
        reason: str,
        duration: float,
        lost: bool = False,
        result: Any = None,  # Any: the handler's return value
    ) -> None:
        self._runs.pop(key, None)
        if ok:
            self.completed += 1
        else:
            self.failed += 1
        self._report(key, ok=ok, reason=reason, duration=duration, lost=lost, result=result)
        if not self._runs and self._beating:
            self._beating = False
            with contextlib.suppress(ActorError):  # an ending incarnation has no timers left
                self._ctx.cancel_timer("beat")

    def _report(
        self,
        key: tuple[str, int, int],
        *,
        ok: bool,
        reason: str,
        duration: float,
        lost: bool = False,
        result: Any = None,  # Any: the handler's return value
    ) -> None:
        job_id, attempt, shard = key
        self._tell(
            JobReport(
                tadpole_id=self.tadpole_id,
                job_id=job_id,
                attempt=attempt,
                shard=shard,
                ok=ok,
                reason=reason,
                duration=duration,
                lost=lost,
                result=result,
            )
        )

    def _heartbeat(self) -> None:
        """Send one heartbeat for every running job (the timer calls this)."""
        if not self._runs:
            return
        self._tell(
            Heartbeat(
                tadpole_id=self.tadpole_id,
                at=self._clock.now(),
                jobs=tuple(
                    BeatEntry(
                        job_id=k[0],
                        attempt=k[1],
                        shard=k[2],
                        progress=run.context.reported_progress,
                    )
                    for k, run in self._runs.items()
                ),
            )
        )

    def _tell(self, message: Message) -> None:
        target = self._target
        if target is not None:
            target.tell(message)


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
