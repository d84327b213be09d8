"""Death watch and links: the messages they produce.

``context.watch(ref)`` makes the watcher receive :class:`Terminated` when the
watched actor stops for good (a restart is not a termination).
``context.link(ref)`` ties two actors' fates: when one fails, the other fails
with :class:`~actors.LinkedActorFailed` — unless it traps exits (class
attribute ``trap_exits = True``), in which case it receives :class:`LinkExited`.
"""

from __future__ import annotations

from protocol import Message

__all__ = ["LinkExited", "Terminated"]


class Terminated(Message, tag="tadpole.Terminated"):
    """A watched actor stopped for good."""

    path: str
    """The path of the actor that stopped."""
    reason: str
    """``"stopped"`` for a normal stop, else the failure that ended it."""
    failed: bool = False


class LinkExited(Message, tag="tadpole.LinkExited"):
    """A linked actor failed (delivered only to actors that trap exits)."""

    path: str
    reason: str
