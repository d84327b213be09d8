"""Cutting incoming frames out of the stream in batches, and decoding an
envelope and its message in one pass.

:class:`FrameSplitter` is :class:`protocol.FrameReader` with a batch method:
one call hands out every complete frame of a chunk (up to a limit), the
frames as ``bytes``, the limits and errors the same.

:class:`protocol.EnvelopeCodec` decodes a frame in two steps: the envelope,
keeping the payload raw, then the payload into its registered type. That is
the right shape for the protocol (a node can route without decoding), but on
the receiving node's hot path every message is decoded anyway, so
:class:`IncomingDecoder` does both with one msgspec call: the envelope's
fields, with ``payload`` typed as the union of every registered
:class:`~protocol.Message` type (and, for a ``TELLS`` frame, ``decode_run``:
a list of them). Same wire format, same validation.

It is only a fast path: bytes it refuses (anything malformed, an unknown tag,
an ``ERROR`` envelope whose payload is a ``RemoteFailure``) are decoded again
by the two-step codec, which raises the precise
:class:`~protocol.RemoteProtocolError` or handles them. Nothing is rebuilt
but the registered types; no pickle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Final, Union

import msgspec

from ._envelope import MessageKind
from ._errors import FrameTooLarge, TruncatedFrame
from ._framing import FRAME_HEADER_SIZE, _unpack_from
from ._message import registry

if TYPE_CHECKING:
    from ._framing import FrameReader

__all__ = ["FrameSplitter", "IncomingDecoder", "is_run_frame", "lone_frame"]

_RUN_PREFIX: Final = bytes((0x93, MessageKind.TELLS))
"""How a ``TELLS`` envelope written by :class:`BatchWriter` starts: a 3-element array, kind 5."""


def is_run_frame(frame: bytes) -> bool:
    """Whether ``frame`` (a payload) starts as a ``TELLS`` envelope this code writes:
    worth trying :attr:`IncomingDecoder.decode_run` first."""
    return frame.startswith(_RUN_PREFIX)


def lone_frame(chunk: bytes, max_frame_size: int) -> memoryview | None:
    """The payload of ``chunk`` if it is exactly one whole frame within the limit,
    else ``None``: the lone-frame fast path (a request or an answer that arrives
    alone skips the splitter)."""
    size = len(chunk) - FRAME_HEADER_SIZE
    if size < 0 or _unpack_from(chunk)[0] != size or size > max_frame_size:
        return None
    return memoryview(chunk)[FRAME_HEADER_SIZE:]


_NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
_Seconds = Annotated[float, msgspec.Meta(ge=0.0)]


class IncomingDecoder:
    """One-pass decoder of envelopes whose payload is a registered message.

    ``decode(frame)`` returns a struct with the :class:`~protocol.Envelope`
    fields (``kind``, ``target``, ``payload`` — the decoded message —,
    ``sender``, ``correlation_id``, ``trace_id``, ``timeout``) and raises one of
    :data:`DECODE_FAILURES` for anything else. Rebuilt when message types are
    registered after it was built (:meth:`refresh`).
    """

    __slots__ = ("_version", "decode", "decode_run")

    def __init__(self) -> None:
        self._version = -1
        # Any: decodes into a struct type built at runtime over the registered types.
        self.decode: Any = None
        self.decode_run: Any = None
        """Decodes a ``TELLS`` frame: ``kind``, ``target``, ``payload`` (its messages)."""
        self.refresh()

    def refresh(self) -> None:
        """Rebuild if message types were registered since the last build (cheap check)."""
        if self._version == registry.version:
            return
        types = registry.types()
        if not types:
            self.decode = self.decode_run = _refuse
            self._version = registry.version
            return
        payload: Any = Union[types]  # noqa: UP007 - a runtime union over a tuple of types
        incoming = msgspec.defstruct(
            "Incoming",
            [
                ("kind", MessageKind),
                ("target", str),
                ("payload", payload),
                ("sender", str | None, None),
                ("correlation_id", _NonNegativeInt, 0),
                ("trace_id", str | None, None),
                ("timeout", _Seconds | None, None),
            ],
            array_like=True,
            frozen=True,
            gc=False,  # short-lived, never in a cycle: not worth tracking
        )
        run = msgspec.defstruct(
            "IncomingRun",
            [("kind", MessageKind), ("target", str), ("payload", list[payload])],
            array_like=True,
            frozen=True,
            gc=False,
        )
        self.decode = msgspec.msgpack.Decoder(incoming).decode
        self.decode_run = msgspec.msgpack.Decoder(run).decode
        self._version = registry.version


def _refuse(data: object) -> Any:
    raise msgspec.DecodeError("no message types are registered")


class FrameSplitter:
    """Reassembles frames from a stream's chunks and hands them out in batches.

    Takes over from the handshake's :class:`~protocol.FrameReader`: the bytes
    it still holds are read through it until it is empty. Like the reader,
    a header over the limit raises :class:`~protocol.FrameTooLarge` once the
    frames before it are taken, and :meth:`eof` raises
    :class:`~protocol.TruncatedFrame` for an incomplete frame.
    """

    __slots__ = ("_buffer", "_max", "_pending", "_pending_size", "_pos", "_reader", "drained")

    def __init__(self, reader: FrameReader) -> None:
        self._reader: FrameReader | None = reader if reader.buffered else None
        self._max = reader.max_frame_size
        self._buffer = b""
        self._pos = 0
        # Chunks not joined yet: a frame arriving in many chunks is joined once.
        self._pending: list[bytes] = []
        self._pending_size = 0
        self.drained = False
        """The last :meth:`take` left no complete frame (nor error) behind: until more
        is fed, the next would hand out nothing."""

    def feed(self, chunk: bytes) -> None:
        """Add a chunk of the stream (kept, not copied, if it is ``bytes``)."""
        if type(chunk) is not bytes:
            chunk = bytes(chunk)  # the caller may reuse its buffer
        if self._reader is not None:
            self._reader.feed(chunk)
        elif self._pos >= len(self._buffer) and not self._pending:
            self._buffer = chunk  # the usual case: the last chunk ended on a frame boundary
            self._pos = 0
        elif chunk:
            self._pending.append(chunk)
            self._pending_size += len(chunk)

    @property
    def empty(self) -> bool:
        """Nothing fed is left over: the next chunk starts on a frame boundary."""
        return self._reader is None and self._pos >= len(self._buffer) and not self._pending

    def take(self, limit: int) -> list[bytes]:
        """Up to ``limit`` complete frames, in order (empty: none complete yet)."""
        frames: list[bytes] = []
        reader = self._reader
        self.drained = False
        if reader is not None:
            while len(frames) < limit:
                try:
                    frame = reader.next_frame()
                except FrameTooLarge:
                    if frames:
                        return frames  # raised again on the next call
                    raise
                if frame is None:
                    break
                frames.append(frame)
            if not reader.buffered:
                self._reader = None
            return frames
        append = frames.append
        unpack = _unpack_from
        header = FRAME_HEADER_SIZE
        buffer = self._buffer
        pos = self._pos
        end_of_buffer = len(buffer)
        limit_size = self._max
        remaining = limit
        while True:
            # Every whole frame the buffer holds: the hot loop, kept to the minimum.
            last = end_of_buffer - header
            while pos <= last and remaining:
                (size,) = unpack(buffer, pos)
                end = pos + header + size
                if end > end_of_buffer or size > limit_size:
                    break
                append(buffer[pos + header : end])
                pos = end
                remaining -= 1
            if not remaining:
                break
            # The buffer ends inside a header or a frame, or a header is over the limit.
            if end_of_buffer - pos >= header:
                (size,) = unpack(buffer, pos)
                if size > limit_size:
                    self._pos = pos
                    if frames:
                        return frames  # raised on the next call
                    raise FrameTooLarge(size, limit_size)
                missing = pos + header + size - end_of_buffer
            else:
                missing = header - (end_of_buffer - pos)
            if self._pending_size < missing:
                self.drained = True
                break
            buffer = self._join(pos)
            pos = 0
            end_of_buffer = len(buffer)
        self._pos = pos
        return frames

    def _join(self, pos: int) -> bytes:
        """Join the unparsed rest of the buffer (from ``pos``) with the pending chunks."""
        pending = self._pending
        rest = self._buffer[pos:]
        buffer = pending[0] if not rest and len(pending) == 1 else b"".join([rest, *pending])
        pending.clear()
        self._pending_size = 0
        self._buffer = buffer
        self._pos = 0
        return buffer

    def eof(self) -> None:
        """The stream ended (every complete frame taken): raise
        :class:`~protocol.TruncatedFrame` if part of a frame remains."""
        if self._reader is not None:
            self._reader.eof()
            return
        buffer = self._join(self._pos)
        if buffer:
            expected = None
            if len(buffer) >= FRAME_HEADER_SIZE:
                (expected,) = _unpack_from(buffer, 0)
            raise TruncatedFrame(len(buffer), expected)
