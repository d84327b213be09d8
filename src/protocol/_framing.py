"""Length-prefixed frames over a byte stream.

A frame is a 4-byte big-endian unsigned length followed by that many payload
bytes::

    +----------------+---------------------------+
    | length (u32 BE) | payload (length bytes)    |
    +----------------+---------------------------+

The length counts the payload only. Every connection has a maximum frame
size: a sender refuses to build a larger frame (:class:`MessageTooLarge`) and a
receiver refuses a header that announces one (:class:`FrameTooLarge`) before
buffering its payload, so a peer cannot make a node hold more than one
maximum-sized frame per connection.

:class:`FrameReader` is transport-free: feed it whatever chunks the socket
returns (a frame split at any byte, many frames in one chunk) and take the
complete frames out. :class:`FrameWriter` batches frames into one buffer so a
transport can send many messages with one write.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Final, TypeVar

from ._errors import FrameTooLarge, MessageTooLarge, TruncatedFrame

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "FRAME_HEADER_SIZE",
    "FrameReader",
    "FrameWriter",
    "encode_frame",
    "encode_frames",
    "split_frames",
    "whole_frames_end",
]

T = TypeVar("T")

FRAME_HEADER_SIZE: Final = 4
"""Bytes of the length prefix in front of every frame."""

DEFAULT_MAX_FRAME_SIZE: Final = 16 * 1024 * 1024
"""Default limit on a frame's payload: 16 MiB."""

_LIMIT: Final = 2**32 - 1  # the largest length a u32 header can carry
_HEADER = struct.Struct(">I")
_pack = _HEADER.pack
_pack_into = _HEADER.pack_into
_unpack_from = _HEADER.unpack_from
_BLANK_HEADER: Final = bytes(FRAME_HEADER_SIZE)

BytesLike = bytes | bytearray | memoryview


def _check_limit(max_frame_size: int) -> int:
    if not 0 < max_frame_size <= _LIMIT:
        raise ValueError(f"max_frame_size must be in 1..{_LIMIT}, got {max_frame_size!r}")
    return max_frame_size


def encode_frame(payload: BytesLike, *, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> bytes:
    """One frame: the length prefix followed by ``payload``.

    Raises :class:`MessageTooLarge` if ``payload`` is over ``max_frame_size``.
    """
    size = len(payload) if not isinstance(payload, memoryview) else payload.nbytes
    if size > max_frame_size:
        raise MessageTooLarge(size, max_frame_size)
    return b"".join((_pack(size), payload))


def encode_frames(
    payloads: Iterable[BytesLike], *, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
) -> bytes:
    """Frames holding each of ``payloads``, in order, as one buffer (one write).

    Raises :class:`MessageTooLarge` if a payload is over ``max_frame_size``.
    """
    return b"".join([encode_frame(p, max_frame_size=max_frame_size) for p in payloads])


def split_frames(data: BytesLike) -> Iterator[bytes]:
    """The payloads of the whole frames at the start of ``data``, in order.

    For a buffer this side built (a batch that was never sent): stops at the
    first frame that is not whole; no size limit is checked.
    """
    view = memoryview(data)
    try:
        end = len(view)
        at = 0
        while at + FRAME_HEADER_SIZE <= end:
            (size,) = _unpack_from(view, at)
            start = at + FRAME_HEADER_SIZE
            if start + size > end:
                return
            at = start + size
            yield bytes(view[start:at])
    finally:
        view.release()


def whole_frames_end(data: BytesLike, limit: int) -> int:
    """The offset in ``data`` (frames back to back, from offset 0) where the last
    frame that ends at or before ``limit`` ends: bytes up to ``limit`` went out,
    so the frames before this offset went out whole and the rest did not."""
    at = 0
    end = len(data)
    while at + FRAME_HEADER_SIZE <= end:
        next_at = at + FRAME_HEADER_SIZE + _unpack_from(data, at)[0]
        if next_at > limit:
            break
        at = next_at
    return at


class FrameWriter:
    """Collects frames in one buffer, to be sent with a single write.

    ``add`` appends an already-encoded payload; ``add_encoded`` lets an
    encoder write the payload straight into the buffer (no intermediate
    bytes object), for example ``writer.add_encoded(codec.encode_into, env)``.
    ``take`` hands over everything collected and starts a new buffer.
    """

    __slots__ = ("_buffer", "_count", "_max")

    def __init__(self, *, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self._max = _check_limit(max_frame_size)
        self._buffer = bytearray()
        self._count = 0

    @property
    def max_frame_size(self) -> int:
        return self._max

    @property
    def frames(self) -> int:
        """How many frames are waiting in the buffer."""
        return self._count

    def __len__(self) -> int:
        """How many bytes are waiting in the buffer."""
        return len(self._buffer)

    def add(self, payload: BytesLike) -> None:
        """Append one frame holding ``payload``.

        Raises :class:`MessageTooLarge` (and appends nothing) if ``payload``
        is over the maximum frame size.
        """
        size = len(payload) if not isinstance(payload, memoryview) else payload.nbytes
        if size > self._max:
            raise MessageTooLarge(size, self._max)
        buffer = self._buffer
        buffer += _pack(size)
        buffer += payload
        self._count += 1

    def add_encoded(self, encode_into: Callable[[T, bytearray, int], None], obj: T) -> None:
        """Append one frame whose payload ``encode_into(obj, buffer, -1)`` appends.

        ``encode_into`` follows :meth:`msgspec.msgpack.Encoder.encode_into`
        (offset ``-1`` appends). If it raises, or the payload is over the
        maximum frame size (:class:`MessageTooLarge`), the buffer is left as
        it was.
        """
        buffer = self._buffer
        start = len(buffer)
        buffer += _BLANK_HEADER
        try:
            encode_into(obj, buffer, -1)
        except BaseException:
            del buffer[start:]
            raise
        size = len(buffer) - start - FRAME_HEADER_SIZE
        if size > self._max:
            del buffer[start:]
            raise MessageTooLarge(size, self._max)
        _pack_into(buffer, start, size)
        self._count += 1

    def take(self) -> bytearray:
        """Every frame added since the last ``take``, as one buffer; the writer empties."""
        buffer = self._buffer
        self._buffer = bytearray()
        self._count = 0
        return buffer


class FrameReader:
    """Reassembles frames from the chunks of a byte stream.

    Feed it chunks with :meth:`feed`; take complete frames with
    :meth:`next_frame` or by iterating. Frames come out as :class:`bytes`
    copies, so they stay valid however the reader's buffers change. Call
    :meth:`eof` when the stream ends: it raises :class:`TruncatedFrame` if a
    frame was left incomplete.

    A header that announces more than ``max_frame_size`` raises
    :class:`FrameTooLarge` as soon as its four bytes have arrived; the frames
    before it are still handed out first. After an error the stream cannot be
    resynchronised: close the connection.
    """

    __slots__ = ("_buffer", "_max", "_pending", "_pending_size", "_pos")

    def __init__(self, *, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self._max = _check_limit(max_frame_size)
        # Bytes being parsed; frames are sliced out of it, from ``_pos`` on.
        self._buffer = b""
        self._pos = 0
        # Chunks received while the current frame is incomplete. They are
        # joined once, when enough bytes have arrived: a large frame that
        # arrives in many small chunks costs one copy, not one per chunk.
        self._pending: list[bytes] = []
        self._pending_size = 0

    @property
    def max_frame_size(self) -> int:
        """The largest payload a header may announce; a larger one raises :class:`FrameTooLarge`.

        Settable: a connection reads its handshake under a small limit and
        raises it once the peer is authenticated. The new limit applies to the
        headers not yet parsed.
        """
        return self._max

    @max_frame_size.setter
    def max_frame_size(self, value: int) -> None:
        self._max = _check_limit(value)

    @property
    def buffered(self) -> int:
        """Bytes received but not yet handed out as frames."""
        return len(self._buffer) - self._pos + self._pending_size

    def feed(self, data: BytesLike) -> None:
        """Add a chunk of the stream (any size, split anywhere)."""
        if data:
            # bytes() of an exact bytes object is the object itself: no copy.
            # Other buffers are copied, since the caller may reuse them.
            chunk = bytes(data)
            self._pending.append(chunk)
            self._pending_size += len(chunk)

    def next_frame(self) -> bytes | None:
        """The next complete frame's payload, or ``None`` until more bytes arrive.

        Raises :class:`FrameTooLarge` when the next header is over the limit.
        """
        while True:
            buffer = self._buffer
            pos = self._pos
            available = len(buffer) - pos
            if available >= FRAME_HEADER_SIZE:
                (size,) = _unpack_from(buffer, pos)
                if size > self._max:
                    raise FrameTooLarge(size, self._max)
                start = pos + FRAME_HEADER_SIZE
                end = start + size
                if end <= len(buffer):
                    self._pos = end
                    return buffer[start:end]
                missing = end - len(buffer)
            else:
                missing = FRAME_HEADER_SIZE - available
            if self._pending_size < missing:
                return None
            self._refill()

    def __iter__(self) -> Iterator[bytes]:
        """Every complete frame available now, in order."""
        next_frame = self.next_frame
        while (frame := next_frame()) is not None:
            yield frame

    def eof(self) -> None:
        """Declare the end of the stream.

        Raises :class:`TruncatedFrame` if bytes of an incomplete frame remain.
        Frames still complete in the buffer must be taken first.
        """
        buffered = self.buffered
        if not buffered:
            return
        self._refill()
        expected: int | None = None
        if buffered >= FRAME_HEADER_SIZE:
            (expected,) = _unpack_from(self._buffer, self._pos)
        raise TruncatedFrame(buffered, expected)

    def _refill(self) -> None:
        """Join the unparsed rest of the buffer with the pending chunks."""
        pending = self._pending
        rest = self._buffer[self._pos :] if self._pos < len(self._buffer) else b""
        if not rest and len(pending) == 1:
            self._buffer = pending[0]
        else:
            self._buffer = b"".join([rest, *pending])
        self._pos = 0
        pending.clear()
        self._pending_size = 0
