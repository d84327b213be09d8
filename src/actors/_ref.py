"""Actor references: how everyone talks to an actor.

``tell`` never blocks, ``send`` waits for mailbox room, ``ask`` waits for the
reply (or its timeout). A ref names one actor *incarnation chain*: it stays
valid across that actor's restarts, and a message to it after the actor has
stopped goes to dead letters, even if another actor later takes the same path.
"""

from __future__ import annotations

import asyncio
import math
from abc import ABC, abstractmethod
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar, overload

import msgspec

from ._errors import AskDeadlock, AskTimeout

if TYPE_CHECKING:
    from typing import Self

    from ._cell import ActorCell

__all__ = ["ActorRef", "LocalActorRef", "Request", "ask_timeout", "check_timeout"]

M = TypeVar("M", contravariant=True)
R = TypeVar("R")
Q = TypeVar("Q")
_Q_co = TypeVar("_Q_co", covariant=True)
_R_co = TypeVar("_R_co", covariant=True)


class Request(Generic[R]):
    """Mixin for a message that declares the type of its reply.

    ``class Get(Message, Request[Total])`` says that an actor answers a
    ``Get`` with a ``Total``: ``await ref.ask(Get())`` is then typed ``Total``
    (for a type checker; nothing changes at run time, and the actor's
    ``receive`` is trusted to keep the promise). ``ask`` of a message that
    declares no reply is typed ``Any``. The ref must still accept the message:
    asking a ``Get`` of a ref that does not take one is a type error.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def __tadpole_request__(self) -> tuple[Self, R]:
            """Phantom member, for type checkers only: this message and its reply type."""
            raise NotImplementedError


class RequestTo(Protocol[_Q_co, _R_co]):
    """What :meth:`ActorRef.ask` matches a :class:`Request` with, for type checkers only.

    A message of type ``Q`` declaring reply ``R`` is a ``RequestTo[Q, R]``; a
    ref asks it when the ref accepts ``Q`` (the ref is contravariant in its
    message type), and the ask's result is ``R``.
    """

    @property
    def __tadpole_request__(self) -> tuple[_Q_co, _R_co]: ...


class ActorRef(ABC, Generic[M]):
    """A handle on an actor, local or remote. Hashable, comparable, printable."""

    __slots__ = ()

    @property
    @abstractmethod
    def path(self) -> str:
        """The actor's path in its system, such as ``/user/counter``."""

    @property
    @abstractmethod
    def address(self) -> str:
        """The full address, such as ``tadpole://demo/user/counter``."""

    @abstractmethod
    def tell(self, message: M) -> None:
        """Deliver ``message`` without waiting; never blocks.

        A full mailbox applies the target's overflow policy (raising
        :class:`~actors.MailboxFull` under ``Overflow.FAIL``); a stopped target
        sends the message to dead letters.
        """

    @abstractmethod
    async def send(self, message: M) -> None:
        """Deliver ``message``, waiting for room in the target's mailbox."""

    @overload
    async def ask(
        self: ActorRef[Q], message: RequestTo[Q, R], timeout: float | None = None
    ) -> R: ...
    @overload
    async def ask(self, message: M, timeout: float | None = None) -> Any: ...
    @abstractmethod
    async def ask(self, message: Any, timeout: float | None = None) -> Any:
        """Deliver ``message`` and wait for the actor's reply (its ``receive`` result).

        Typed by the message: a :class:`Request` ``Request[R]`` gives ``R``
        (``class Get(Message, Request[Total])``: ``await ref.ask(Get())`` is a
        ``Total``), any other message the ref accepts gives ``Any``.

        ``timeout`` is in seconds: a positive finite ``int`` or ``float``, or
        ``None`` for no timeout. ``0`` means the time is already up: the ask
        raises :class:`~actors.AskTimeout` at once and the message is not
        delivered. Anything else is refused before anything is sent: a
        negative, NaN or infinite number with :class:`ValueError`, a ``bool``
        or a non-number (such as ``"1"``) with :class:`TypeError`.

        Raises :class:`~actors.AskTimeout` when no reply comes within
        ``timeout`` seconds (the message is then not delivered if it has not
        been yet), the handler's own exception if it raised, and
        :class:`~actors.ActorStopped` if the actor stopped first.
        """

    def __repr__(self) -> str:
        return f"ActorRef({self.address!r})"

    def __str__(self) -> str:
        return self.address


class PendingAsk(msgspec.Struct):
    """A pending ask in a mailbox: the message, the asker's future, a correlation id.

    A msgspec Struct (built in C) rather than a slotted class: one is made per
    ask, and its construction is on the ask round trip.
    """

    message: Any  # Any: whatever was asked; never encoded from here
    future: asyncio.Future[Any]
    correlation_id: int
    target: str
    timeout: float | None
    deadline: float = 0.0
    """The clock time the ask expires at (with a timeout, local asks only)."""

    def expire(self) -> None:
        """Timer callback: the ask's time is up."""
        future = self.future
        if not future.done():
            timeout = self.timeout if self.timeout is not None else 0.0
            future.set_exception(AskTimeout(self.target, type(self.message).__qualname__, timeout))


class LocalActorRef(ActorRef[M]):
    """A ref to an actor in this process: delivery is a mailbox append, no encoding."""

    __slots__ = ("_cell",)

    def __init__(self, cell: ActorCell) -> None:
        self._cell = cell

    @property
    def path(self) -> str:
        return self._cell.path

    @property
    def address(self) -> str:
        return f"tadpole://{self._cell.system.name}{self._cell.path}"

    def tell(self, message: M) -> None:
        self._cell.deliver(message)

    async def send(self, message: M) -> None:
        await self._cell.deliver_wait(message)

    @overload
    async def ask(
        self: ActorRef[Q], message: RequestTo[Q, R], timeout: float | None = None
    ) -> R: ...
    @overload
    async def ask(self, message: M, timeout: float | None = None) -> Any: ...
    async def ask(self, message: Any, timeout: float | None = None) -> Any:
        cell = self._cell
        if timeout is not None and (type(timeout) is not float or not 0.0 < timeout < _INF):
            timeout = check_timeout(timeout)  # or a ValueError/TypeError naming it
            if not timeout:  # already expired: not delivered
                raise AskTimeout(cell.path, type(message).__qualname__, 0.0)
        system = cell.system
        caller = current_cell.get()
        if caller is not None:
            _check_deadlock(caller, cell, message)
        future: asyncio.Future[Any] = _Future(loop=system._loop)  # see ActorSystem._loop
        correlation_id = system._asks = system._asks + 1
        if timeout is None:
            pending = PendingAsk(message, future, correlation_id, cell.path, None)
            lane = None
        else:
            # One timer for every ask of the system (AskDeadlines, whose docstring
            # has this code): an ask costs a clock reading and a dict entry.
            deadlines = system._ask_deadlines
            if deadlines is None:
                deadlines = system._make_ask_deadlines()
            deadline = deadlines.now() + timeout
            pending = PendingAsk(message, future, correlation_id, cell.path, timeout, deadline)
            lane = deadlines.lanes.get(timeout)
            if lane is None or deadline < deadlines.armed:
                lane = deadlines.lane(timeout, deadline)
            lane[correlation_id] = pending
        if caller is not None:
            caller.awaiting = cell
        try:
            if not cell.offer(pending):
                await cell.deliver_ask(pending)
            return await future
        except AskTimeout:
            # Only the failing path pays: a try costs nothing until it catches.
            system.ask_timeouts += 1
            raise
        except BaseException:
            # Not delivered (stopped, cancelled while waiting for room): a
            # queued copy must be skipped, as for an expired ask.
            if not future.done():
                future.cancel()
            raise
        finally:
            if lane is not None:
                lane.pop(correlation_id, None)
            if caller is not None:
                caller.awaiting = None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LocalActorRef):
            return self._cell is other._cell
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._cell.path, self._cell.uid))


_INF: Final = math.inf
_Future: Final = asyncio.Future


def check_timeout(timeout: object) -> float:
    """``timeout`` as an ask's timeout in seconds, or a clear error naming it.

    The slow path of the check every ask makes (a positive finite ``float``
    never gets here): a positive finite ``int``/``float`` is returned as a
    ``float``; ``0`` returns ``0.0``, which the caller treats as "already
    expired"; a negative, NaN or infinite number raises :class:`ValueError`;
    a ``bool`` or anything that is not an ``int``/``float`` raises
    :class:`TypeError`. ``None`` (no timeout) is the caller's to handle.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(
            f"ask timeout must be a number of seconds (int or float) or None, "
            f"got {timeout!r} ({type(timeout).__qualname__})"
        )
    try:
        seconds = float(timeout)
    except OverflowError:
        seconds = _INF
    if not 0.0 <= seconds < _INF:  # NaN fails every comparison
        raise ValueError(
            f"ask timeout must be a positive, finite number of seconds or None, got {timeout!r}"
        )
    return seconds


def ask_timeout(timeout: float | None, target: str, message: object) -> float | None:
    """``timeout`` checked as :meth:`ActorRef.ask` documents it (for refs off the
    hot path): ``None``, or a positive finite ``float``; raises
    :class:`~actors.AskTimeout` for ``0`` (already expired), and what
    :func:`check_timeout` raises for an invalid one."""
    if timeout is None or (type(timeout) is float and 0.0 < timeout < _INF):
        return timeout
    seconds = check_timeout(timeout)
    if not seconds:
        raise AskTimeout(target, type(message).__qualname__, 0.0)
    return seconds


current_cell: ContextVar[ActorCell | None] = ContextVar("tadpole_current_cell", default=None)
"""The actor whose loop runs the current task; set once when a loop task starts.

A context variable rather than ``asyncio.current_task()`` plus a lookup: the
latter is a Python-level call costing ~0.5 us on every ask, this ~40 ns.
Dormant actors (no loop task yet) pay nothing for it.
"""


def _check_deadlock(caller: ActorCell, target: ActorCell, message: object) -> None:
    """Fail at once when the reply could only come from the asker itself.

    The asker handles one message at a time, so if the target is the asker, or
    is itself (transitively) waiting on an ask to the asker, nobody can ever
    answer.
    """
    node: ActorCell | None = target
    for _ in range(64):
        if node is None:
            return
        if node is caller:
            kind = type(message).__qualname__
            if target is caller:
                raise AskDeadlock(
                    f"{caller.path} asked itself ({kind}) while handling a message: "
                    "the reply could never be produced; use tell, or handle it inline"
                )
            raise AskDeadlock(
                f"{caller.path} asked {target.path} ({kind}), which is waiting on an ask "
                f"to {caller.path}: a cycle of asks can never complete"
            )
        node = node.awaiting
