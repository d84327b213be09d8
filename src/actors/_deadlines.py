"""The timeouts of asks, all on one clock timer per owner (a system, a node).

A timer per ask costs a handle, a heap push through Python comparisons and a
cancellation for every ask, nearly always answered in time. Here an ask costs
a tuple pushed on a heap, and nothing when it is answered: the one timer is
armed for the earliest deadline; when it fires it expires the asks that are
due and re-arms for the next one. Entries of asks that are over are dropped as
they reach the top, or all at once when the heap has doubled since it was last
swept, so it holds at most about twice the asks still pending.
"""

from __future__ import annotations

import itertools
import math
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, Any, Final, Protocol

from ._clock import clock_reader

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from ._clock import Cancellable, Clock

__all__ = ["AskDeadlines", "Deadlines", "clock_reader"]  # clock_reader: from ._clock

_MIN_SWEEP: Final = 64
"""Heap size below which answered asks are left for the timer to drop."""


class Expiring(Protocol):
    """What :class:`Deadlines` keeps: an ask's future, and what to do when time is up."""

    @property
    def future(self) -> asyncio.Future[Any]: ...

    def expire(self) -> None: ...


class Deadlines:
    """Calls ``item.expire()`` at each item's deadline unless its future is done by then."""

    __slots__ = ("_armed", "_clock", "_handle", "_heap", "_now", "_order", "_sweep_at")

    def __init__(self, clock: Clock, now: Callable[[], float]) -> None:
        """``now`` reads ``clock`` (see :func:`clock_reader`)."""
        self._clock = clock
        self._now = now
        self._heap: list[tuple[float, int, Expiring]] = []
        self._order = itertools.count()  # ties on a deadline: first added expires first
        self._handle: Cancellable | None = None
        self._armed = math.inf
        self._sweep_at = _MIN_SWEEP

    def add(self, item: Expiring, timeout: float) -> float:
        """Expire ``item`` ``timeout`` seconds from now; returns that clock time."""
        now = self._now()
        deadline = now + timeout
        heap = self._heap
        heappush(heap, (deadline, next(self._order), item))
        if deadline < self._armed:
            self._arm(deadline, now)
        if len(heap) >= self._sweep_at:
            self._sweep()
        return deadline

    def close(self) -> None:
        """Forget every item and stop the timer."""
        self._heap.clear()
        self._disarm()

    def _arm(self, deadline: float, now: float) -> None:
        self._disarm()
        self._armed = deadline
        self._handle = self._clock.call_later(deadline - now, self._fire)

    def _disarm(self) -> None:
        handle, self._handle = self._handle, None
        self._armed = math.inf
        if handle is not None:
            handle.cancel()

    def _sweep(self) -> None:
        heap = [entry for entry in self._heap if not entry[2].future.done()]
        heapify(heap)
        self._heap = heap
        self._sweep_at = max(_MIN_SWEEP, 2 * len(heap))

    def _fire(self) -> None:
        self._handle = None
        self._armed = math.inf
        heap = self._heap
        now = self._now()
        while heap:
            deadline, _, item = heap[0]
            if item.future.done():
                heappop(heap)  # over: forgotten
            elif deadline > now:
                self._arm(deadline, now)
                return
            else:
                heappop(heap)
                item.expire()


class _Timed(Protocol):
    """What :class:`AskDeadlines` keeps: an ask with its deadline, expired when due."""

    @property
    def deadline(self) -> float: ...

    def expire(self) -> None: ...


class AskDeadlines:
    """The deadlines of a system's local asks, on one clock timer.

    :class:`Deadlines` costs an ask a heap push and, amortized, a sweep of
    the asks that are over. Here the asker, which knows when its ask is over,
    takes its entry out itself, and asks are kept in *lanes*, one per timeout
    value: in a lane, the order asks were added in is their deadline order
    (the clock never goes back), so a lane is a plain insertion-ordered dict
    from correlation id to ask, and an ask costs one clock reading, one dict
    insert and one dict delete. The one timer is armed for the earliest
    deadline at the front of a lane; when it fires it expires the asks that
    are due (never one early) and re-arms for the next.

    The ask's side is inlined in :meth:`LocalActorRef.ask
    <actors._ref.LocalActorRef.ask>`::

        deadline = deadlines.now() + timeout
        lane = deadlines.lanes.get(timeout)
        if lane is None or deadline < deadlines.armed:
            lane = deadlines.lane(timeout, deadline)
        lane[correlation_id] = pending   # pending.deadline == deadline
        ...                              # and when the ask is over:
        lane.pop(correlation_id, None)
    """

    __slots__ = ("_clock", "_handle", "_prune_at", "armed", "lanes", "now")

    def __init__(self, clock: Clock, now: Callable[[], float]) -> None:
        """``now`` reads ``clock`` (see :func:`clock_reader`)."""
        self._clock = clock
        self.now = now
        """Reads the clock: an ask's deadline is ``now() + timeout``."""
        self.lanes: dict[float, dict[int, _Timed]] = {}
        """Pending asks by timeout value, then by correlation id, in deadline order."""
        self.armed = math.inf
        """The time the timer is armed for (``inf``: not armed); never after the
        earliest deadline of an ask still in a lane."""
        self._handle: Cancellable | None = None
        self._prune_at = _MIN_SWEEP

    def lane(self, timeout: float, deadline: float) -> dict[int, _Timed]:
        """The lane for ``timeout``, with the timer armed no later than ``deadline``."""
        lanes = self.lanes
        lane = lanes.get(timeout)
        if lane is None:
            if len(lanes) >= self._prune_at:
                # Many timeout values: forget the lanes left empty.
                for key in [key for key, entries in lanes.items() if not entries]:
                    del lanes[key]
                self._prune_at = max(_MIN_SWEEP, 2 * len(lanes))
            lane = lanes[timeout] = {}
        if deadline < self.armed:
            self._arm(deadline)
        return lane

    def pending(self) -> int:
        """How many asks are in the lanes."""
        return sum(len(lane) for lane in self.lanes.values())

    def close(self) -> None:
        """Forget every ask and stop the timer."""
        self.lanes.clear()
        self._disarm()

    def _arm(self, deadline: float) -> None:
        self._disarm()
        self.armed = deadline
        self._handle = self._clock.call_later(max(0.0, deadline - self.now()), self._fire)

    def _disarm(self) -> None:
        handle, self._handle = self._handle, None
        self.armed = math.inf
        if handle is not None:
            handle.cancel()

    def _fire(self) -> None:
        self._handle = None
        self.armed = math.inf
        now = self.now()
        earliest = math.inf
        due: list[_Timed] = []
        lanes = self.lanes
        for timeout in list(lanes):
            lane = lanes[timeout]
            expired: list[int] = []
            for correlation_id, ask in lane.items():
                if ask.deadline > now:
                    earliest = min(earliest, ask.deadline)
                    break
                expired.append(correlation_id)
            due.extend([lane.pop(correlation_id) for correlation_id in expired])
            if not lane:
                del lanes[timeout]
        for ask in due:
            ask.expire()
        if earliest < self.armed:
            self._arm(earliest)
