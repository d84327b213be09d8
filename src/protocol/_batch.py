"""The sending side's fast paths: a connection's batch of frames, and a tell framed once.

:class:`BatchWriter` is a connection's write buffer: whole frames, back to
back, sent with one write per batch. It encodes envelopes straight into the
buffer as plain msgpack arrays (the same bytes as an :class:`Envelope` whose
payload is the message's own encoding: one encoder call, no
:class:`msgspec.Raw`, no intermediate object), and packs consecutive tells to
one target into one ``TELLS`` frame. An ask or a reply that is to be written
alone (nothing waits before it) can be had as its own frame instead
(:meth:`BatchWriter.ask_frame`, :meth:`BatchWriter.reply_frame`): the same
bytes, without passing through the buffer.

:class:`TellFramer` builds the whole frame of one ``TELL`` (length prefix and
envelope), for a tell that waits in a send buffer before its batch.

Both produce exactly the bytes the reference path does
(:class:`EnvelopeCodec` then :func:`encode_frame`); a property test holds
them to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec

from ._envelope import MessageKind
from ._errors import MessageTooLarge
from ._framing import DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_SIZE, _pack_into

if TYPE_CHECKING:
    from ._envelope import RemoteFailure
    from ._message import Message

__all__ = ["BatchWriter", "TellFramer"]

_BLANK_HEADER: Final = bytes(FRAME_HEADER_SIZE)
_AT: Final = FRAME_HEADER_SIZE  # where a frame's envelope starts
_TELL, _TELLS, _ASK, _REPLY, _ERROR, _CANCEL = (
    MessageKind.TELL,
    MessageKind.TELLS,
    MessageKind.ASK,
    MessageKind.REPLY,
    MessageKind.ERROR,
    MessageKind.CANCEL,
)
_RUN_PREFIX: Final = bytes((0x93, _TELLS))
"""How a ``TELLS`` envelope this code writes starts: a 3-element array, kind 5."""
_RUN_HEAD: Final = _BLANK_HEADER + _RUN_PREFIX
_KIND_AT: Final = FRAME_HEADER_SIZE + 1
_BLANK_COUNT: Final = bytes((0xDD, 0, 0, 0, 0))
"""An array32 header: the run's message count is filled in when it closes."""


class BatchWriter:
    """A connection's write buffer: whole frames, sent with one write per batch.

    ``data`` is public so that a writer can append frames that are already
    framed (tells from a send buffer, see :class:`TellFramer`) without a call
    per message, and read its size; :meth:`take` hands it over.

    **Runs.** Consecutive tells to one target go into one ``TELLS`` frame
    (:meth:`tell`): its head, ``[5, target, <array32 of messages>]``, is
    written once and each message is encoded after the last, so a tell costs
    one encoding and the receiver decodes the run in one call. The open run's
    length and count are filled in when it closes: when any other frame is
    added, before :meth:`take`, or when the next message would take it past
    the frame limit. A run that holds a single message is rewritten as a
    plain ``TELL`` frame. Call :meth:`close_run` before reading ``data``.

    Every method appends nothing when it raises (:class:`MessageTooLarge` for
    a frame over the limit, or what encoding the message raises).
    """

    __slots__ = (
        "_count",
        "_count_at",
        "_encode_into",
        "_max",
        "_run_end",
        "_run_start",
        "_run_target",
        "_scratch",
        "data",
    )

    def __init__(self, *, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self.data = bytearray()
        self._encode_into = msgspec.msgpack.Encoder().encode_into
        self._max = max_frame_size
        self._run_target: str | None = None  # the open run's target, if one is open
        self._run_start = 0  # offset of the open run's frame header
        self._run_end = 0  # offset the open run must not extend past
        self._count_at = 0  # offset of its message count
        self._count = 0
        self._scratch = bytearray(FRAME_HEADER_SIZE)  # ask_frame/reply_frame build here

    def __len__(self) -> int:
        """Bytes in the buffer (an open run's included)."""
        return len(self.data)

    # -- envelopes -------------------------------------------------------------

    def ask(
        self, target: str, message: Message | msgspec.Raw, cid: int, timeout: float | None
    ) -> None:
        """An ``ASK`` of ``message`` (or its encoding) to ``target``; its sender stays nil
        (the answer is matched by ``cid``)."""
        self._add((_ASK, target, message, None, cid, None, timeout))

    def reply(
        self, reply_to: str, message: Message, target: str, cid: int, trace_id: str | None
    ) -> None:
        """The ``REPLY`` to the ask ``cid`` that ``reply_to`` sent to ``target``."""
        self._add((_REPLY, reply_to, message, target, cid, trace_id))

    def error(
        self,
        reply_to: str,
        failure: RemoteFailure,
        target: str,
        cid: int,
        trace_id: str | None,
    ) -> None:
        """The ``ERROR`` answering the ask ``cid`` that ``reply_to`` sent to ``target``."""
        self._add((_ERROR, reply_to, failure, target, cid, trace_id, None))

    def cancel(self, target: str, cid: int) -> None:
        """The ``CANCEL`` withdrawing the ask ``cid`` this side sent to ``target``."""
        self._add((_CANCEL, target, None, None, cid, None, None))

    # -- one frame, for a write of its own ---------------------------------------

    def ask_frame(self, target: str, message: Message, cid: int, timeout: float | None) -> bytes:
        """The whole frame :meth:`ask` would add, returned instead of added: for a
        writer that sends it alone, with nothing before it in the buffer."""
        # A scratch buffer with room for the header: one encoder call, one copy out (a
        # transport may keep what it is given, so the scratch is never handed over).
        scratch = self._scratch
        self._encode_into((_ASK, target, message, None, cid, None, timeout), scratch, _AT)
        return self._framed(scratch)

    def reply_frame(
        self, reply_to: str, message: Message, target: str, cid: int, trace_id: str | None
    ) -> bytes:
        """The whole frame :meth:`reply` would add, returned instead of added."""
        scratch = self._scratch
        self._encode_into((_REPLY, reply_to, message, target, cid, trace_id), scratch, _AT)
        return self._framed(scratch)

    def _framed(self, scratch: bytearray) -> bytes:
        """The scratch buffer's envelope as a frame of its own (header filled in)."""
        size = len(scratch) - FRAME_HEADER_SIZE
        if size > self._max:
            del scratch[FRAME_HEADER_SIZE:]
            raise MessageTooLarge(size, self._max)
        _pack_into(scratch, 0, size)
        return bytes(scratch)

    def _add(self, envelope: tuple[object, ...]) -> None:
        if self._run_target is not None:
            self.close_run()
        data = self.data
        start = len(data)
        data += _BLANK_HEADER
        try:
            self._encode_into(envelope, data, -1)
        except BaseException:
            del data[start:]
            raise
        size = len(data) - start - FRAME_HEADER_SIZE
        if size > self._max:
            del data[start:]
            raise MessageTooLarge(size, self._max)
        _pack_into(data, start, size)

    # -- runs of tells ---------------------------------------------------------

    def tell(self, target: str, message: object) -> None:
        """A tell of ``message`` to ``target``, into the open run if it is ``target``'s."""
        data = self.data
        if target != self._run_target:
            self._open_run(target)
        mark = len(data)
        try:
            self._encode_into(message, data, -1)
        except BaseException:
            del data[mark:]
            self._drop_if_empty()
            raise
        if len(data) > self._run_end:
            # Its TELL frame alone: the run's head without the count, and the message.
            alone = self._count_at - 1 - self._run_start - FRAME_HEADER_SIZE + len(data) - mark
            if alone > self._max:
                del data[mark:]
                self._drop_if_empty()
                raise MessageTooLarge(alone, self._max)
            if self._count:  # the run is full: this message opens the next one
                del data[mark:]
                self.close_run()
                self.tell(target, message)
                return
        self._count += 1

    def _open_run(self, target: str) -> None:
        if self._run_target is not None:
            self.close_run()
        data = self.data
        self._run_start = start = len(data)
        self._run_end = start + FRAME_HEADER_SIZE + self._max  # where the frame limit is
        data += _RUN_HEAD
        self._encode_into(target, data, -1)
        self._count_at = len(data) + 1
        data += _BLANK_COUNT
        self._run_target = target
        self._count = 0

    def _drop_if_empty(self) -> None:
        if self._run_target is not None and not self._count:
            del self.data[self._run_start :]
            self._run_target = None

    def close_run(self) -> None:
        """Fill in the open run's length and count (or make a lone tell a ``TELL``)."""
        if self._run_target is None:
            return
        self._run_target = None
        data = self.data
        start = self._run_start
        if self._count == 1:
            # [5, target, [m]] -> [0, target, m]: the frame a single tell always had.
            data[start + _KIND_AT] = _TELL
            del data[self._count_at - 1 : self._count_at + 4]
        else:
            _pack_into(data, self._count_at, self._count)
        _pack_into(data, start, len(data) - start - FRAME_HEADER_SIZE)

    # -- the buffer ------------------------------------------------------------

    def take(self) -> bytearray:
        """Every frame in the buffer (the open run closed), as one buffer; a new
        buffer takes its place (a transport may keep the one handed over)."""
        self.close_run()
        data = self.data
        self.data = bytearray()
        return data

    def clear(self) -> None:
        """Forget every frame (never to be sent)."""
        self.data = bytearray()
        self._run_target = None


class TellFramer:
    """Builds the whole frame of a ``TELL`` (length prefix and envelope), encoded once.

    The envelope's ``sender`` is nil: a receiving runtime never uses it.
    Reuses one scratch buffer; not for concurrent use from several threads.
    """

    __slots__ = ("_encode_into", "_max", "_scratch")

    def __init__(self, *, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self._encode_into = msgspec.msgpack.Encoder().encode_into
        self._max = max_frame_size
        self._scratch = bytearray(FRAME_HEADER_SIZE)

    def frame(self, target: str, message: object) -> bytes:
        """The frame of a tell of ``message`` to ``target``.

        Raises :class:`MessageTooLarge` over the frame limit, or what encoding
        ``message`` raises.
        """
        scratch = self._scratch
        self._encode_into((_TELL, target, message), scratch, FRAME_HEADER_SIZE)
        size = len(scratch) - FRAME_HEADER_SIZE
        if size > self._max:
            raise MessageTooLarge(size, self._max)
        _pack_into(scratch, 0, size)
        return bytes(scratch)
