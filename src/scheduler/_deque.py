"""A Chase-Lev work-stealing deque for CPython, with and without the GIL.

Shape (Chase & Lev, "Dynamic Circular Work-Stealing Deque", SPAA 2005): a
ring buffer of power-of-two capacity indexed by two counters, ``top`` and
``bottom``; the live items are the slots ``top .. bottom - 1`` (modulo the
capacity). The *owner* pushes and pops at the bottom, so its own work is
taken newest first (LIFO, cache-warm); *thieves* steal at the top, so they
take the oldest work first (FIFO, usually the largest pieces). When the ring
is full, ``push`` doubles it and copies the live items in order.

Synchronisation — what replaces Chase-Lev's compare-and-swap:

CPython has no compare-and-swap for Python code and, on the free-threaded
build (PEP 703), documents no memory ordering for plain attribute or list
stores. The published algorithm needs both: a CAS on ``top`` to arbitrate
between thieves (and between a thief and the owner over the last item), and
a sequentially consistent fence between the owner's store to ``bottom`` and
its load of ``top``. Rather than depend on what the interpreter happens to do
today, every operation that reads or moves an index runs inside one
``threading.Lock`` per deque:

===========================  ============  ==========================================
operation                    caller        synchronised by
===========================  ============  ==========================================
``push``                     owner         the deque's lock (may grow the ring)
``pop``, ``pop_oldest``      owner         the deque's lock
``steal``                    any thread    the deque's lock (stands in for the CAS)
``len()``, ``statistics``    any thread    the deque's lock (an exact snapshot)
===========================  ============  ==========================================

The lock's acquire/release pairs give every thread a happens-before edge
with the previous holder, on every build, by the documented semantics of
``threading.Lock``; the index arithmetic inside is therefore sequential, and
each live slot is handed to exactly one caller, which clears it before the
lock is released. The critical sections are a handful of bytecodes and
allocate nothing (except on growth), so the owner almost always finds the
lock free: contention exists only while a thief is stealing from this very
deque, which is the contended path the original algorithm also pays a CAS
for. The deque keeps the Chase-Lev *roles* — owner at the bottom, thieves at
the top, only the owner pushes — because the pool's fairness rests on them
(thieves take old work, the owner keeps recent work local).

References: a taken slot is set to ``None`` at once, so the deque never keeps
a job (or its closure, or its future) alive after it was handed out. When the
deque becomes empty, the indices return to zero and a grown ring is replaced
by a fresh one of the initial capacity, so a burst does not pin memory.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from typing import Final, Generic, Literal, TypeVar, cast

from ._errors import SchedulerConfigError

__all__ = ["EMPTY", "DequeStatistics", "Empty", "WorkStealingDeque"]

T = TypeVar("T")


class Empty(enum.Enum):
    """The type of :data:`EMPTY`, the "nothing to take" answer of a deque."""

    EMPTY = "EMPTY"

    def __repr__(self) -> str:
        return "EMPTY"


EMPTY: Final = Empty.EMPTY
"""Returned by :meth:`WorkStealingDeque.pop`, ``pop_oldest`` and ``steal``
when there is nothing to take. A sentinel rather than ``None`` so that
``None`` can be an item, and rather than an exception so that an idle thief's
miss costs no traceback."""

DEFAULT_CAPACITY: Final = 32


@dataclass(frozen=True, slots=True)
class DequeStatistics:
    """A snapshot of a deque's counters (all taken under the deque's lock)."""

    pushes: int
    """Items pushed by the owner."""
    pops: int
    """Items the owner took back: newest-first ``pop`` and ``pop_oldest``."""
    steals: int
    """Items taken by thieves."""
    failed_steals: int
    """Steal attempts that found the deque empty."""
    size: int
    """Items in the deque at the moment of the snapshot."""
    capacity: int
    """Slots in the ring buffer at the moment of the snapshot."""


class WorkStealingDeque(Generic[T]):
    """A Chase-Lev work-stealing deque; see the module docstring for its synchronisation.

    Only the owning thread may call :meth:`push`, :meth:`pop` and
    :meth:`pop_oldest`; any thread may call :meth:`steal`. (The lock makes
    other uses memory-safe too, but the LIFO/FIFO split that work stealing
    relies on assumes one owner.)

    :param capacity: initial ring size, a power of two ≥ 2; the ring doubles
        whenever it is full, and returns to this size when it empties.
    """

    __slots__ = (
        "_bottom",
        "_buffer",
        "_capacity0",
        "_failed_steals",
        "_lock",
        "_mask",
        "_pops",
        "_pushes",
        "_steals",
        "_top",
    )

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 2 or capacity & (capacity - 1):
            raise SchedulerConfigError(
                f"deque capacity must be a power of two >= 2, got {capacity!r}"
            )
        self._capacity0 = capacity
        self._buffer: list[T | None] = [None] * capacity
        self._mask = capacity - 1
        self._top = 0
        self._bottom = 0
        self._lock = threading.Lock()
        self._pushes = 0
        self._pops = 0
        self._steals = 0
        self._failed_steals = 0

    # -- owner side ---------------------------------------------------------

    def push(self, item: T) -> None:
        """Add ``item`` at the bottom (owner only). Never blocks on work; grows if full."""
        with self._lock:
            b = self._bottom
            if b - self._top > self._mask:
                self._grow()
            self._buffer[b & self._mask] = item
            self._bottom = b + 1
            self._pushes += 1

    def pop(self) -> T | Literal[Empty.EMPTY]:
        """Take the newest item from the bottom (owner only), or :data:`EMPTY`."""
        with self._lock:
            b = self._bottom
            t = self._top
            if b == t:
                return EMPTY
            b -= 1
            i = b & self._mask
            item = self._buffer[i]
            self._buffer[i] = None
            self._pops += 1
            if b == t:
                self._reset()
            else:
                self._bottom = b
            return cast("T", item)

    def pop_oldest(self) -> T | Literal[Empty.EMPTY]:
        """Take the oldest item from the top (owner only), or :data:`EMPTY`.

        What a thief would take, counted as the owner's pop: the pool uses it
        to cap runs of LIFO pops so that old local work cannot starve.
        """
        with self._lock:
            t = self._top
            if t == self._bottom:
                return EMPTY
            self._pops += 1
            return self._take_top(t)

    # -- thief side ---------------------------------------------------------

    def steal(self) -> T | Literal[Empty.EMPTY]:
        """Take the oldest item from the top (any thread), or :data:`EMPTY`."""
        with self._lock:
            t = self._top
            if t == self._bottom:
                self._failed_steals += 1
                return EMPTY
            self._steals += 1
            return self._take_top(t)

    # -- observation --------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return self._bottom - self._top

    @property
    def capacity(self) -> int:
        """Slots in the ring buffer now."""
        return self._mask + 1

    def statistics(self) -> DequeStatistics:
        """Counters and current size, as one consistent snapshot."""
        with self._lock:
            return DequeStatistics(
                pushes=self._pushes,
                pops=self._pops,
                steals=self._steals,
                failed_steals=self._failed_steals,
                size=self._bottom - self._top,
                capacity=self._mask + 1,
            )

    def __repr__(self) -> str:
        s = self.statistics()
        return f"<WorkStealingDeque size={s.size} capacity={s.capacity}>"

    # -- internals (lock held) ----------------------------------------------

    def _take_top(self, t: int) -> T:
        i = t & self._mask
        item = self._buffer[i]
        self._buffer[i] = None
        t += 1
        if t == self._bottom:
            self._reset()
        else:
            self._top = t
        return cast("T", item)

    def _reset(self) -> None:
        # Empty: small indices stay in CPython's small-int cache, and a ring
        # grown by a burst is given back.
        self._top = 0
        self._bottom = 0
        if self._mask + 1 != self._capacity0:
            self._buffer = [None] * self._capacity0
            self._mask = self._capacity0 - 1

    def _grow(self) -> None:
        old = self._buffer
        old_mask = self._mask
        size = old_mask + 1
        new_mask = 2 * size - 1
        new: list[T | None] = [None] * (2 * size)
        for k in range(self._top, self._bottom):
            new[k & new_mask] = old[k & old_mask]
        self._buffer = new
        self._mask = new_mask
