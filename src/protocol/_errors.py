"""Errors of the wire level.

The tree::

    ProtocolError                       root of everything raised by ``protocol``
    ├── MessageDefinitionError          a Message subclass is defined wrongly (local misuse)
    │   └── DuplicateMessageTag         two different classes claim one tag
    ├── MessageTooLarge                 a frame to send exceeds the maximum size (local)
    ├── HandshakeStateError             a Handshake used out of order (local misuse)
    └── RemoteProtocolError             bytes from outside are bad (blame: the peer)
        ├── MalformedMessage            not valid msgpack, or truncated
        ├── UnknownMessageType          a tag no registered Message type carries
        ├── InvalidMessage              the tag is known but the fields do not validate
        ├── MalformedEnvelope           the bytes of a frame are not a valid envelope
        ├── FramingError                the byte stream does not split into frames
        │   ├── FrameTooLarge           a frame header announces more than the maximum
        │   └── TruncatedFrame          the stream ended in the middle of a frame
        └── HandshakeError              the connection handshake failed
            ├── MalformedHandshake      the bytes are not a handshake message
            ├── UnexpectedHandshakeMessage  a valid handshake message at the wrong step
            ├── ProtocolVersionMismatch the peer speaks another protocol version
            ├── ClusterMismatch         the peer belongs to another cluster
            └── AuthenticationFailed    a side did not prove knowledge of the cluster secret

``RemoteProtocolError`` subclasses also derive from :class:`ValueError`, so a
caller that only knows builtins can still catch them. A transport that catches
``RemoteProtocolError`` closes that one connection and names the error's class
as the reason; local misuse (``MessageTooLarge``, ``HandshakeStateError``)
fails the call that caused it and leaves the connection alone.
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


class MessageTooLarge(ProtocolError, ValueError):
    """An encoded payload to send is larger than the maximum frame size.

    Local: the peer would refuse the frame, so it is never sent. The
    connection stays usable.
    """

    def __init__(self, size: int, max_frame_size: int) -> None:
        super().__init__(
            f"encoded payload of {size} bytes exceeds the maximum frame size "
            f"of {max_frame_size} bytes"
        )
        self.size = size
        self.max_frame_size = max_frame_size


class HandshakeStateError(ProtocolError, RuntimeError):
    """A :class:`~protocol.Handshake` was fed after it had finished or failed."""


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


class MalformedEnvelope(RemoteProtocolError):
    """A frame's bytes are not a valid :class:`~protocol.Envelope`."""


class FramingError(RemoteProtocolError):
    """The received byte stream does not split into valid frames."""


class FrameTooLarge(FramingError):
    """A frame header announces a payload larger than the maximum frame size."""

    def __init__(self, size: int, max_frame_size: int) -> None:
        super().__init__(
            f"frame header announces {size} bytes, over the maximum frame size "
            f"of {max_frame_size} bytes"
        )
        self.size = size
        self.max_frame_size = max_frame_size


class TruncatedFrame(FramingError):
    """The stream ended with an incomplete frame buffered.

    ``expected`` is the payload size the frame's header announced, or ``None``
    if the stream ended inside the header.
    """

    def __init__(self, buffered: int, expected: int | None) -> None:
        wanted = (
            "a 4-byte frame header"
            if expected is None
            else f"a header and the {expected}-byte payload it announced"
        )
        super().__init__(
            f"stream ended inside a frame: {buffered} bytes buffered, short of {wanted}"
        )
        self.buffered = buffered
        self.expected = expected


class HandshakeError(RemoteProtocolError):
    """The connection handshake failed; the connection must be closed."""


class MalformedHandshake(HandshakeError):
    """A handshake frame is not a valid handshake message."""


class UnexpectedHandshakeMessage(HandshakeError):
    """A valid handshake message arrived at a step that does not expect it."""


class ProtocolVersionMismatch(HandshakeError):
    """The two sides speak different protocol versions."""


class ClusterMismatch(HandshakeError):
    """The peer belongs to another cluster."""


class AuthenticationFailed(HandshakeError):
    """A side did not prove knowledge of the shared cluster secret."""
