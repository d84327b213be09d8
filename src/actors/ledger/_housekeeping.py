"""Where a ledger's fsyncs and store housekeeping run: one at a time, in order.

A blocking store's :meth:`~actors.ledger.Store.sync` and
:meth:`~actors.ledger.Store.maintain` run off the event loop and off the
writer thread, so that a commit never queues behind them. They must stay
serial: one fsync or WAL copy at a time, on the store's one maintenance
connection.

A ledger that belongs to an actor system (``ActorSystem(ledger=...)``) runs
them on a :class:`~actors.MaintenanceLane` of the system's work-stealing pool:
no thread of its own. A ledger used without a system, or outliving its
system (as a node's does: it closes after the system), runs them on a thread
of its own, started on first use. Handing over from the lane to the thread
keeps them serial: the thread's first job waits until the lane has finished
what it held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from .. import SystemNotRunning
from ._writer import WriterThread

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from .. import Maintenance, MaintenanceLane

__all__ = ["Housekeeping"]

T = TypeVar("T")

_WAIT_FOR_LANE = 60.0  # seconds the own thread waits for a lane that still has a job


class Housekeeping:
    """Runs a ledger's background calls on a maintenance lane, else on its own thread."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._thread: WriterThread | None = None
        self._lane: MaintenanceLane | None = None
        self._handed_over: MaintenanceLane | None = None  # the lane the thread took over from
        self.on_lane = 0
        """Calls run on a maintenance lane so far."""
        self.on_thread = 0
        """Calls run on the ledger's own thread so far."""

    @property
    def lane(self) -> MaintenanceLane | None:
        """The lane in use (``None``: the ledger's own thread)."""
        lane = self._lane
        return None if lane is None or lane.closed else lane

    def use(self, maintenance: Maintenance) -> None:
        """Run from now on on a new lane of ``maintenance`` (call on the event loop)."""
        if self.lane is not None:
            return
        thread = self._thread
        if thread is not None and thread.outstanding:
            return  # the thread is busy: keep it, so the two never overlap
        try:
            self._lane = maintenance.lane(self._name)
        except (SystemNotRunning, ValueError):
            return  # the system is gone or going, or the name is taken: keep to the thread

    def submit(self, call: Callable[[], T]) -> asyncio.Future[T]:
        """Queue ``call`` after every call submitted before; the future settles on the loop."""
        lane = self._lane
        if lane is not None:
            if not lane.closed:
                self.on_lane += 1
                return lane.submit(call)
            self._lane = None
            if not lane.idle.is_set():
                self._handed_over = lane
        thread = self._thread
        if thread is None:
            thread = self._thread = WriterThread(self._name)
            thread.start()
        self.on_thread += 1
        handed_over, self._handed_over = self._handed_over, None
        if handed_over is None:
            return thread.submit(call)

        def after_the_lane() -> T:
            handed_over.idle.wait(_WAIT_FOR_LANE)
            return call()

        return thread.submit(after_the_lane)

    async def stop(self) -> None:
        """Wait for what the lane holds, release it, and stop the own thread if started."""
        lane, self._lane = self._lane, None
        if lane is not None:
            lane.close()
            await lane.wait_idle()
        if self._thread is not None:
            await self._thread.stop()
