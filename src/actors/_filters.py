"""Delivery filters: functions that see each message before an actor's mailbox takes it.

A filter is installed on one actor (:func:`add_delivery_filter`, reached
through :mod:`actors.lowlevel`). It is called with the message (an ask's
message, not the runtime's record of the ask) and returns ``None`` to accept
it or an exception to refuse it. A filter that raises refuses the message with
what it raised (filters fail closed: a fencing check that breaks must not let
a stale message through). Filters run in the order they were installed; the
first refusal wins and later filters do not see the message.

A refused message is never enqueued and never reaches ``receive``:

* a local ``tell`` or ``send`` raises the refusal at the call;
* an ``ask`` (local or from another node) fails with it; a remote asker gets
  it as an ``ERROR`` answer (:class:`~actors.RemoteActorError` on its side);
* a message whose sender cannot be told (a tell from another node, a timer,
  a watch notice, a topic publish) goes to dead letters with the refusal as
  the reason.

The actor counts its refusals (:func:`filter_statistics`).

Costs: an actor without filters pays nothing, not even a test per message
or a byte of memory. Installing the first filter switches the cell to
:class:`FilteredCell`, a subclass with the same layout whose enqueueing
methods screen first; removing the last switches it back. The filters live in
a table of the system, by cell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from ._cell import ActorCell, CellState, refusal_reason
from ._errors import ActorStopped
from ._mailbox import Mailbox
from ._ref import LocalActorRef, PendingAsk

if TYPE_CHECKING:
    from ._ref import ActorRef

__all__ = [
    "DeliveryFilter",
    "DeliveryFilters",
    "FilterStatistics",
    "FilteredCell",
    "add_delivery_filter",
    "cell_of",
    "delivery_filters",
    "filter_statistics",
]

logger = structlog.get_logger("actors")

# Any: a filter is written for the actor's own message type, whatever it is.
DeliveryFilter = Callable[[Any], "Exception | None"]
"""Sees a message before it is enqueued: ``None`` accepts it, an exception refuses it."""


class FilterStatistics(msgspec.Struct, frozen=True):
    """The delivery filters of one actor: how many are installed, how many messages they refused."""

    filters: int
    refused: int


class DeliveryFilters:
    """One actor's filters and its count of refusals, in its system's table of them.

    Kept after the last filter goes (the count stays readable), dropped when
    the actor stops.
    """

    __slots__ = ("functions", "refused")

    def __init__(self) -> None:
        self.functions: tuple[DeliveryFilter, ...] = ()
        self.refused = 0


class FilteredCell(ActorCell):
    """An :class:`ActorCell` with delivery filters: its enqueueing methods screen first.

    Same layout as ``ActorCell`` (no slots of its own), so a cell changes
    class in place when its first filter is installed and back when its last
    is removed. Every way into the mailbox goes through ``put_nowait`` or
    ``offer_many``, so each message is screened exactly once, when it is
    about to be enqueued (after waiting for room, for ``send``).
    """

    __slots__ = ()

    def put_nowait(self, item: object) -> object | None:
        """Screen, then enqueue by the overflow policy (see :meth:`Mailbox.put_nowait`).

        A refused ask fails its asker's future (and counts as handled); a
        refused message raises the refusal to the caller.
        """
        if not self._closed:  # a stopped actor's messages go to dead letters as before
            message = item.message if type(item) is PendingAsk else item
            filters = self.system._delivery_filters[self]
            for function in filters.functions:
                try:
                    verdict = function(message)
                except Exception as exc:  # a filter that raises refuses (fails closed)
                    verdict = exc
                if verdict is not None:
                    filters.refused += 1
                    self._refuse(item, message, _refusal(function, verdict))
                    return None
        return Mailbox.put_nowait(self, item)

    def _refuse(self, item: object, message: object, error: Exception) -> None:
        """Fail a refused ask's future; raise for a refused message."""
        if self._putters:
            # A sender woken for the room this message would have taken: pass the
            # room on to the next waiting sender, or it would wait for nothing.
            items = self._items
            if items is None or len(items) < self.capacity:
                self._wake_putter()
        logger.debug(
            "message_refused",
            actor=self.path,
            msg_type=type(message).__qualname__,
            error=repr(error),
        )
        if type(item) is PendingAsk:
            future = item.future
            if not future.done():
                future.set_exception(error)
            return
        raise error

    def offer(self, item: object) -> bool:
        """Enqueue if there is room; a refused message is consumed: dead-lettered with
        the reason (its sender, another node, cannot be told), a refused ask answered."""
        items = self._items
        if self._closed or (items is not None and len(items) >= self.capacity):
            return False
        try:
            self.put_nowait(item)  # there is room: nothing can be dropped
        except Exception as error:  # refused by a filter
            self.system.dead_letters.publish(self.path, item, refusal_reason(error))
        return True

    def offer_many(self, batch: list[Any], start: int) -> int:
        """Offer ``batch[start:]`` one by one until the mailbox is full; how many were taken."""
        count = 0
        offer = self.offer
        for index in range(start, len(batch)):
            if not offer(batch[index]):
                break
            count += 1
        return count


def cell_of(target: ActorRef[Any] | ActorCell) -> ActorCell:
    """The cell of a local ref (or the cell itself); ``TypeError`` for anything else."""
    if isinstance(target, ActorCell):
        return target
    if isinstance(target, LocalActorRef):
        cell: ActorCell = target._cell
        return cell
    raise TypeError(
        f"expected a local actor ref or cell, got {target!r}: filters, cells and "
        "mailboxes belong to actors of this process (for actors by key, install "
        "the filter on each activation)"
    )


def add_delivery_filter(
    target: ActorRef[Any] | ActorCell, function: DeliveryFilter
) -> Callable[[], None]:
    """Install ``function`` as the last delivery filter of ``target``'s actor.

    Returns a function that removes it again (calling it twice is harmless).
    The filter stays across the actor's restarts: it belongs to the actor,
    not to one incarnation; it goes when the actor stops.

    :raises ActorStopped: the actor has stopped.
    :raises TypeError: ``target`` is not a local ref or cell, or ``function``
        is not callable.
    """
    if not callable(function):
        raise TypeError(f"a delivery filter must be callable, got {function!r}")
    cell = cell_of(target)
    if cell.state is CellState.STOPPED:
        raise ActorStopped(cell.path, "a stopped actor takes no delivery filter")
    table = cell.system._delivery_filters
    filters = table.get(cell)
    if filters is None:
        filters = table[cell] = DeliveryFilters()
    filters.functions = (*filters.functions, function)
    if type(cell) is ActorCell:
        _switch(cell, FilteredCell)
    removed = False

    def remove() -> None:
        nonlocal removed
        if removed:
            return
        removed = True
        assert filters is not None
        functions = list(filters.functions)
        functions.remove(function)  # this installation (the same function may be in twice)
        filters.functions = tuple(functions)
        if not functions and type(cell) is FilteredCell:
            _switch(cell, ActorCell)  # no filter left: no cost left

    return remove


def _refusal(function: DeliveryFilter, verdict: object) -> Exception:
    """The refusal a filter's verdict (not ``None``) means; anything but an exception is a bug."""
    if isinstance(verdict, Exception):
        return verdict
    return TypeError(
        f"delivery filter {function!r} returned {verdict!r}: "
        "a filter returns None to accept or an exception to refuse"
    )


def _switch(cell: ActorCell, cls: type[ActorCell]) -> None:
    """Change the cell's class in place (the two classes share one layout)."""
    cell.__class__ = cls


def delivery_filters(target: ActorRef[Any] | ActorCell) -> tuple[DeliveryFilter, ...]:
    """The delivery filters of ``target``'s actor, in the order they run."""
    cell = cell_of(target)
    filters = cell.system._delivery_filters.get(cell)
    return () if filters is None else filters.functions


def filter_statistics(target: ActorRef[Any] | ActorCell) -> FilterStatistics:
    """How many filters ``target``'s actor has and how many messages they refused."""
    cell = cell_of(target)
    filters = cell.system._delivery_filters.get(cell)
    if filters is None:
        return FilterStatistics(filters=0, refused=0)
    return FilterStatistics(filters=len(filters.functions), refused=filters.refused)
