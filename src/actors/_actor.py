"""The ``Actor`` base class, its lifecycle hooks and its context.

An actor handles one message at a time, so its state needs no locks. The
runtime builds a fresh instance for every incarnation (first start and each
restart) by calling the spawn's factory, then sets :attr:`Actor.context`
before calling :meth:`Actor.on_start`.

Hook order for one incarnation::

    __init__ -> [on_restart(reason) if restarted] -> on_start -> receive... -> on_stop
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, TypeVarTuple, overload

from ._mailbox import MailboxConfig
from .supervision._spec import (
    RESTART_ALWAYS,
    ChildSpec,
    Directives,
    Restart,
    SupervisorFlags,
    child_spec,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Mapping

    from ._cell import ActorCell
    from ._ref import ActorRef
    from ._system import ActorSystem
    from ._timers import Timers

__all__ = ["Actor", "ActorContext"]

M = TypeVar("M")
A = TypeVar("A")
Ts = TypeVarTuple("Ts")


class Actor(Generic[M]):
    """Base class of every actor. Override :meth:`receive`; the hooks are optional.

    Class attributes configure every instance:

    * ``supervisor_flags``: how this actor supervises its children.
    * ``mailbox``: its mailbox capacity and overflow policy.
    * ``directives``: what a failure in ``receive`` means (resume, restart,
      stop, escalate); a child spec's ``directives`` override it.
    * ``trap_exits``: receive :class:`~actors.LinkExited` instead of failing
      when a linked actor fails.
    * ``record_deliveries``: record every message this actor receives in the
      system's ledger (``None`` follows ``ActorSystem(record_deliveries=...)``).
    * ``hibernate_after``: seconds without a message after which the actor's
      loop task ends while its instance and state stay (``None``: never).
    """

    supervisor_flags: ClassVar[SupervisorFlags] = SupervisorFlags()
    """How this actor supervises its children: strategy, restart intensity, backoff."""
    mailbox: ClassVar[MailboxConfig] = MailboxConfig()
    """Its mailbox's capacity and overflow policy (``spawn(mailbox=...)`` overrides it)."""
    directives: ClassVar[Directives] = RESTART_ALWAYS
    """What a failure in ``receive`` means; by default the supervisor restarts the actor."""
    trap_exits: ClassVar[bool] = False
    """Receive :class:`~actors.LinkExited` instead of failing when a linked actor fails."""
    record_deliveries: ClassVar[bool | None] = None
    """Record this actor's deliveries in the system's ledger (``None``: the system decides)."""
    hibernate_after: ClassVar[float | None] = None
    """Seconds idle before the actor hibernates (``None``: never; ``0``: once drained).

    A hibernating actor keeps its instance, mailbox, timers, children, watches
    and every ref; only its loop task ends, which frees about a kilobyte per
    actor (the task, its coroutine frame and the future it parks on). The next
    message starts a new loop without running ``on_start`` again, at the cost
    of one new task. As OTP's ``hibernate_after``: for large populations of
    actors that are messaged rarely. Context variables set inside the actor's
    loop do not survive hibernation.
    """

    # A slot for the runtime's link, so a stateless actor needs no __dict__ at all;
    # subclasses that set attributes get one as usual.
    __slots__ = ("__weakref__", "_cell")
    _cell: ActorCell

    @property
    def context(self) -> ActorContext:
        """What this actor can ask of the runtime; not available in ``__init__``."""
        try:
            cell = self._cell
        except AttributeError:
            raise RuntimeError(
                f"{type(self).__qualname__}.context is available from on_start() on, "
                "not in __init__"
            ) from None
        return ActorContext(cell)

    async def receive(self, message: M) -> Any:
        """Handle one message. The return value is the reply to an ``ask``."""
        raise NotImplementedError(f"{type(self).__qualname__} does not implement receive()")

    async def on_start(self) -> None:
        """Called before the first message of every incarnation."""

    async def on_stop(self) -> None:
        """Called when the incarnation ends: stop, restart, or failure."""

    async def on_restart(self, reason: BaseException) -> None:
        """Called on a restarted incarnation, before :meth:`on_start`."""

    @property
    def self_ref(self) -> ActorRef[M]:
        """This actor's own ref."""
        return self.context.self_ref


class ActorContext:
    """What an actor can do to the runtime: spawn, stop, watch, link, timers, log."""

    __slots__ = ("_cell",)

    def __init__(self, cell: ActorCell) -> None:
        self._cell = cell

    @property
    def self_ref(self) -> ActorRef[Any]:
        return self._cell.ref

    @property
    def path(self) -> str:
        return self._cell.path

    @property
    def parent(self) -> ActorRef[Any] | None:
        """The parent's ref; ``None`` for top-level actors (their parent is the guardian)."""
        return self._cell.parent.ref

    @property
    def system(self) -> ActorSystem:
        return self._cell.system

    @property
    def children(self) -> tuple[ActorRef[Any], ...]:
        """Running children in start order."""
        return tuple(child.ref for child in self._cell.children.values())

    @property
    def timers(self) -> Timers:
        """This incarnation's timers (cancelled when it stops or restarts)."""
        return self._cell.timers

    @property
    def log(self) -> Any:  # Any: structlog's bound logger type depends on configuration
        """A structlog logger bound with ``actor`` and ``actor_type``."""
        return self._cell.log

    @property
    def restart_count(self) -> int:
        return self._cell.restart_count

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
    # mypy cannot match ``*args: *Ts`` against the implementation's ``*args: Any``.
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
        """Start a child of this actor, supervised by this actor's ``supervisor_flags``.

        Takes what :meth:`ActorSystem.spawn <actors.ActorSystem.spawn>` takes,
        and its ref is typed the same way. ``directives`` (what a failure in
        the child's ``receive`` means) overrides the child class's own. A
        coroutine, like :meth:`ActorSystem.spawn <actors.ActorSystem.spawn>`;
        :meth:`spawn_nowait` is the same for synchronous code.
        """
        return self.spawn_nowait(
            factory,
            *args,
            name=name,
            kwargs=kwargs,
            restart=restart,
            shutdown=shutdown,
            mailbox=mailbox,
            directives=directives,
        )

    @overload
    def spawn_nowait(
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
    def spawn_nowait(
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
    # mypy cannot match ``*args: *Ts`` against the implementation's ``*args: Any``.
    def spawn_nowait(  # type: ignore[misc]
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
        """:meth:`spawn`, for synchronous code (a helper of ``receive``): never waits."""
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
        return self._cell.spawn_child(spec).ref

    async def spawn_spec(self, spec: ChildSpec) -> ActorRef[Any]:
        """Start a child from a :class:`~actors.supervision.ChildSpec` (a coroutine, like
        :meth:`spawn`; :meth:`spawn_spec_nowait` is the same for synchronous code)."""
        return self._cell.spawn_child(spec).ref

    def spawn_spec_nowait(self, spec: ChildSpec) -> ActorRef[Any]:
        """:meth:`spawn_spec`, for synchronous code: never waits."""
        return self._cell.spawn_child(spec).ref

    def stop(self, ref: ActorRef[Any] | None = None, *, graceful: bool = False) -> None:
        """Stop this actor (after the current message) or one of its children.

        ``graceful``: after every message already queued (later ones go to dead
        letters), like a poison pill; otherwise what is queued goes to dead
        letters. An actor stopping itself exits normally, so a ``PERMANENT`` one
        is restarted by its supervisor, keeping its mailbox, as in OTP.
        """
        self._cell.request_stop(ref, graceful=graceful)

    def watch(self, ref: ActorRef[Any]) -> None:
        """Receive :class:`~actors.Terminated` when ``ref``'s actor stops for good."""
        self._cell.watch(ref)

    def unwatch(self, ref: ActorRef[Any]) -> None:
        self._cell.unwatch(ref)

    def link(self, ref: ActorRef[Any]) -> None:
        """Fail together: if either actor fails, the other fails too."""
        self._cell.link(ref)

    def unlink(self, ref: ActorRef[Any]) -> None:
        self._cell.unlink(ref)

    def cancel_timer(self, key: Hashable) -> bool:
        return self._cell.timers.cancel(key)
