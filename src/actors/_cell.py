"""The runtime side of one actor: its mailbox, its loop, its incarnations.

An :class:`ActorCell` outlives the actor instances it runs: a restart builds a
new instance in the same cell, keeping the mailbox (nothing already accepted
is lost), the path, the watchers and every ref. The cell's loop takes one
message at a time and resolves the asker's future with ``receive``'s result;
an exception goes to the asker, and the actor's :class:`Directives` decide
what follows: resume with the next message, or restart, stop or escalate
through the parent's restart engine.

Any exception that is not cancellation fails the actor cleanly, a
``BaseException`` (``KeyboardInterrupt``, ``SystemExit``, a custom one)
included: the asker gets :class:`~actors.ActorFailed` caused by it, and the
actor is supervised like for any failure. Cancellation is never swallowed.

States::

    RUNNING --failure or normal exit--> FAILED --restart--> RUNNING
       |                                  |
       +--halt (sibling restart, escalation)--> HALTED --restart--> RUNNING
       |
       +--stop--> STOPPING --> STOPPED      (from any state)

A graceful stop closes the mailbox behind a marker and lets the loop reach it
(everything accepted before is handled, anything later is dead-lettered),
then stops as above.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import types
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import structlog

from ._actor import Actor
from ._errors import (
    ActorFailed,
    ActorNameTaken,
    ActorStopped,
    LinkedActorFailed,
    MailboxFull,
    SystemShutdown,
)
from ._mailbox import Mailbox
from ._ref import ActorRef, LocalActorRef, PendingAsk, current_cell
from ._timers import Timers
from ._validate import check_real
from ._watch import LinkExited, Terminated
from .supervision._engine import RestartEngine
from .supervision._spec import ChildSpec, Directive, Restart, SupervisorFlags

if TYPE_CHECKING:
    from collections.abc import Generator, Mapping

    from ._system import ActorSystem

__all__ = ["ActorCell", "CellState", "Guardian"]

logger = structlog.get_logger("actors")


_NO_CHILDREN: Mapping[str, ActorCell] = MappingProxyType({})

THROUGHPUT = 128
"""Messages an actor handles in a row before it yields the event loop to others."""

_HIBERNATE = object()
"""What the idle timer resolves a hibernating actor's waiter with."""

GRACEFUL_STOP = -1
"""The correlation id of the marker a graceful stop queues (real asks count from 1).

The marker is a :class:`PendingAsk` whose own future is already done, so the
loop meets it only in the rare branch for abandoned asks: the hot path pays
nothing for graceful stops. Its ``message`` is the future to resolve when the
loop reaches it."""


@types.coroutine
def _yield_to_loop() -> Generator[None, None, None]:
    """Let every other ready task run once (a bare yield, as ``asyncio.sleep(0)`` does)."""
    yield


class CellState(enum.Enum):
    RUNNING = "running"
    FAILED = "failed"
    HALTED = "halted"
    STOPPING = "stopping"
    STOPPED = "stopped"


class _Parent:
    """What every supervisor has: ordered children and one restart engine."""

    system: ActorSystem
    path: str
    state: CellState
    _children: dict[str, ActorCell] | None
    _engine: RestartEngine | None
    _next_anonymous: int

    # The slots for the attributes above are each subclass's own, so that
    # ActorCell can also take its layout from Mailbox (two bases that both have
    # slots cannot be combined). Hidden from the type checker, which would
    # otherwise refuse the assignments below to attributes not in _Parent's slots.
    if not TYPE_CHECKING:
        __slots__ = ()

    def _init_parent(self) -> None:
        # Created on first use: most actors never have children.
        self._children = None
        self._engine = None
        self._next_anonymous = 1

    @property
    def ref(self) -> ActorRef[Any] | None:
        raise NotImplementedError

    @property
    def children(self) -> Mapping[str, ActorCell]:
        """Children by name, in start order."""
        return self._children or _NO_CHILDREN

    @property
    def is_guardian(self) -> bool:
        return False

    @property
    def flags(self) -> SupervisorFlags:
        raise NotImplementedError

    @property
    def engine(self) -> RestartEngine:
        engine = self._engine
        if engine is None:
            engine = self._engine = RestartEngine(self, self.flags)
        return engine

    def spawn_child(self, spec: ChildSpec) -> ActorCell:
        system = self.system
        system._check_running()
        if self.state is not CellState.RUNNING:
            raise ActorStopped(self.path, "cannot spawn children while stopping or failed")
        if spec.name is not None:
            name = spec.name
        else:
            name = f"${self._next_anonymous}"
            self._next_anonymous += 1
        path = f"{self.path}/{name}"
        children = self._children
        if children is None:
            children = self._children = {}
        if name in children:
            raise ActorNameTaken(path)
        cell = ActorCell(system, self, spec, name, path)
        if not system._register(cell):
            raise ActorNameTaken(path)
        children[name] = cell
        try:
            cell.start_incarnation(None)
        except BaseException:
            del children[name]
            system._unregister(cell)
            cell.mailbox.close()
            cell.state = CellState.STOPPED
            raise
        return cell

    def forget_child(self, child: ActorCell) -> None:
        children = self._children
        if children is not None and children.get(child.name) is child:
            del children[child.name]

    async def stop_children(self) -> None:
        """Stop every child, newest first, each one's own children first.

        Returns once every child's loop task has ended. A child whose loop was
        parked (waiting for a message, so no user code to finish) is stopped
        without waiting for its task: it is woken to end, and all such tasks are
        awaited together at the end (one wait, not one per child and a loop
        cycle or three each). The order of everything observable (each child's
        ``on_stop``, its dead letters, its watchers' ``Terminated``) stays
        newest first, children before their parent.
        """
        ending: list[asyncio.Task[None]] = []
        for child in reversed(list(self.children.values())):
            task = await child._stop(reason="stopped", failed=False)
            if task is not None:
                ending.append(task)
        if ending:
            await asyncio.wait(ending)

    async def child_failed(
        self, child: ActorCell, reason: BaseException, *, normal: bool = False
    ) -> None:
        await self.engine.child_failed(child, reason, normal=normal)

    async def fail(self, reason: BaseException, culprit: ActorCell | None = None) -> None:
        """This supervisor gave up on ``culprit`` (or was failed from outside)."""
        raise NotImplementedError


class Guardian(_Parent):
    """A root of the actor tree (``/user``, ``/virtual``): supervises its children, never fails.

    When its restart intensity is exceeded it does not escalate (there is no
    one above it): it stops the failing actor for good and logs
    ``supervisor_gave_up``.
    """

    __slots__ = ("_children", "_engine", "_flags", "_next_anonymous", "path", "state", "system")

    def __init__(self, system: ActorSystem, flags: SupervisorFlags, path: str = "/user") -> None:
        self.system = system
        self.path = path
        self.state = CellState.RUNNING
        self._flags = flags
        self._init_parent()

    @property
    def is_guardian(self) -> bool:
        return True

    @property
    def ref(self) -> None:
        return None

    @property
    def flags(self) -> SupervisorFlags:
        return self._flags

    async def fail(self, reason: BaseException, culprit: ActorCell | None = None) -> None:
        if culprit is not None:
            await culprit.stop(reason=f"supervisor gave up: {reason}", failed=True)


class ActorCell(_Parent, Mailbox):
    """One actor's mailbox, loop task, instance, children, watchers and links.

    The cell *is* its actor's mailbox (it inherits :class:`Mailbox`) and makes
    its refs on demand, so an actor costs two objects the cyclic garbage
    collector must track (this cell and the actor instance) instead of four.
    At a hundred thousand actors the collector's full passes were half the
    cost of spawning them.
    """

    __slots__ = (
        "_children",
        "_engine",
        "_links",
        "_log",
        "_next_anonymous",
        "_stopped",
        "_timers",
        "_watchers",
        "_watching",
        "awaiting",
        "failures",
        "halt_requested",
        "instance",
        "name",
        "parent",
        "path",
        "processed",
        "restart_count",
        "spec",
        "state",
        "system",
        "task",
        "uid",
    )

    _uids = itertools.count(1)

    def __init__(
        self, system: ActorSystem, parent: _Parent, spec: ChildSpec, name: str, path: str
    ) -> None:
        self.system = system
        self.parent = parent
        self.spec = spec
        self.name = name
        self.path = path
        self.uid = next(ActorCell._uids)
        factory_mailbox = getattr(spec.factory, "mailbox", None)
        Mailbox.__init__(self, path, spec.mailbox or factory_mailbox or Actor.mailbox)
        self.state = CellState.RUNNING
        self.instance: Actor[Any] | None = None
        self.task: asyncio.Task[None] | None = None
        self.halt_requested = False
        self.awaiting: ActorCell | None = None
        self.restart_count = 0
        self.processed = 0
        self.failures = 0
        self._timers: Timers | None = None
        self._log: Any = None
        # Insertion-ordered (dicts, not sets): notifications go out in the order the
        # watches and links were made, so a seeded run replays identically.
        self._watchers: dict[ActorCell, None] | None = None
        self._watching: dict[ActorCell, None] | None = None
        self._links: dict[ActorCell, None] | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._init_parent()

    @property
    def mailbox(self) -> Mailbox:
        """This actor's mailbox: the cell itself (hot paths call its methods directly)."""
        return self

    @property
    def ref(self) -> LocalActorRef[Any]:
        """A ref to this actor; refs are made on demand and compare equal by cell."""
        return LocalActorRef(self)

    def __bool__(self) -> bool:
        # Mailbox defines __len__; a cell with an empty mailbox is still a cell.
        return True

    def __repr__(self) -> str:
        return f"<ActorCell {self.path} {self.state.value}>"

    # -- configuration -------------------------------------------------------

    @property
    def flags(self) -> SupervisorFlags:
        instance = self.instance
        if instance is not None:
            return instance.supervisor_flags
        flags: SupervisorFlags = getattr(self.spec.factory, "supervisor_flags", SupervisorFlags())
        return flags

    @property
    def timers(self) -> Timers:
        timers = self._timers
        if timers is None:
            if self.state is not CellState.RUNNING:
                raise ActorStopped(self.path, "timers need a running actor")
            timers = self._timers = Timers(self.system.clock, self.deliver_quietly)
        return timers

    @property
    def log(self) -> Any:  # Any: structlog's bound logger type depends on configuration
        if self._log is None:
            self._log = logger.bind(actor=self.path, actor_type=self.actor_type)
        return self._log

    @property
    def actor_type(self) -> str:
        factory = self.spec.factory
        return getattr(factory, "__qualname__", type(factory).__qualname__)

    # -- delivery --------------------------------------------------------------

    def deliver(self, message: object) -> None:
        """``tell``: enqueue now by the overflow policy, or dead-letter."""
        try:
            dropped = self.put_nowait(message)
        except ActorStopped:
            self.system.dead_letters.publish(self.path, message, "actor stopped")
            return
        if dropped is not None:
            self._dropped(dropped)

    def deliver_quietly(self, message: object) -> None:
        """Deliver for a sender that cannot be told (timers, watch, links): never raises.

        A full mailbox or a delivery filter's refusal sends the message to dead letters.
        """
        try:
            self.deliver(message)
        except MailboxFull:
            self.system.dead_letters.publish(self.path, message, "mailbox full")
        except Exception as error:  # only a delivery filter's refusal is left
            self.system.dead_letters.publish(self.path, message, refusal_reason(error))

    async def deliver_wait(self, message: object) -> None:
        """``send``: wait for room; a stopped actor dead-letters the message.

        A delivery filter's refusal is raised to the caller.
        """
        try:
            await self.put(message)
        except ActorStopped:
            self.system.dead_letters.publish(self.path, message, "actor stopped")

    async def deliver_wait_quietly(self, message: object) -> None:
        """:meth:`deliver_wait` for a sender that cannot be told (a tell from another
        node): a refusal sends the message to dead letters instead of raising."""
        try:
            await self.deliver_wait(message)
        except Exception as error:  # only a delivery filter's refusal is left
            self.system.dead_letters.publish(self.path, message, refusal_reason(error))

    async def deliver_ask(self, pending: PendingAsk) -> None:
        try:
            await self.put(pending)
        except ActorStopped:
            self.system.dead_letters.publish(self.path, pending.message, "actor stopped")
            raise self._stopped_error() from None

    def _dropped(self, item: object) -> None:
        reason = "mailbox full: dropped by overflow policy"
        logger.warning(
            "message_dropped",
            actor=self.path,
            msg_type=type(_message_of(item)).__qualname__,
            policy=self.mailbox.overflow.value,
        )
        if type(item) is PendingAsk:
            if not item.future.done():
                item.future.set_exception(MailboxFull(self.path, self.mailbox.capacity))
            self.system.dead_letters.publish(self.path, item.message, reason)
        else:
            self.system.dead_letters.publish(self.path, item, reason)

    def _stopped_error(self) -> ActorStopped:
        if self.system.stopping:
            return SystemShutdown(self.path, "the actor system is shutting down")
        return ActorStopped(self.path)

    # -- incarnations ----------------------------------------------------------

    def start_incarnation(self, reason: BaseException | None) -> None:
        """Build a fresh instance and start its loop. Raises if the factory does."""
        spec = self.spec
        if spec.kwargs:
            instance = spec.factory(*spec.args, **spec.kwargs)
        else:
            instance = spec.factory(*spec.args)
        if not isinstance(instance, Actor):
            raise TypeError(
                f"actor factory {self.actor_type} returned {type(instance).__qualname__}, "
                "not an Actor"
            )
        hibernate_after = type(instance).hibernate_after
        if hibernate_after is not None:
            check_real(self.actor_type, "hibernate_after", hibernate_after, minimum=0.0)
        instance._cell = self
        self.instance = instance
        self.state = CellState.RUNNING
        self.halt_requested = False
        self.task = None
        self._engine = None  # a new incarnation supervises with a fresh intensity window
        if reason is None:
            if self.system._logs_info:
                logger.info("actor_started", actor=self.path, actor_type=self.actor_type)
        else:
            self.restart_count += 1
        actor_class = type(instance)
        has_hooks = actor_class.on_start is not Actor.on_start or (
            reason is not None and actor_class.on_restart is not Actor.on_restart
        )
        if has_hooks or self._items:
            self._start_loop(reason)
        else:
            # No hook to run and nothing to do: start the loop on the first message,
            # so an actor that is never messaged costs no task.
            self._dormant = self  # sleep_until_item(self), inlined: once per spawn

    def is_idle(self) -> bool:
        """Running, nothing queued, and not in the middle of a message."""
        if self.state is not CellState.RUNNING or self._items:
            return False
        return self.task is None or self._waiter is not None

    def activate(self) -> None:
        """A message reached a dormant or hibernating actor: start its loop.

        Without the hooks: a dormant actor has none to run (it would have
        started its loop at spawn), and a hibernating one already ran them.
        """
        if self.task is None and self.state is CellState.RUNNING:
            self._start_loop(None, hooks=False)

    def _start_loop(self, reason: BaseException | None, *, hooks: bool = True) -> None:
        instance = self.instance
        assert instance is not None
        self.task = self.system._create_actor_task(self._run(instance, reason, hooks), self.path)

    async def _run(self, instance: Actor[Any], reason: BaseException | None, hooks: bool) -> None:
        """The actor's loop: one message at a time until halted, failed or hibernating."""
        current_cell.set(self)
        if hooks:
            try:
                if reason is not None:
                    await instance.on_restart(reason)
                await instance.on_start()
            except BaseException as exc:  # any failure but cancellation is supervised
                if _cancelled(exc):
                    raise
                directive = self._directive(exc)
                if directive is Directive.RESUME:
                    directive = Directive.RESTART  # a hook that failed left nothing to resume
                self._failed_in_loop(exc, None, directive)
                return
        mailbox = self.mailbox
        receive = instance.receive
        observe = self.system._delivery_observer(self, instance)
        # The loop, not its bound create_future: a parked actor holds one object less.
        loop = asyncio.get_running_loop()
        hibernate_after = type(instance).hibernate_after
        budget = THROUGHPUT
        while not self.halt_requested:
            items = mailbox._items
            if not items:
                budget = THROUGHPUT
                items = mailbox._items = None  # the local too: a parked actor holds no buffer
                if hibernate_after is not None:
                    if (
                        (not hibernate_after or await self._idle(loop, hibernate_after))
                        and not mailbox._items  # an item came after the timer fired
                        and not self.halt_requested
                    ):
                        self._hibernate()
                        return
                    continue
                # Park (Mailbox.wait inlined: a parked actor keeps one frame less).
                waiter = mailbox._waiter = loop.create_future()
                await waiter
                continue
            budget -= 1
            if not budget:
                # A busy mailbox must not starve the other actors on this loop.
                budget = THROUGHPUT
                await _yield_to_loop()
                continue
            item = items.popleft()
            if mailbox._putters:
                mailbox._wake_putter()
            if type(item) is PendingAsk:
                future = item.future
                if future.done():
                    # Timed out or abandoned before delivery: not delivered. Or the
                    # marker of a graceful stop: everything before it is handled.
                    if item.correlation_id == GRACEFUL_STOP:
                        reached = item.message
                        if not reached.done():
                            reached.set_result(None)
                    continue
                if observe is not None:
                    observe(self.path, item.message, item.correlation_id)
                try:
                    result = await receive(item.message)
                except BaseException as exc:  # any failure but cancellation
                    if _cancelled(exc):
                        # Killed mid-message (shutdown timeout): the asker must not hang.
                        if not future.done():
                            future.set_exception(self._stopped_error())
                        raise
                    if not future.done():
                        future.set_exception(
                            exc if isinstance(exc, Exception) else self._failure_error(exc)
                        )
                    directive = self._directive(exc)
                    if directive is Directive.RESUME:
                        self._resumed(exc, item)
                        continue
                    self._failed_in_loop(exc, item, directive)
                    return
                if not future.done():
                    future.set_result(result)
            else:
                if observe is not None:
                    observe(self.path, item, None)
                try:
                    await receive(item)
                except BaseException as exc:  # any failure but cancellation
                    if _cancelled(exc):
                        raise
                    directive = self._directive(exc)
                    if directive is Directive.RESUME:
                        self._resumed(exc, item)
                        continue
                    self._failed_in_loop(exc, item, directive)
                    return
            self.processed += 1

    async def _idle(self, loop: asyncio.AbstractEventLoop, seconds: float) -> bool:
        """Park for the next item; ``True`` if ``seconds`` passed first (time to hibernate).

        One timer on the system's clock per idle spell, cancelled by the next
        item, as OTP's ``receive ... after``; only actors that hibernate pay it.
        """
        waiter: asyncio.Future[Any] = loop.create_future()
        self._waiter = waiter
        timer = self.system.clock.call_later(seconds, lambda: self._hibernation_due(waiter))
        try:
            return await waiter is _HIBERNATE
        finally:
            timer.cancel()

    def _hibernation_due(self, waiter: asyncio.Future[Any]) -> None:
        # Still parked on it (nothing arrived meanwhile), and not cancelled with its
        # task in the same turn of the loop.
        if self._waiter is waiter and not waiter.done():
            self._waiter = None
            waiter.set_result(_HIBERNATE)

    def _hibernate(self) -> None:
        """End the loop (the caller returns next), leaving the actor dormant.

        Everything but the task stays; the next item calls :meth:`activate`.
        """
        self.task = None
        self._dormant = self  # sleep_until_item(self), inlined as in start_incarnation

    def _failure_error(self, exc: BaseException) -> ActorFailed:
        """What an asker gets for a ``BaseException`` that is not an ``Exception``."""
        error = ActorFailed(self.path, repr(exc))
        error.__cause__ = exc
        return error

    def _directive(self, exc: BaseException) -> Directive:
        """What this failure means: the spec's directives, else the actor class's."""
        directives = self.spec.directives
        if directives is None:
            instance = self.instance
            directives = (instance if instance is not None else Actor).directives
        return directives.decide(exc)

    def _resumed(self, exc: BaseException, item: object) -> None:
        self.failures += 1
        logger.warning(
            "actor_resumed",
            actor=self.path,
            actor_type=self.actor_type,
            msg_type=type(_message_of(item)).__qualname__,
            correlation_id=item.correlation_id if type(item) is PendingAsk else None,
            error=repr(exc),
        )

    def _failed_in_loop(
        self, exc: BaseException, item: object | None, directive: Directive = Directive.RESTART
    ) -> None:
        if self.state is not CellState.RUNNING:
            return  # already failing or stopping from outside
        self.state = CellState.FAILED
        self._log_failure(exc, item)
        self.system._spawn_background(
            self._after_failure(exc, directive), f"failure of {self.path}"
        )

    def _log_failure(self, exc: BaseException, item: object | None) -> None:
        self.failures += 1
        logger.warning(
            "actor_failed",
            actor=self.path,
            actor_type=self.actor_type,
            msg_type=None if item is None else type(_message_of(item)).__qualname__,
            correlation_id=item.correlation_id if type(item) is PendingAsk else None,
            error=repr(exc),
            restart_count=self.restart_count,
        )

    async def _after_failure(
        self, reason: BaseException, directive: Directive = Directive.RESTART
    ) -> None:
        await self._end_incarnation()
        self._propagate_to_links(reason)
        if directive is Directive.STOP:
            await self.stop(reason=f"failed: {reason!r}", failed=True)
        elif directive is Directive.ESCALATE:
            await self.parent.fail(reason, self)
            if self.state is CellState.FAILED:  # the parent was already going
                await self.stop(reason=f"failed: {reason!r}", failed=True)
        else:
            await self.parent.child_failed(self, reason)

    async def fail(self, reason: BaseException, culprit: ActorCell | None = None) -> None:
        """Fail this actor from outside (escalation, a linked failure)."""
        if self.state is not CellState.RUNNING:
            return
        self.state = CellState.FAILED
        self._log_failure(reason, None)
        await self._halt_loop()
        await self._after_failure(reason)

    async def halt_for_restart(self) -> None:
        """End the running incarnation so the engine can start a new one."""
        if self.state is not CellState.RUNNING:
            return
        self.state = CellState.HALTED
        await self._halt_loop()
        await self._end_incarnation()

    async def _halt_loop(self) -> None:
        """Let the loop finish its current message, cancelling it after ``shutdown``."""
        self.cancel_sleep()
        task = self.task
        if task is None or task.done():
            return
        assert task is not asyncio.current_task(), "an actor cannot halt its own loop"
        self.halt_requested = True
        self.wake()
        done, _ = await asyncio.wait({task}, timeout=self.spec.shutdown)
        if not done:
            logger.warning("actor_killed", actor=self.path, shutdown=self.spec.shutdown)
            task.cancel()
            await asyncio.wait({task})

    async def _end_incarnation(self) -> None:
        """Stop the children, cancel the timers, run ``on_stop``; keep the mailbox."""
        timers, self._timers = self._timers, None
        if timers is not None:
            timers.cancel_all()
        await self.stop_children()
        instance, self.instance = self.instance, None
        if instance is not None:
            try:
                await instance.on_stop()
            except BaseException as exc:  # logged; the incarnation ends anyway
                if _cancelled(exc):
                    raise
                logger.warning("actor_on_stop_failed", actor=self.path, error=repr(exc))

    # -- stopping --------------------------------------------------------------

    async def stop(self, reason: str = "stopped", *, failed: bool = False) -> None:
        """Stop for good: children first, then this actor; drain the mailbox."""
        task = await self._stop(reason, failed)
        if task is not None:
            await asyncio.wait({task})

    async def _stop(self, reason: str, failed: bool) -> asyncio.Task[None] | None:
        """:meth:`stop`, but return the loop task if it was parked and is still ending.

        A parked loop (waiting for its next message) runs no user code: it is
        told to halt and woken, and the stop goes on without waiting for the
        task, whose last step only leaves the loop. The caller awaits it.
        """
        if self.state is CellState.STOPPED:
            return None
        if self._stopped is not None:
            await asyncio.shield(self._stopped)
            return None
        done = self._stopped = asyncio.get_running_loop().create_future()
        self.state = CellState.STOPPING
        ending = None
        try:
            ending = self._halt_parked_loop()
            if ending is None:
                await self._halt_loop()
            await self._end_incarnation()
        finally:
            self._close(reason, failed)
            done.set_result(None)
        return ending

    def _halt_parked_loop(self) -> asyncio.Task[None] | None:
        """Halt a loop parked on an empty mailbox without waiting; its task, or ``None``
        when there is no loop or it is busy (then :meth:`_halt_loop` waits for it)."""
        task = self.task
        if task is None or self._waiter is None or task.done():
            return None
        # _waiter is set only while the loop awaits it (whoever resolves it clears
        # it): the task is suspended there, and once woken it sees halt_requested
        # and returns. Only for a final stop: a restart would clear the flag.
        self.cancel_sleep()
        self.halt_requested = True
        self.wake()
        return task

    async def stop_gracefully(self, reason: str = "stopped") -> None:
        """Stop after every message accepted so far; dead-letter anything later.

        Returns once stopped. An immediate :meth:`stop` meanwhile takes over.
        """
        if self.state is CellState.STOPPED:
            return
        if self._stopped is None:  # no immediate stop under way
            loop = asyncio.get_running_loop()
            reached: asyncio.Future[None] = loop.create_future()
            done: asyncio.Future[Any] = loop.create_future()
            done.set_result(None)
            self.close_after(PendingAsk(reached, done, GRACEFUL_STOP, self.path, None))
            # Resolved by the loop when it reaches the marker, or by _close.
            await reached
        await self.stop(reason)

    def _close(self, reason: str, failed: bool) -> None:
        error = self._stopped_error()
        for item in self.mailbox.close():
            if type(item) is PendingAsk:
                if item.correlation_id == GRACEFUL_STOP:
                    if not item.message.done():
                        item.message.set_result(None)
                elif not item.future.done():
                    item.future.set_exception(error)
            else:
                self.system.dead_letters.publish(self.path, item, "actor stopped")
        self.state = CellState.STOPPED
        # The finished loop task's context and the restart engine point back at
        # this cell: drop them, so a stopped actor is freed by reference counting
        # and leaves no work for the cyclic garbage collector.
        self.task = None
        self._engine = None
        self.parent.forget_child(self)
        self.system._unregister(self)
        filters = self.system._delivery_filters
        if filters:  # a stopped actor's filters go with it (see _filters.py)
            filters.pop(self, None)
        self.system.topics.unsubscribe_all(self.ref)
        for target in self._watching or ():
            if target._watchers is not None:
                target._watchers.pop(self, None)
        self._watching = None
        for linked in self._links or ():
            if linked._links is not None:
                linked._links.pop(self, None)
        self._links = None
        watchers, self._watchers = self._watchers, None
        for watcher in watchers or ():
            if watcher._watching is not None:
                watcher._watching.pop(self, None)
            watcher.deliver_quietly(Terminated(path=self.path, reason=reason, failed=failed))
        if self.system._logs_info:
            logger.info("actor_stopped", actor=self.path, reason=reason)

    def request_stop(self, ref: ActorRef[Any] | None, *, graceful: bool = False) -> None:
        if ref is None or ref == self.ref:
            self.system._spawn_background(self._exit_normally(graceful), f"exit of {self.path}")
            return
        target = _cell_of(ref)
        if target.parent is not self:
            raise ValueError(f"{self.path} can stop only itself or its children, not {ref}")
        stop = target.stop_gracefully() if graceful else target.stop()
        self.system._spawn_background(stop, f"stop of {target.path}")

    async def _exit_normally(self, graceful: bool) -> None:
        """The actor stopped itself: a normal exit, which restarts a ``PERMANENT`` actor.

        As in OTP, a permanent child is always restarted; the restart keeps the
        mailbox, so nothing accepted is lost whether the stop was graceful or not.
        A transient or temporary actor stops for good.
        """
        if (
            self.spec.restart is Restart.PERMANENT
            and self.state is CellState.RUNNING
            and self.parent.state is CellState.RUNNING
            and not self.system.stopping
        ):
            self.state = CellState.FAILED  # ended; its supervisor decides what follows
            await self._halt_loop()
            await self._end_incarnation()
            reason = ActorStopped(self.path, "stopped itself (normal exit)")
            await self.parent.child_failed(self, reason, normal=True)
        elif graceful:
            await self.stop_gracefully()
        else:
            await self.stop()

    # -- watch and link --------------------------------------------------------

    def watch(self, ref: ActorRef[Any]) -> None:
        target = _cell_of(ref)
        if target is self:
            return
        if target.state is CellState.STOPPED:
            self.deliver_quietly(Terminated(path=target.path, reason="already stopped"))
            return
        if target._watchers is None:
            target._watchers = {}
        target._watchers[self] = None
        if self._watching is None:
            self._watching = {}
        self._watching[target] = None

    def unwatch(self, ref: ActorRef[Any]) -> None:
        target = _cell_of(ref)
        if target._watchers is not None:
            target._watchers.pop(self, None)
        if self._watching is not None:
            self._watching.pop(target, None)

    def link(self, ref: ActorRef[Any]) -> None:
        target = _cell_of(ref)
        if target is self:
            return
        if target.state is CellState.STOPPED:
            raise ActorStopped(target.path, "cannot link to a stopped actor")
        for a, b in ((self, target), (target, self)):
            if a._links is None:
                a._links = {}
            a._links[b] = None

    def unlink(self, ref: ActorRef[Any]) -> None:
        target = _cell_of(ref)
        if self._links is not None:
            self._links.pop(target, None)
        if target._links is not None:
            target._links.pop(self, None)

    def _propagate_to_links(self, reason: BaseException) -> None:
        links, self._links = self._links, None
        for linked in links or ():
            if linked._links is not None:
                linked._links.pop(self, None)
            traps = linked.instance is not None and linked.instance.trap_exits
            if traps:
                linked.deliver_quietly(LinkExited(path=self.path, reason=repr(reason)))
            else:
                failure = LinkedActorFailed(
                    linked.path, f"linked actor {self.path} failed: {reason!r}"
                )
                self.system._spawn_background(linked.fail(failure), f"link failure {linked.path}")


def _cancelled(exc: BaseException) -> bool:
    """Whether ``exc`` is this task being cancelled, which must propagate.

    A ``CancelledError`` while nobody cancels this task (a handler awaited
    something that was cancelled) is the handler's failure like any other.
    """
    if not isinstance(exc, asyncio.CancelledError):
        return False
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


def refusal_reason(error: BaseException) -> str:
    """The dead-letter reason of a message a delivery filter refused."""
    return f"refused by a delivery filter: {type(error).__qualname__}: {error}"


def _message_of(item: object) -> object:
    return item.message if type(item) is PendingAsk else item


def _cell_of(ref: ActorRef[Any]) -> ActorCell:
    if not isinstance(ref, LocalActorRef):
        raise TypeError(f"expected a local actor ref, got {ref!r}")
    cell: ActorCell = ref._cell
    return cell
