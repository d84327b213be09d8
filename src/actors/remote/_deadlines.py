"""The timeouts of a node's asks, all on one clock timer.

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

from .. import LoopClock

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from .. import Cancellable, Clock

__all__ = ["Deadlines", "clock_reader"]

_MIN_SWEEP: Final = 64
"""Heap size below which answered asks are left for the timer to drop."""


class Expiring(Protocol):
    """What :class:`Deadlines` keeps: an ask's future, and what to do when time is up."""

    @property
    def future(self) -> asyncio.Future[Any]: ...

    def expire(self) -> None: ...


def clock_reader(clock: Clock, loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """``clock.now``, or ``loop.time`` for a plain :class:`~actors.LoopClock` (which
    reads the running loop's time): the same time without looking the loop up, as
    ``asyncio.get_running_loop()`` does with a ``getpid`` system call in 3.11."""
    return loop.time if type(clock) is LoopClock else clock.now


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
