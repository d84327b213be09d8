"""A :class:`~actors.Clock` for simulations: the loop's time, and a wall clock made from it.

The runtime's default :class:`~actors.LoopClock` already follows a virtual
loop for ``now``, ``sleep`` and ``call_later``; only its ``wall`` reads the
real system clock. :class:`VirtualClock` derives ``wall`` from the loop's
time too, so timestamps (ledger records, for one) are the same on every
replay of a seed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from .. import Cancellable

__all__ = ["VirtualClock"]

EPOCH = 1_767_225_600.0
"""The wall-clock reading at loop time 0: 2026-01-01T00:00:00Z."""


class VirtualClock:
    """The running loop's clock, with ``wall() == epoch + now()``.

    On a :class:`VirtualEventLoop` every reading is virtual and so
    reproducible; on any other loop it is the loop's monotonic clock shifted
    to ``epoch``.
    """

    def __init__(self, epoch: float = EPOCH) -> None:
        self.epoch = epoch

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def wall(self) -> float:
        return self.epoch + asyncio.get_running_loop().time()

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(delay)

    def call_later(self, delay: float, callback: Callable[[], object]) -> Cancellable:
        return asyncio.get_running_loop().call_later(delay, callback)

    def __repr__(self) -> str:
        return f"VirtualClock(epoch={self.epoch!r})"
