"""Dead letters: messages that could not be delivered, kept observable.

A message told to a stopped actor, dropped by a full mailbox's policy, or left
in a mailbox when its actor stopped is never silently lost: it is counted,
logged (``dead_letter``), kept in a bounded window of recent letters, and
handed to every subscriber.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DeadLetter", "DeadLetters"]

logger = structlog.get_logger(__name__)


class DeadLetter(msgspec.Struct, frozen=True):
    """One undeliverable message and why it was not delivered."""

    recipient: str
    message: Any  # Any: whatever the sender sent; never decoded from outside
    reason: str

    @property
    def message_type(self) -> str:
        return type(self.message).__qualname__


class DeadLetters:
    """The system's record of undeliverable messages."""

    def __init__(self, keep: int = 1000, *, log_info: bool = True) -> None:
        self._log_info = log_info
        self._recent: deque[DeadLetter] = deque(maxlen=keep)
        self._subscribers: list[Callable[[DeadLetter], object]] = []
        self.count = 0

    def publish(self, recipient: str, message: object, reason: str) -> None:
        letter = DeadLetter(recipient=recipient, message=message, reason=reason)
        self.count += 1
        self._recent.append(letter)
        if self._log_info:
            logger.info(
                "dead_letter",
                actor=recipient,
                msg_type=letter.message_type,
                reason=reason,
            )
        for subscriber in tuple(self._subscribers):
            subscriber(letter)

    def recent(self) -> tuple[DeadLetter, ...]:
        """The most recent dead letters, oldest first."""
        return tuple(self._recent)

    def subscribe(self, callback: Callable[[DeadLetter], object]) -> Callable[[], None]:
        """Call ``callback`` (synchronously, never blocking) for each dead letter.

        Returns a function that unsubscribes.
        """
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe
