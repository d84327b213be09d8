"""``ActorSystem``: spawns, finds and stops actors, and owns every task they need.

The system is an async context manager. Leaving it stops every top-level
actor in reverse spawn order (each one's children first), fails pending asks
with :class:`~actors.SystemShutdown`, and leaves no task behind.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar, TypeVarTuple, overload

import msgspec
import structlog

from ._cell import ActorCell, CellState, Guardian
from ._clock import Clock, LoopClock
from ._deadletters import DeadLetters
from ._deadlines import AskDeadlines, clock_reader
from ._errors import ActorNotFound, SystemNotRunning
from ._maintenance import DEFAULT_MAINTENANCE_WORKERS, Maintenance
from .supervision._spec import ChildSpec, Restart, SupervisorFlags, child_spec

if TYPE_CHECKING:
    from collections.abc import Coroutine, Mapping
    from types import TracebackType

    from ._actor import Actor
    from ._filters import DeliveryFilters
    from ._mailbox import MailboxConfig
    from ._ref import ActorRef
    from .supervision._spec import Directives
from ._topics import Topics
from ._virtual import VirtualActors, VirtualRef, VirtualStatistics

__all__ = ["ActorSystem", "SystemStatistics"]

logger = structlog.get_logger("actors")

A = TypeVar("A")
Ts = TypeVarTuple("Ts")


DeliveryHook = Callable[[str, object, "int | None"], None]
"""Called with (actor path, message, ask correlation id or None) as each message is delivered."""


class RemoteResolver(Protocol):
    """Resolves network addresses to refs (:class:`actors.remote.RemoteNode` is one)."""

    def ref(self, address: str) -> ActorRef[Any]: ...


class RecordSink(Protocol):
    """What the runtime and its roles need of a ledger: append without waiting.

    :class:`actors.ledger.Ledger` is one. The system records deliveries into
    it (``record_deliveries``) and the roles their job transitions; both take
    any object with this method, so neither depends on the ledger wing.
    """

    def append_nowait(self, kind: str, payload: object) -> object:
        """Append a record of ``kind``; never waits (raises if it cannot take it)."""
        ...


DELIVERY_RECORD_KIND = "delivery"


class SystemStatistics(msgspec.Struct, frozen=True):
    """A snapshot of one actor system."""

    name: str
    running: bool
    actors: int
    messages_processed: int
    restarts: int
    failures: int
    dead_letters: int
    background_tasks: int


class ActorSystem:
    """A tree of actors on one asyncio event loop.

    ``clock`` and ``seed``/``rng`` are the seams for deterministic tests: every
    timer, timeout and backoff reads ``clock``; every random choice (backoff
    jitter) draws from ``rng``.

    Observing deliveries costs nothing unless asked for:

    * ``trace_messages=True`` logs a ``message_received`` debug event per message;
    * ``on_deliver`` is called with (actor path, message, correlation id) as each
      message is handed to ``receive``;
    * with a ``ledger``, ``record_deliveries=True`` appends a ``delivery`` record
      for every message of every actor; an actor class can opt in or out on its
      own with ``record_deliveries = True/False``.

    ``maintenance_workers`` sizes the work-stealing pool behind
    :attr:`maintenance` (default 2 threads, started on first use and joined
    when the system stops; ``0`` runs maintenance jobs inline on the event
    loop, with no thread at all).
    """

    def __init__(
        self,
        name: str = "tadpole",
        *,
        clock: Clock | None = None,
        seed: int | None = None,
        rng: random.Random | None = None,
        guardian_flags: SupervisorFlags | None = None,
        trace_messages: bool = False,
        on_deliver: DeliveryHook | None = None,
        ledger: RecordSink | None = None,
        record_deliveries: bool = False,
        maintenance_workers: int = DEFAULT_MAINTENANCE_WORKERS,
    ) -> None:
        if not name or "/" in name or "@" in name:
            raise ValueError(f"system name must be non-empty, without '/' or '@': {name!r}")
        self.name = name
        """The system's name, the first part of its actors' addresses."""
        self.clock: Clock = clock if clock is not None else LoopClock()
        """The clock every timer, timeout and backoff of this system reads."""
        self.random = rng if rng is not None else random.Random(seed)
        """The seeded random source every random choice of this system draws from."""
        self.maintenance = Maintenance(name, self.clock, maintenance_workers)
        """Periodic and one-off jobs on this system's work-stealing pool (see
        :class:`~actors.Maintenance`): ``every(name, interval, fn)``,
        ``await run(fn, *args)``."""
        if record_deliveries and ledger is None:
            raise ValueError("record_deliveries=True needs a ledger to record into")
        self.trace_messages = trace_messages
        self.on_deliver = on_deliver
        self.ledger = ledger
        self.record_deliveries = record_deliveries
        self._logs_info = _info_enabled()
        """Whether info events pass the application's structlog level filter (``False``
        when the application configured no logging at all).

        Read once, when the system is made: structlog's lazy logger costs
        microseconds per call even when the level is filtered out, which
        per-actor lifecycle events (a hundred thousand spawns) would pay."""
        self.dead_letters = DeadLetters(log_info=self._logs_info)
        """Messages that could not be delivered: counted, kept (the latest), observable."""
        self.topics = Topics(self.dead_letters)
        """Publish/subscribe by topic name inside this system."""
        self._guardian = Guardian(self, guardian_flags or SupervisorFlags())
        self._virtual = VirtualActors(self, guardian_flags or SupervisorFlags())
        self._cells: dict[str, ActorCell] = {}
        # Delivery filters by cell, for the actors that have (or had) some: kept
        # here rather than in a slot of every cell, so the others pay nothing.
        self._delivery_filters: dict[ActorCell, DeliveryFilters] = {}
        self._background: dict[asyncio.Task[Any], None] = {}
        self._asks = 0
        """Asks started (local ones and those delivered from remote peers): also the last
        correlation id given out, each ask taking ``_asks + 1`` (unique within this system)."""
        self.ask_timeouts = 0
        """Local asks that ended in :class:`~actors.AskTimeout` (counted off the hot path)."""
        # What stopped actors' cells had counted, so totals never go backwards
        # (added when a cell leaves the registry: once per actor, not per message).
        self._retired = [0, 0, 0, 0, 0]
        self._ask_deadlines: AskDeadlines | None = None
        """The deadlines of local asks with a timeout, on one timer (made on first use)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        """The loop the system runs on, while it runs: an ask makes its future with
        ``asyncio.Future(loop=...)`` (what ``create_future`` returns on asyncio's
        and uvloop's loops) without looking the loop up, which costs a ``getpid``
        system call in 3.11; ``None`` (not entered, or shut down): the running loop."""
        self._running = False
        self.stopping = False
        self._remote: RemoteResolver | None = None

    # -- lifetime --------------------------------------------------------------

    async def __aenter__(self) -> Self:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise SystemNotRunning(
                "ActorSystem runs on asyncio (use anyio's asyncio backend, optionally uvloop)"
            ) from None
        if self._running or self.stopping:
            raise SystemNotRunning(f"actor system {self.name!r} cannot be entered twice")
        self._running = True
        self._loop = loop
        self.maintenance._attach()
        use_maintenance = getattr(self.ledger, "use_maintenance", None)
        if use_maintenance is not None:  # a ledger's fsyncs and WAL copies: on our pool
            use_maintenance(self.maintenance)
        logger.info("system_started", system=self.name)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()

    async def shutdown(self) -> None:
        """Stop every actor (newest top-level first, children first) and every task."""
        if not self._running:
            return
        self.stopping = True
        self.maintenance._stop_ticking()
        try:
            await self._cancel_background()
            await self._virtual.shutdown()
            await self._guardian.stop_children()
            # Stopping may have scheduled more work (stops, link failures): finish it.
            await self._cancel_background()
        finally:
            deadlines, self._ask_deadlines = self._ask_deadlines, None
            if deadlines is not None:  # every local ask is over: its actor stopped
                deadlines.close()
            # After the actors: their stop hooks may still run maintenance jobs.
            await self.maintenance._aclose()
            self._running = False
            self._loop = None
            self._guardian.state = CellState.STOPPED
            logger.info("system_stopped", system=self.name)

    async def _cancel_background(self) -> None:
        while self._background:
            tasks = list(self._background)
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)

    @property
    def running(self) -> bool:
        return self._running and not self.stopping

    def _check_running(self) -> None:
        if not self._running or self.stopping:
            state = "shutting down" if self.stopping else "not running (use `async with`)"
            raise SystemNotRunning(f"actor system {self.name!r} is {state}")

    # -- actors ----------------------------------------------------------------

    @overload
    async def spawn(
        self,
        factory: Callable[[*Ts], Actor[A]],
        *args: *Ts,
        name: str | None = None,
        kwargs: None = None,
        restart: Restart = Restart.PERMANENT,
        shutdown: float = 5.0,
        mailbox: MailboxConfig | None = None,
        directives: Directives | None = None,
    ) -> ActorRef[A]: ...
    @overload
    async def spawn(
        self,
        factory: Callable[..., Actor[A]],
        *args: Any,
        name: str | None = None,
        kwargs: Mapping[str, Any],
        restart: Restart = Restart.PERMANENT,
        shutdown: float = 5.0,
        mailbox: MailboxConfig | None = None,
        directives: Directives | None = None,
    ) -> ActorRef[A]: ...
    # mypy cannot match ``*args: *Ts`` against an implementation's ``*args: Any``
    # (it reports even ``factory: Any`` as not accepting signature 1), hence the ignore.
    async def spawn(  # type: ignore[misc]
        self,
        factory: Callable[..., Actor[Any]],
        *args: Any,
        name: str | None = None,
        kwargs: Mapping[str, Any] | None = None,
        restart: Restart = Restart.PERMANENT,
        shutdown: float = 5.0,
        mailbox: MailboxConfig | None = None,
        directives: Directives | None = None,
    ) -> ActorRef[Any]:
        """Start a top-level actor under ``/user``; its ref is typed by the messages it takes.

        ``factory`` (usually the actor class) is called with ``args`` and
        ``kwargs`` now and again for every restart, so each incarnation is a
        fresh instance. Errors from the factory itself are raised here.
        ``directives`` (what a failure in ``receive`` means) overrides the
        actor class's own.

        For a type checker, ``spawn(Counter, 1)`` returns an ``ActorRef[M]``
        where ``Counter`` is an ``Actor[M]``, and checks ``args`` against
        ``Counter``'s constructor. Keyword arguments given as the ``kwargs``
        mapping are not checked; pass ``lambda: Counter(start=1)`` (or a
        ``functools.partial``) as the factory to have them checked.

        ``spawn`` and :meth:`spawn_spec` are coroutines: starting an actor
        never waits today (it registers the actor, which starts on its first
        message or at once if it has an ``on_start``), and returns without
        suspending, but the coroutine leaves room for a spawn that must wait
        (for placement, or on another node) without changing every caller.
        Inside an actor, :meth:`ActorContext.spawn_nowait
        <actors.ActorContext.spawn_nowait>` serves synchronous code.
        """
        spec = child_spec(
            factory,
            args,
            name=name,
            kwargs=kwargs,
            restart=restart,
            shutdown=shutdown,
            mailbox=mailbox,
            directives=directives,
        )
        return self._guardian.spawn_child(spec).ref

    async def spawn_spec(self, spec: ChildSpec) -> ActorRef[Any]:
        """Start a top-level actor from a :class:`~actors.supervision.ChildSpec`.

        A coroutine like :meth:`spawn`. The ref is untyped (``ActorRef[Any]``):
        a spec's factory and arguments are data; annotate the variable
        (``ref: ActorRef[Get] = await system.spawn_spec(spec)``) to type it.
        """
        return self._guardian.spawn_child(spec).ref

    def virtual(
        self,
        factory: Callable[[str], Actor[A]],
        key: str,
        *,
        idle_after: float | None = None,
    ) -> VirtualRef[A]:
        """A ref to the actor of type ``factory`` and ``key``, activated on its first message.

        The factory is called with the key. After ``idle_after`` seconds
        (default 300) with nothing queued or running, the activation is
        stopped; the next message activates a fresh one. The ref is typed by
        the messages the actor takes, like :meth:`spawn`'s.
        """
        return self._virtual.ref(factory, key, idle_after=idle_after)

    def virtual_statistics(self) -> VirtualStatistics:
        return self._virtual.statistics()

    def ref(self, address: str) -> ActorRef[Any]:
        """The ref for a path (``/user/x``), a local address (``tadpole://NAME/user/x``)
        or, once a :class:`~actors.remote.RemoteNode` serves this system, a remote
        address (``tadpole://node@host:port/user/x``): location transparency.

        Raises :class:`ActorNotFound` for a local path with no actor, and
        :class:`ValueError` for a remote address while no node serves the system.
        """
        if address.startswith("/"):
            return self.lookup(address)
        local = f"tadpole://{self.name}/"
        if address.startswith(local):
            return self.lookup(address[len(local) - 1 :])
        if self._remote is None:
            raise ValueError(
                f"{address!r} is not an address of system {self.name!r}, and no RemoteNode "
                "serves this system to reach other nodes"
            )
        return self._remote.ref(address)

    def _attach_remote(self, resolver: RemoteResolver) -> None:
        """Let :meth:`ref` resolve remote addresses through ``resolver`` (a RemoteNode)."""
        if self._remote is not None and self._remote is not resolver:
            raise ValueError(f"system {self.name!r} is already served by a RemoteNode")
        self._remote = resolver

    def _detach_remote(self, resolver: RemoteResolver) -> None:
        if self._remote is resolver:
            self._remote = None

    def lookup(self, path: str) -> ActorRef[Any]:
        """The ref of the actor at ``path`` (``/user/a/b``); raises :class:`ActorNotFound`."""
        cell = self._cells.get(path)
        if cell is None:
            raise ActorNotFound(path)
        return cell.ref

    async def stop(self, ref: ActorRef[Any], *, graceful: bool = False) -> None:
        """Stop the actor for good, children first; return once it has stopped.

        Immediate (the default): after its current message; what is still
        queued goes to dead letters and pending asks fail with
        :class:`~actors.ActorStopped`. ``graceful=True``: after every message
        already accepted, like a poison pill; anything sent after this call
        goes to dead letters. Either way the actor is not restarted.
        """
        cell = self._cells.get(ref.path)
        if cell is None or cell.ref != ref:
            return
        if graceful:
            await cell.stop_gracefully()
        else:
            await cell.stop()

    @property
    def actors(self) -> tuple[ActorRef[Any], ...]:
        """Every live actor's ref."""
        return tuple(cell.ref for cell in self._cells.values())

    # -- for cells, and for the wings through actors.lowlevel -------------------

    def _register(self, cell: ActorCell) -> bool:
        """Claim the cell's path; ``False`` if a live actor already has it."""
        return self._cells.setdefault(cell.path, cell) is cell

    def _unregister(self, cell: ActorCell) -> None:
        if self._cells.get(cell.path) is cell:
            del self._cells[cell.path]
            retired = self._retired
            retired[0] += cell.processed
            retired[1] += cell.enqueued
            retired[2] += cell.restart_count
            retired[3] += cell.failures
            retired[4] += cell.dropped_newest + cell.dropped_oldest + cell.rejected

    def _totals(self) -> tuple[int, int, int, int, int, int, int]:
        """Lifetime totals: processed, enqueued, restarts, failures, dropped, asks, timeouts."""
        processed, enqueued, restarts, failures, dropped = self._retired
        for cell in self._cells.values():
            processed += cell.processed
            enqueued += cell.enqueued
            restarts += cell.restart_count
            failures += cell.failures
            dropped += cell.dropped_newest + cell.dropped_oldest + cell.rejected
        return processed, enqueued, restarts, failures, dropped, self._asks, self.ask_timeouts

    def _cell_at(self, path: str) -> ActorCell | None:
        return self._cells.get(path)

    def _make_ask_deadlines(self) -> AskDeadlines:
        """The deadlines of this system's local asks, on the running loop's time."""
        loop = asyncio.get_running_loop()
        deadlines = self._ask_deadlines = AskDeadlines(self.clock, clock_reader(self.clock, loop))
        return deadlines

    def _create_actor_task(self, coro: Coroutine[Any, Any, None], path: str) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(coro, name=path)

    def _spawn_background(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """Run runtime work (a restart, a stop) as a task this system owns."""
        if not self._running:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._background[task] = None
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self._background.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            logger.error("runtime_task_failed", task=task.get_name(), error=repr(task.exception()))

    def _delivery_observer(self, cell: ActorCell, instance: Actor[Any]) -> DeliveryHook | None:
        """What the actor's loop calls per delivery; ``None`` (the usual case) costs nothing."""
        hooks: list[DeliveryHook] = []
        if self.trace_messages:
            hooks.append(_log_delivery)
        if self.on_deliver is not None:
            hooks.append(self.on_deliver)
        record = instance.record_deliveries
        if record is None:
            record = self.record_deliveries
        if record:
            if self.ledger is None:
                logger.warning(
                    "delivery_recording_unavailable", actor=cell.path, reason="no ledger"
                )
            else:
                hooks.append(_LedgerRecorder(self.ledger))
        if not hooks:
            return None
        if len(hooks) == 1:
            return hooks[0]

        def observe_all(path: str, message: object, correlation_id: int | None) -> None:
            for hook in hooks:
                hook(path, message, correlation_id)

        return observe_all

    def statistics(self) -> SystemStatistics:
        cells = self._cells.values()
        return SystemStatistics(
            name=self.name,
            running=self.running,
            actors=len(self._cells),
            messages_processed=sum(cell.processed for cell in cells),
            restarts=sum(cell.restart_count for cell in cells),
            failures=sum(cell.failures for cell in cells),
            dead_letters=self.dead_letters.count,
            background_tasks=len(self._background),
        )

    def __repr__(self) -> str:
        return f"ActorSystem({self.name!r}, actors={len(self._cells)})"


def _info_enabled() -> bool:
    """Whether per-actor info events (lifecycle, dead letters) are logged: only when the
    application configured structlog and its filter lets info through. Unconfigured,
    structlog prints everything, and 10,000 actors would be 20,000 lines."""
    if not structlog.is_configured():
        return False
    bound = structlog.get_logger("actors").bind()
    is_enabled_for = getattr(bound, "is_enabled_for", None)
    return True if is_enabled_for is None else bool(is_enabled_for(logging.INFO))


def _log_delivery(path: str, message: object, correlation_id: int | None) -> None:
    logger.debug(
        "message_received",
        actor=path,
        msg_type=type(message).__qualname__,
        correlation_id=correlation_id,
    )


class _LedgerRecorder:
    """Appends one ``delivery`` record per message; never fails the actor."""

    __slots__ = ("_ledger",)

    def __init__(self, ledger: RecordSink) -> None:
        self._ledger = ledger

    def __call__(self, path: str, message: object, correlation_id: int | None) -> None:
        payload: dict[str, object] = {
            "actor": path,
            "msg_type": _message_tag(message),
            "correlation_id": correlation_id,
            "message": message,
        }
        try:
            self._ledger.append_nowait(DELIVERY_RECORD_KIND, payload)
        except Exception as exc:
            # A message that cannot be encoded is recorded by type only; a ledger
            # that refuses (closed, full) is logged: recording never fails delivery.
            payload["message"] = None
            try:
                self._ledger.append_nowait(DELIVERY_RECORD_KIND, payload)
            except Exception:
                logger.warning("delivery_not_recorded", actor=path, error=repr(exc))


def _message_tag(message: object) -> str:
    config = getattr(type(message), "__struct_config__", None)
    tag = getattr(config, "tag", None)
    return tag if isinstance(tag, str) else type(message).__qualname__
