"""The writer thread: runs a blocking store's calls in order, off the event loop.

One thread per open ledger, fed by a queue. Each call's outcome comes back
to the event loop as a future resolved with ``call_soon_threadsafe``. The
thread is started and stopped by the ledger that owns it, never left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["WriterThread"]

T = TypeVar("T")

_STOP = None


class WriterThread:
    """A single thread executing submitted calls in submission order."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[
            tuple[Callable[[], Any], asyncio.Future[Any]] | None  # Any: each call's own result
        ] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        # Calls submitted and not yet settled; read and written on the loop only.
        self.outstanding = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    def submit(self, call: Callable[[], T]) -> asyncio.Future[T]:
        """Queue ``call``; the returned future settles with its outcome."""
        loop = self._loop
        assert loop is not None, "the writer thread is not started"
        future: asyncio.Future[T] = loop.create_future()
        self.outstanding += 1
        self._queue.put((call, future))
        return future

    async def stop(self) -> None:
        """Let queued calls finish, then end the thread and wait for it."""
        if not self._thread.is_alive():
            return
        self._queue.put(_STOP)
        await anyio.to_thread.run_sync(self._thread.join)

    def stop_blocking(self) -> None:
        """Like :meth:`stop`, blocking: for when the owner cannot await any more."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    def _run(self) -> None:
        get = self._queue.get
        while (item := get()) is not _STOP:
            call, future = item
            try:
                result = call()
            except Exception as exc:  # delivered to the awaiting side, not lost
                self._settle(future, None, exc)
            else:
                self._settle(future, result, None)

    def _settle(
        self, future: asyncio.Future[Any], result: Any, exc: BaseException | None
    ) -> None:  # Any: whatever the call returned
        loop = self._loop
        assert loop is not None
        # A closed loop raises RuntimeError: nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._resolve, future, result, exc)

    def _resolve(
        self, future: asyncio.Future[Any], result: Any, exc: BaseException | None
    ) -> None:  # Any: as _settle
        """On the loop: settle ``future`` (unless its waiter gave up) and count it done."""
        self.outstanding -= 1
        _resolve(future, result, exc)


def _resolve(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
