"""An asyncio event loop on virtual time.

:class:`VirtualEventLoop` is the standard selector event loop with one
change: its clock is a number the loop moves itself. Whenever no callback is
ready and no I/O is pending, the loop jumps straight to the next scheduled
timer instead of waiting for it, so an hour of timers passes in a fraction of
a second of real time. Everything that waits through the loop's clock
(``asyncio.sleep``, ``call_later``, ``asyncio.wait(timeout=...)``,
``asyncio.timeout``, ``anyio.sleep``, ``anyio.fail_after``, and so every
timer, ask timeout, backoff and shutdown timeout of the runtime) follows it.

Why our own loop rather than the ``looptime`` library: see ``docs/testing.md``
("Why a loop of our own"). In short, ``looptime`` is driven by
pytest-asyncio's fixtures (with anyio's pytest plugin alone, installing it
makes every fixture fail), and its loop waits for dozens of idle cycles
before each jump. Ours is a selector wrapper of about a hundred lines that
jumps exactly to the next timer.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from _typeshed import FileDescriptorLike

__all__ = ["VirtualEventLoop"]


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose ``time()`` is virtual and jumps to the next timer.

    Time starts at ``start`` and moves only when the loop would otherwise
    wait: with no callback ready and no I/O event pending, it moves exactly to
    the due time of the earliest timer. Real I/O and wake-ups from other
    threads (``call_soon_threadsafe``) are still polled before every jump;
    they take no virtual time.

    Use it as a loop factory: ``asyncio.Runner(loop_factory=VirtualEventLoop)``,
    or anyio's pytest plugin with
    ``anyio_backend = ("asyncio", {"loop_factory": VirtualEventLoop})``.
    It does not work with uvloop, whose clock cannot be replaced.
    """

    def __init__(self, *, start: float = 0.0) -> None:
        self._virtual_now = float(start)
        self._jumps = 0
        self._deadline: float | None = None
        self._deadline_handler: Callable[[], object] | None = None
        self._stall_handler: Callable[[], object] | None = None
        self._stall_after = 1.0
        self._holds = 0
        super().__init__(selector=_VirtualSelector(selectors.DefaultSelector(), self))

    def time(self) -> float:
        """The virtual time, in seconds."""
        return self._virtual_now

    @property
    def jumps(self) -> int:
        """How many times the clock has jumped ahead to a timer."""
        return self._jumps

    def hold_time(self) -> Callable[[], None]:
        """Keep virtual time still until the returned release is called (on the loop).

        For work the loop waits on in another thread (a maintenance job on
        the system's pool): while any hold is taken, the loop waits for real
        wake-ups (``call_soon_threadsafe``) instead of jumping to the next
        timer, so such work takes no virtual time, like I/O. Each release
        counts once; calling it again does nothing.
        """
        self._holds += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._holds -= 1

        return release

    def set_deadline(self, when: float | None, handler: Callable[[], object] | None) -> None:
        """Never jump past ``when``: stop the clock there and call ``handler`` once.

        ``None`` removes the deadline. The handler runs inside the loop (it may
        cancel tasks); time then goes on normally.
        """
        if when is None or handler is None:
            self._deadline = self._deadline_handler = None
        else:
            self._deadline, self._deadline_handler = float(when), handler

    def set_stall_handler(
        self, handler: Callable[[], object] | None, *, after: float = 1.0
    ) -> None:
        """Call ``handler`` when the loop has nothing to do at all.

        That is: no callback ready, no timer scheduled, and no I/O or
        thread wake-up for ``after`` real seconds, so every task waits on
        something that can never come. ``None`` removes the handler (the loop
        then waits for I/O forever, like any event loop).
        """
        if after <= 0:
            raise ValueError(f"stall timeout must be > 0, got {after}")
        self._stall_handler = handler
        self._stall_after = after

    def _next_timer(self) -> float | None:
        # The loop purges cancelled timers from the head of its heap before it
        # polls, so the head is the next timer due.
        scheduled: list[asyncio.TimerHandle] = self._scheduled  # type: ignore[attr-defined]
        return scheduled[0].when() if scheduled else None

    def _jump(self, timeout: float) -> None:
        """Nothing to do until the next timer, ``timeout`` seconds away: go there."""
        now = self._virtual_now
        target = now + timeout
        when = self._next_timer()
        # Land exactly on the timer's due time, not on a float rounding of it.
        if when is not None and abs(when - target) <= self._clock_resolution:  # type: ignore[attr-defined]
            target = when
        deadline = self._deadline
        if deadline is not None and target > deadline:
            handler = self._deadline_handler
            self._deadline = self._deadline_handler = None
            self._virtual_now = max(now, deadline)
            if handler is not None:
                handler()
            return
        if target > now:
            self._virtual_now = target
            self._jumps += 1

    def _idle(self, selector: selectors.BaseSelector) -> list[tuple[selectors.SelectorKey, int]]:
        """Nothing ready, nothing scheduled: only I/O or another thread can help."""
        handler = self._stall_handler
        if handler is None:
            return selector.select(None)
        ready = selector.select(self._stall_after)
        if not ready:
            handler()
        return ready


class _VirtualSelector(selectors.BaseSelector):
    """The loop's selector: polls real I/O, then moves virtual time instead of waiting."""

    def __init__(self, inner: selectors.BaseSelector, loop: VirtualEventLoop) -> None:
        self._inner = inner
        self._loop = loop

    def register(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._inner.select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        if self._loop._holds:
            # Work in another thread is under way: wait for its wake-up in real time.
            return self._inner.select(timeout)
        if timeout is None:
            return self._loop._idle(self._inner)
        self._loop._jump(timeout)
        return []

    def close(self) -> None:
        self._inner.close()

    def get_key(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Mapping[FileDescriptorLike, selectors.SelectorKey]:
        return self._inner.get_map()
