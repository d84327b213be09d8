"""Actors by key (virtual actors, as in Orleans): activated on demand, passivated when idle.

``system.virtual(Conversation, "user-42")`` returns a ref to the actor of that
type and key whether or not it exists. The first message activates it (the
factory is called with the key), and after ``idle_after`` seconds with nothing
to do it is stopped (``on_stop`` runs) so that a swarm can address a million
conversations while only the busy ones hold memory. The next message
activates a fresh instance. No message is lost across a passivation: one
that arrives while the actor is stopping waits and goes to the next activation.

Activations live under ``/virtual/<Type>:<key>`` and are supervised there like
any other actor (a failure restarts the activation by the root's flags).

Passivation is one **idle sweep** per system, not a timer per actor: each
active entry has a deadline (``last_used + idle_after``, kept in a heap, a
use after it was pushed moving it lazily), and one timer on the system's
clock fires at the earliest deadline. The sweep passivates the entries that
are due and idle, puts the others back at their new deadline, and sets the
timer for the next one. So an actor is passivated exactly ``idle_after``
after its last message, as with a timer of its own, while a million active
actors hold one timer between them.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload
from urllib.parse import quote

import msgspec
import structlog

from ._cell import ActorCell, CellState, Guardian
from ._ref import ActorRef, ask_timeout
from .supervision._spec import ChildSpec, Restart, SupervisorFlags

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._actor import Actor
    from ._clock import Cancellable
    from ._ref import RequestTo
    from ._system import ActorSystem

__all__ = ["VirtualActors", "VirtualRef", "VirtualStatistics"]

logger = structlog.get_logger("actors")

M = TypeVar("M", contravariant=True)
Q = TypeVar("Q")
R = TypeVar("R")
A = TypeVar("A")

DEFAULT_IDLE_AFTER = 300.0


class VirtualStatistics(msgspec.Struct, frozen=True):
    active: int
    activations: int
    passivations: int


class _Entry:
    """One (type, key): its current activation, if any, and messages waiting for the next."""

    __slots__ = ("cell", "idle_after", "key", "last_used", "passivating", "pending", "swept")

    def __init__(self, key: str, idle_after: float) -> None:
        self.key = key
        self.idle_after = idle_after
        self.cell: ActorCell | None = None
        self.last_used = 0.0
        self.swept = False  # whether the entry has a deadline in the sweep's heap
        self.passivating: asyncio.Future[None] | None = None
        self.pending: list[object] = []


class VirtualActors:
    """The activations of one system's virtual actors."""

    def __init__(self, system: ActorSystem, flags: SupervisorFlags) -> None:
        self._system = system
        self._root = Guardian(system, flags, path="/virtual")
        self._entries: dict[tuple[Callable[..., Any], str], _Entry] = {}
        # The idle sweep: (deadline, tie-breaker, ref, entry), and one timer.
        self._deadlines: list[tuple[float, int, VirtualRef[Any], _Entry]] = []
        self._order = itertools.count()
        self._sweep_timer: Cancellable | None = None
        self._sweep_due = math.inf
        self.activations = 0
        self.passivations = 0

    def ref(
        self, factory: Callable[[str], Actor[A]], key: str, *, idle_after: float | None = None
    ) -> VirtualRef[A]:
        if not isinstance(key, str) or not key:
            raise ValueError(f"a virtual actor key must be a non-empty string, got {key!r}")
        if idle_after is not None and idle_after <= 0:
            raise ValueError(f"idle_after must be > 0, got {idle_after}")
        return VirtualRef(self, factory, key, idle_after or DEFAULT_IDLE_AFTER)

    def is_active(self, factory: Callable[..., Any], key: str) -> bool:
        entry = self._entries.get((factory, key))
        return entry is not None and entry.cell is not None

    def statistics(self) -> VirtualStatistics:
        active = sum(1 for entry in self._entries.values() if entry.cell is not None)
        return VirtualStatistics(
            active=active, activations=self.activations, passivations=self.passivations
        )

    async def shutdown(self) -> None:
        if self._sweep_timer is not None:
            self._sweep_timer.cancel()
            self._sweep_timer = None
        self._deadlines.clear()
        await self._root.stop_children()
        self._entries.clear()
        self._root.state = CellState.STOPPED

    # -- delivery ----------------------------------------------------------------

    def _entry(self, ref: VirtualRef[Any]) -> _Entry:
        entry = self._entries.get((ref.factory, ref.key))
        if entry is None:
            entry = self._entries[(ref.factory, ref.key)] = _Entry(ref.key, ref.idle_after)
        return entry

    def _cell_for(self, ref: VirtualRef[Any], entry: _Entry) -> ActorCell:
        """The running activation, activating one if there is none."""
        cell = entry.cell
        if cell is None or cell.state is CellState.STOPPED:
            # TRANSIENT: a failure restarts the activation, but one that stops
            # itself is deactivated; the next message activates a fresh one.
            spec = ChildSpec(
                factory=ref.factory, args=(ref.key,), name=ref.name, restart=Restart.TRANSIENT
            )
            cell = entry.cell = self._root.spawn_child(spec)
            self.activations += 1
            logger.debug("virtual_actor_activated", actor=cell.path)
        now = entry.last_used = self._system.clock.now()
        if not entry.swept:
            self._schedule(ref, entry, now + entry.idle_after)
        return cell

    def tell(self, ref: VirtualRef[Any], message: object) -> None:
        entry = self._entry(ref)
        if entry.passivating is not None:
            entry.pending.append(message)  # delivered to the next activation, in order
            return
        self._cell_for(ref, entry).deliver(message)

    async def ready_cell(self, ref: VirtualRef[Any]) -> ActorCell:
        """The activation to send to, waiting out a passivation in progress."""
        entry = self._entry(ref)
        while entry.passivating is not None:
            await asyncio.shield(entry.passivating)
            entry = self._entry(ref)
        return self._cell_for(ref, entry)

    # -- passivation -------------------------------------------------------------

    def _schedule(self, ref: VirtualRef[Any], entry: _Entry, deadline: float) -> None:
        """Give ``entry`` a deadline in the sweep; move the timer if it is the earliest."""
        entry.swept = True
        heapq.heappush(self._deadlines, (deadline, next(self._order), ref, entry))
        if deadline < self._sweep_due:
            self._arm_sweep(deadline)

    def _arm_sweep(self, due: float) -> None:
        if self._sweep_timer is not None:
            self._sweep_timer.cancel()
        self._sweep_due = due
        clock = self._system.clock
        self._sweep_timer = clock.call_later(max(0.0, due - clock.now()), self._sweep)

    def _sweep(self) -> None:
        """Passivate the due entries that are idle; put the others back at their deadline."""
        self._sweep_timer = None
        self._sweep_due = math.inf
        if not self._system.running:
            return
        now = self._system.clock.now()
        deadlines = self._deadlines
        again: list[tuple[float, VirtualRef[Any], _Entry]] = []
        while deadlines and deadlines[0][0] <= now:
            _, _, ref, entry = heapq.heappop(deadlines)
            entry.swept = False
            cell = entry.cell
            if cell is None or entry.passivating is not None:
                continue
            idle_for = now - entry.last_used
            if idle_for < entry.idle_after or not cell.is_idle():
                delay = max(entry.idle_after - idle_for, entry.idle_after / 10)
                again.append((now + delay, ref, entry))
                continue
            entry.passivating = asyncio.get_running_loop().create_future()
            self._system._spawn_background(
                self._passivate(ref, entry, cell), f"passivate {cell.path}"
            )
        for deadline, ref, entry in again:
            entry.swept = True
            heapq.heappush(deadlines, (deadline, next(self._order), ref, entry))
        if deadlines:
            self._arm_sweep(deadlines[0][0])

    async def _passivate(self, ref: VirtualRef[Any], entry: _Entry, cell: ActorCell) -> None:
        done = entry.passivating
        assert done is not None
        try:
            await cell.stop(reason="passivated")
            self.passivations += 1
            logger.debug("virtual_actor_passivated", actor=cell.path)
        finally:
            entry.cell = None
            entry.passivating = None
            pending, entry.pending = entry.pending, []
            if pending and self._system.running:
                cell = self._cell_for(ref, entry)
                for message in pending:
                    cell.deliver_quietly(message)
            elif not pending:
                self._entries.pop((ref.factory, ref.key), None)
            done.set_result(None)


class VirtualRef(ActorRef[M], Generic[M]):
    """A ref to the actor of one type and key, active or not."""

    __slots__ = ("_host", "factory", "idle_after", "key")

    def __init__(
        self,
        host: VirtualActors,
        factory: Callable[..., Actor[Any]],
        key: str,
        idle_after: float,
    ) -> None:
        self._host = host
        self.factory = factory
        self.key = key
        self.idle_after = idle_after

    @property
    def name(self) -> str:
        type_name = getattr(self.factory, "__qualname__", type(self.factory).__qualname__)
        return f"{type_name}:{quote(self.key, safe='')}"

    @property
    def path(self) -> str:
        return f"/virtual/{self.name}"

    @property
    def address(self) -> str:
        return f"tadpole://{self._host._system.name}{self.path}"

    def tell(self, message: M) -> None:
        self._host.tell(self, message)

    async def send(self, message: M) -> None:
        cell = await self._host.ready_cell(self)
        await cell.deliver_wait(message)

    @overload
    async def ask(
        self: ActorRef[Q], message: RequestTo[Q, R], timeout: float | None = None
    ) -> R: ...
    @overload
    async def ask(self, message: M, timeout: float | None = None) -> Any: ...
    async def ask(self, message: Any, timeout: float | None = None) -> Any:
        timeout = ask_timeout(timeout, self.path, message)  # before activating the actor
        cell = await self._host.ready_cell(self)
        return await cell.ref.ask(message, timeout)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, VirtualRef):
            return (self._host, self.factory, self.key) == (other._host, other.factory, other.key)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((id(self._host), self.factory, self.key))
