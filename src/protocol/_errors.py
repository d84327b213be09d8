"""Errors of the wire level.

The tree::

    ProtocolError                       root of everything raised by ``protocol``
    ├── MessageDefinitionError          a Message subclass is defined wrongly (local misuse)
    │   └── DuplicateMessageTag         two different classes claim one tag
    └── RemoteProtocolError             bytes from outside are bad (blame: the peer)
        ├── MalformedMessage            not valid msgpack, or truncated
        ├── UnknownMessageType          a tag no registered Message type carries
        └── InvalidMessage              the tag is known but the fields do not validate

``RemoteProtocolError`` subclasses also derive from :class:`ValueError`, so a
caller that only knows builtins can still catch them.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Root of the errors raised by the ``protocol`` package."""


class MessageDefinitionError(ProtocolError, TypeError):
    """A :class:`~protocol.Message` subclass is defined in a way that cannot work."""


class DuplicateMessageTag(MessageDefinitionError):
    """Two different message classes claim the same wire tag."""

    def __init__(self, tag: str, existing: str, new: str) -> None:
        super().__init__(
            f"message tag {tag!r} is already used by {existing}; "
            f"{new} must choose another tag (class keyword `tag=...`)"
        )
        self.tag = tag


class RemoteProtocolError(ProtocolError, ValueError):
    """Bytes received from outside do not form a valid message."""


class MalformedMessage(RemoteProtocolError):
    """The bytes are not a well-formed encoded message."""


class UnknownMessageType(RemoteProtocolError):
    """The message carries a tag that no registered message type has."""

    def __init__(self, tag: object) -> None:
        super().__init__(f"unknown message tag {tag!r}: no registered Message type has it")
        self.tag = tag


class InvalidMessage(RemoteProtocolError):
    """The message type is known but its fields do not validate."""
