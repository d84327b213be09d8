"""Timers owned by one actor incarnation: send-after and periodic messages.

Every timer reads the system's :class:`~actors.Clock`, is keyed (starting a
timer with a key in use replaces it) and is cancelled when its actor stops or
restarts. Periodic timers run at a fixed rate (tick ``n`` is due at
``start + n * interval``) so they do not drift.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

    from ._clock import Cancellable, Clock

__all__ = ["Timers"]


class Timers:
    """The timers of one actor incarnation."""

    def __init__(self, clock: Clock, deliver: Callable[[object], object]) -> None:
        self._clock = clock
        self._deliver = deliver
        self._handles: dict[Hashable, Cancellable] = {}
        self._closed = False

    def send_after(self, delay: float, message: object, *, key: Hashable | None = None) -> Hashable:
        """Send ``message`` to this actor once, ``delay`` seconds from now.

        Returns the timer's key (``key``, or a fresh one).
        """
        if delay < 0:
            raise ValueError(f"timer delay must be >= 0, got {delay}")
        key = self._claim(key)

        def fire() -> None:
            self._handles.pop(key, None)
            self._deliver(message)

        self._handles[key] = self._clock.call_later(delay, fire)
        return key

    def send_periodically(
        self,
        interval: float,
        message: object,
        *,
        key: Hashable | None = None,
        initial_delay: float | None = None,
    ) -> Hashable:
        """Send ``message`` every ``interval`` seconds until cancelled.

        The first tick comes after ``initial_delay`` (default: ``interval``).
        """
        if interval <= 0:
            raise ValueError(f"timer interval must be > 0, got {interval}")
        key = self._claim(key)
        clock = self._clock
        first = interval if initial_delay is None else initial_delay
        start = clock.now() + first
        ticks = 0

        def fire() -> None:
            nonlocal ticks
            ticks += 1
            due = start + ticks * interval
            self._handles[key] = clock.call_later(max(0.0, due - clock.now()), fire)
            self._deliver(message)

        self._handles[key] = clock.call_later(first, fire)
        return key

    def cancel(self, key: Hashable) -> bool:
        """Cancel the timer ``key``; ``False`` if there was none."""
        handle = self._handles.pop(key, None)
        if handle is None:
            return False
        handle.cancel()
        return True

    def is_active(self, key: Hashable) -> bool:
        return key in self._handles

    def __len__(self) -> int:
        return len(self._handles)

    def cancel_all(self) -> None:
        """Cancel every timer and refuse new ones (the owner is stopping)."""
        self._closed = True
        handles, self._handles = self._handles, {}
        for handle in handles.values():
            handle.cancel()

    def _claim(self, key: Hashable | None) -> Hashable:
        if self._closed:
            raise RuntimeError("timers of a stopped actor cannot be started")
        if key is None:
            key = object()
        else:
            self.cancel(key)
        return key
