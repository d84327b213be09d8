"""The clock seam: every place in the runtime that reads or waits on time.

Runtime code never calls ``time.monotonic``, ``time.time``, ``asyncio.sleep``
or ``anyio.sleep`` directly; it asks a :class:`Clock`. The default
:class:`LoopClock` reads the running event loop's clock, so a loop that runs on
virtual time (see :mod:`actors.testing`) moves every timer, timeout, backoff
and heartbeat of the runtime with it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Cancellable", "Clock", "LoopClock", "clock_reader", "thread_timer"]


@runtime_checkable
class Cancellable(Protocol):
    """A scheduled callback that can be cancelled (``asyncio.TimerHandle`` is one)."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """What the runtime needs of time."""

    def now(self) -> float:
        """Monotonic seconds: for timeouts, intervals and deadlines."""
        ...

    def wall(self) -> float:
        """Seconds since the Unix epoch: for timestamps in records and logs."""
        ...

    async def sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds."""
        ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> Cancellable:
        """Run ``callback`` on the event loop after ``delay`` seconds."""
        ...


class LoopClock:
    """The running event loop's clock, with the system's wall clock for timestamps.

    Outside a running loop, ``now`` falls back to ``time.monotonic`` so that
    synchronous code (a ledger opened before the loop starts) still works.
    """

    def now(self) -> float:
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(delay)

    def call_later(self, delay: float, callback: Callable[[], object]) -> Cancellable:
        return asyncio.get_running_loop().call_later(delay, callback)

    def __repr__(self) -> str:
        return "LoopClock()"


def thread_timer() -> float:
    """Real monotonic seconds, readable on any thread.

    For timing work done off the event loop (a maintenance run on a pool
    worker), where a :class:`Clock` that reads the running loop cannot be
    read. Never for deadlines: those follow the system's clock.
    """
    return time.perf_counter()


def clock_reader(clock: Clock, loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """``clock.now``, or ``loop.time`` for a plain :class:`~actors.LoopClock` (which
    reads the running loop's time): the same time without looking the loop up, as
    ``asyncio.get_running_loop()`` does with a ``getpid`` system call in 3.11.
    For asyncio's own loops, whose ``time`` is ``time.monotonic()``, that
    function itself (a Python method call less)."""
    if type(clock) is not LoopClock:
        return clock.now
    if getattr(type(loop), "time", None) is _BASE_LOOP_TIME:
        return time.monotonic
    return loop.time


_BASE_LOOP_TIME: Final = asyncio.BaseEventLoop.time
