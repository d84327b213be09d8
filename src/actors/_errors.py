"""Errors of the actor runtime.

The tree::

    ActorError                          root of everything raised by ``actors``
    ├── AskTimeout (TimeoutError)       no reply within the ask's timeout
    ├── AskDeadlock (RuntimeError)      an ask that can only deadlock (asking yourself)
    ├── MailboxFull                     the mailbox is full and the policy is to fail fast
    ├── DeliveryRefused                 a delivery filter of the target refused the message
    ├── ActorNotFound (LookupError)     no actor at that path
    ├── ActorStopped                    the actor stopped before handling the message
    │   └── SystemShutdown              ...because its system is shutting down
    ├── ActorNameTaken (ValueError)     a sibling already has that name
    ├── SystemNotRunning (RuntimeError) the system is not started, or already stopped
    ├── ActorFailed                     raised inside an actor; wraps the cause for supervision
    │   ├── LinkedActorFailed           a linked actor failed, so this one fails too
    │   └── RestartIntensityExceeded    a supervisor gave up on its children and escalates
    └── RemoteActorError                a failure inside a remote actor, carried as text
"""

from __future__ import annotations

__all__ = [
    "ActorError",
    "ActorFailed",
    "ActorNameTaken",
    "ActorNotFound",
    "ActorStopped",
    "AskDeadlock",
    "AskTimeout",
    "DeliveryRefused",
    "LinkedActorFailed",
    "MailboxFull",
    "RemoteActorError",
    "RestartIntensityExceeded",
    "SystemNotRunning",
    "SystemShutdown",
]


class ActorError(Exception):
    """Root of the errors raised by the ``actors`` package."""


class AskTimeout(ActorError, TimeoutError):
    """An ask got no reply within its timeout."""

    def __init__(self, target: str, message_type: str, timeout: float) -> None:
        super().__init__(f"no reply from {target} to {message_type} within {timeout:g}s")
        self.target = target
        self.message_type = message_type
        self.timeout = timeout


class AskDeadlock(ActorError, RuntimeError):
    """An ask that could only deadlock: the reply would have to come from the asker."""


class MailboxFull(ActorError):
    """The target's mailbox is full and its overflow policy is to fail fast."""

    def __init__(self, target: str, capacity: int) -> None:
        super().__init__(f"mailbox of {target} is full ({capacity} messages)")
        self.target = target
        self.capacity = capacity


class DeliveryRefused(ActorError):
    """A delivery filter of the target refused the message: it was not enqueued.

    Filters may refuse with any exception; this one is there for those with
    no more specific error of their own (``StaleFencingToken`` and the like
    should subclass it).
    """

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"{target} refused the message: {reason}")
        self.target = target
        self.reason = reason


class ActorNotFound(ActorError, LookupError):
    """No actor lives at the given path."""

    def __init__(self, path: str) -> None:
        super().__init__(f"no actor at {path!r}")
        self.path = path


class ActorStopped(ActorError):
    """The actor stopped before it handled the message."""

    def __init__(self, target: str, detail: str = "the actor has stopped") -> None:
        super().__init__(f"{target}: {detail}")
        self.target = target


class SystemShutdown(ActorStopped):
    """The actor's system shut down before the message was handled."""


class ActorNameTaken(ActorError, ValueError):
    """A sibling already has the requested name."""

    def __init__(self, path: str) -> None:
        super().__init__(f"an actor already lives at {path!r}")
        self.path = path


class SystemNotRunning(ActorError, RuntimeError):
    """The actor system is not running (not entered yet, or already left)."""


class ActorFailed(ActorError):
    """An actor failed; carries the actor's path and the cause."""

    def __init__(self, actor: str, reason: str) -> None:
        super().__init__(f"{actor} failed: {reason}")
        self.actor = actor
        self.reason = reason


class LinkedActorFailed(ActorFailed):
    """An actor linked to this one failed, so this one fails too."""


class RestartIntensityExceeded(ActorFailed):
    """A supervisor restarted its children too often in its period and gave up."""


class RemoteActorError(ActorError):
    """A failure inside a remote actor: its type name, message and traceback as text.

    The original exception type is never rebuilt from the wire.
    """

    def __init__(self, type_name: str, message: str, traceback_text: str = "") -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.remote_message = message
        self.traceback_text = traceback_text
