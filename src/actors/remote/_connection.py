"""One established connection to a peer node: frames in, frames out.

**Reading.** Frames are decoded (envelope and message in one pass, see
``_incoming.py``; a ``TELLS`` frame, a run of tells to one target, in one
call) and delivered straight into the target's mailbox with
``Mailbox.offer``/``offer_many``: no task, no ``await`` per message. A chunk
that is exactly one ask or answer, with nothing before it waiting, skips the
batch machinery (:meth:`Connection._alone`). An incoming ask becomes a
:class:`~actors._ref.PendingAsk` whose future is an :class:`_Answer`:
resolving it (the actor loop does, as for a local ask) writes the reply
frame, so no task waits per ask either. Only when a mailbox is full (or too
many asks are being answered) does the connection stop reading and wait, in
its own task, for room: a slow mailbox fills the socket and then the sender's
transport and send buffer (backpressure end to end), and frames keep their
order.

On a :class:`~actors.remote._tcp.TcpStream` the event loop pushes each chunk
to the connection (no reader task); on any other anyio byte stream (TLS, the
in-memory transport) a reader task pulls chunks and runs the same code.

**Writing.** Answers and the peer's messages go into one write buffer
(:class:`_Frames`). A message sent while nothing waits in the peer's send
buffer is encoded straight into it (:meth:`Connection.tell_now`,
:meth:`~Connection.ask`), consecutive tells to one target into one ``TELLS``
frame; a full batch is written at once, in the middle of a turn, if the
transport takes it. The send buffer holds the rest,
in order: tells there are already framed (length prefix in place, see
``RemoteNode._frame_tell``) and are appended as they are, asks are encoded
with the time they have left. On a push stream, the first message of a loop
turn is written at once when nothing else is pending (an ask's latency is one
write), and whatever else arrives in that turn goes out in one write at the
turn's end; a full transport buffer stops draining the send buffer until it
empties, and ``send`` waits for it (:meth:`Connection.drained`). Other
streams have a writer task that sends each batch.

Any :class:`~protocol.RemoteProtocolError` from the peer's bytes closes this
connection with the error's class name as the reason; nothing else is affected.
Except a message in a well-formed envelope that does not decode (an unknown tag,
fields that do not validate): that message alone is refused
(:meth:`Connection._refuse_message`) and the connection stays. Anything else
raised while handling the peer's input closes the connection as
``internal_error``: no peer's bytes end the node.
"""

from __future__ import annotations

import asyncio
import operator
import ssl
import struct
from collections import deque
from typing import TYPE_CHECKING, Any, Final

import anyio
import structlog

from protocol import (
    FRAME_HEADER_SIZE,
    Message,
    MessageKind,
    MessageTooLarge,
    RemoteFailure,
    RemoteProtocolError,
)

from .. import ActorNotFound, ActorStopped, AskTimeout, RemoteActorError
from ..lowlevel import PendingAsk, cell_at, next_correlation_id
from ._errors import ConnectionLost
from ._incoming import DECODE_FAILURES, FrameSplitter, IncomingDecoder
from ._tcp import TcpStream

if TYPE_CHECKING:
    from collections.abc import Coroutine

    import msgspec
    from anyio.abc import ByteStream, TaskGroup

    from protocol import Envelope, FrameReader

    from .. import Cancellable
    from ..lowlevel import ActorCell
    from ._node import RemoteNode, _Out, _Peer

__all__ = ["Connection", "NoReply"]

logger = structlog.get_logger(__name__)

_READ_SIZE: Final = 256 * 1024
_BATCH: Final = 1024
"""Frames taken from the stream and decoded at once (bounds what is decoded ahead)."""
_RUN_MIN: Final = 16
"""Batches from this size on are checked for being tells to one target."""
_TARGET_OF: Final = operator.attrgetter("target")
_KIND_OF: Final = operator.attrgetter("kind")
_PAYLOAD_OF: Final = operator.attrgetter("payload")
_CACHE_LIMIT: Final = 4096  # paths whose cells a connection remembers
_TELL, _ASK, _REPLY, _ERROR, _CANCEL, _TELLS = (
    MessageKind.TELL,
    MessageKind.ASK,
    MessageKind.REPLY,
    MessageKind.ERROR,
    MessageKind.CANCEL,
    MessageKind.TELLS,
)
_STREAM_GONE = (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError, ssl.SSLError)

_HEADER: Final = struct.Struct(">I")
_BLANK_HEADER: Final = bytes(FRAME_HEADER_SIZE)
_RUN_PREFIX: Final = b"\x93\x05"
"""How a ``TELLS`` envelope of this node's starts: a 3-element array, kind 5."""
_RUN_HEAD: Final = _BLANK_HEADER + _RUN_PREFIX
_KIND_AT: Final = FRAME_HEADER_SIZE + 1
_BLANK_COUNT: Final = b"\xdd" + bytes(4)
"""An array32 header: the run's message count is filled in when it closes."""

STOPPED_TYPE: Final = "tadpole.ActorStopped"
"""``RemoteFailure.type_name`` for "the target is gone": the asker raises ActorStopped."""


class NoReply(Message, tag="tadpole.none"):
    """Stands for ``None`` as the answer to a remote ask."""


_NO_REPLY: Final = NoReply()


class _Frames:
    """The connection's write buffer: whole frames, sent with one write per batch.

    ``data`` is public so the writer can append frames that are already framed
    (tells from the send buffer) without a call per message, and take it whole
    to write it; :meth:`add` encodes an envelope tuple straight into it, as
    :meth:`protocol.FrameWriter.add_encoded` does.

    **Runs.** Consecutive tells to one target go into one ``TELLS`` frame
    (:meth:`tell`): its header, ``[5, target, <array32 of messages>]``, is
    written once and each message is encoded after the last, so a tell costs
    one encoding and the receiver decodes the run in one call. The open run's
    length and count are filled in when it closes: when any other frame is
    added, before the buffer is taken, or when the next message would take it
    past the frame limit. A run that holds a single message is rewritten as a
    plain ``TELL`` frame. Call :meth:`close_run` before reading ``data``.
    """

    __slots__ = (
        "_count",
        "_count_at",
        "_encode_into",
        "_max",
        "_run_end",
        "_run_start",
        "_run_target",
        "data",
    )

    def __init__(self, encode_into: Any, max_frame_size: int) -> None:
        self.data = bytearray()
        self._encode_into = encode_into
        self._max = max_frame_size
        self._run_target: str | None = None  # the open run's target, if one is open
        self._run_start = 0  # offset of the open run's frame header
        self._run_end = 0  # offset the open run must not extend past
        self._count_at = 0  # offset of its message count
        self._count = 0

    def add(self, envelope: object) -> None:
        """Append one frame holding ``envelope``; on any error, append nothing
        (:class:`~protocol.MessageTooLarge` if over the frame limit)."""
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
        _HEADER.pack_into(data, start, size)

    def tell(self, target: str, message: object) -> None:
        """Append a tell of ``message`` to ``target``, to the open run if it is
        ``target``'s; on any error, append nothing (as :meth:`add`)."""
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

    def clear(self) -> None:
        """Forget every frame (never to be sent)."""
        self.data = bytearray()
        self._run_target = None

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
            _HEADER.pack_into(data, self._count_at, self._count)
        _HEADER.pack_into(data, start, len(data) - start - FRAME_HEADER_SIZE)


class _Answer(asyncio.Future[Any]):
    """The future of an ask that arrived from a peer and waits in a local mailbox.

    The actor loop (or the mailbox closing) resolves it as it would a local
    asker's future; resolving it encodes the answer frame on the connection the
    ask came in on. Nothing awaits it.

    **Withdrawing** it (``cancel()``: the asker sent ``CANCEL``, the connection
    ended, or its deadline passed while the connection could not read) marks
    it done without an answer: the actor loop skips a done ask that is still
    queued, and drops the result of one already running.
    """

    __slots__ = ("cid", "conn", "deadline", "reply_to", "target", "timer", "trace_id")

    # Set by Connection._ask right after construction (no __init__ of its own: one
    # is built per incoming ask, and Future's own, in C, is all it needs).
    conn: Connection
    cid: int
    reply_to: str
    target: str
    trace_id: str | None
    deadline: float | None
    timer: Cancellable | None

    def set_result(self, result: Any) -> None:
        super().set_result(result)
        self.conn._answered(self, result, None)

    def set_exception(self, exception: type | BaseException) -> None:
        super().set_exception(exception)
        self.exception()  # retrieved: it is reported to the peer, not logged here
        error = exception if isinstance(exception, BaseException) else exception()
        self.conn._answered(self, None, error)

    def cancel(self, msg: Any | None = None) -> bool:
        if not super().cancel(msg):
            return False
        self.conn._release(self)
        self.conn.node._counters.asks_cancelled += 1
        return True

    def expire(self) -> None:
        """Timer callback: the deadline passed on this node; the asker times out on its own."""
        if not self.done():
            super().cancel()
            self.conn._release(self)
            self.conn.node._counters.asks_expired += 1


class Connection:
    """An established, authenticated connection to ``peer``."""

    def __init__(
        self,
        node: RemoteNode,
        peer: _Peer,
        stream: ByteStream,
        reader: FrameReader,
        *,
        initiator: bool,
    ) -> None:
        self.node = node
        self.peer = peer
        self.stream = stream
        self.initiator = initiator
        self.sent: dict[int, _Out] = {}
        self.answering: dict[int, _Answer] = {}
        """Asks from the peer not yet answered, by correlation id (for ``CANCEL``)."""
        self.reason: str | None = None
        self.closed = False
        self.inflight = 0
        self.loop = asyncio.get_running_loop()
        self._splitter = FrameSplitter(reader)
        # Reading: the decoded batch being delivered, from index ``_at`` on (see _load).
        self._batch: list[Any] = []
        self._frames: list[bytes] = []
        self._at = 0
        self._run: str | None = None
        # Reading: the batch (with its position and frames) to go back to after the
        # run of tells it held, being delivered now (see _enter_run).
        self._after: tuple[list[Any], int, list[bytes]] | None = None
        self._out = _Frames(node._wire.encode_into, node.config.max_frame_size)
        self._batch_bytes = node.config.batch_bytes
        self._max_frame = node.config.max_frame_size
        self._cells: dict[str, ActorCell] = {}
        self._tg: TaskGroup | None = None
        # Reading: a coroutine that waits for room for the frame being delivered.
        self._blocked: Coroutine[Any, Any, None] | None = None
        self._eof_pending = False
        self._room: asyncio.Future[None] | None = None
        # Writing: the writer task's (or the push loop's) wake-up.
        self._waiter: asyncio.Future[None] | None = None
        self._push: TcpStream | None = None
        self._turn_pending = False
        self._busy = False
        # Writing (push streams): a message was written at once since the last turn
        # boundary seen (data read, or _turn_end ran); the next one waits for _turn_end.
        self._direct = False
        # Writing (push streams): this turn has had more than one message.
        self._burst = False
        # Writing (push streams): senders waiting for a full transport to drain.
        self._drain_waiters: list[asyncio.Future[None]] = []
        # Writing (writer task): the batch being handed to the stream, until it took it.
        self._writing: bytearray | None = None
        # Writing (push streams): the last writes, while the transport has not handed
        # them all to the kernel (see _wrote), and their size in bytes.
        self._written: deque[bytearray] = deque()
        self._written_size = 0

    def __repr__(self) -> str:
        return f"<Connection to {self.peer.name} {'out' if self.initiator else 'in'}>"

    # -- lifetime --------------------------------------------------------------

    async def run(self) -> None:
        """Read and write until the connection ends; then fail the asks it carried."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                if isinstance(self.stream, TcpStream):
                    await self._run_push(self.stream)
                else:
                    tg.start_soon(self._write_loop)
                    await self._read_loop()
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._finish()

    def close(self, reason: str) -> None:
        """Close from this side (replaced, node stopping)."""
        if self.reason is None:
            self.reason = reason
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    def _end(self, reason: str, error: str | None = None, *, bad_input: bool = False) -> None:
        if self.reason is None:
            self.reason = reason
            if bad_input:
                self.node._count_close(reason)
                logger.warning("connection_closed", peer=self.peer.name, reason=reason, error=error)
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    async def _finish(self) -> None:
        self.closed = True
        reason = self.reason or "closed"
        self.reason = reason
        sent, self.sent = self.sent, {}
        for item in sent.values():
            future = item.future
            if future is not None and not future.done():
                future.set_exception(ConnectionLost(item.label, reason))
        # The peer's asks can no longer be answered and their askers have failed
        # with ConnectionLost: withdraw the ones not delivered yet.
        for answer in list(self.answering.values()):
            answer.cancel()
        # Tells written and still in the transport's buffer (push streams), taken for
        # a write that never completed (writer task), then those still in the write
        # buffer: never handed to the kernel, so never delivered; dead-lettered.
        try:
            self._dead_letter_unsent(reason)
        except Exception as exc:  # a dead-letter subscriber's error must not stop the close
            logger.error("dead_letters_failed", peer=self.peer.name, error=repr(exc))
        self._out.clear()
        self._wake_drain_waiters()  # they queue in the send buffer instead
        self._batch = self._frames = []  # received, never delivered
        self._after = None
        blocked, self._blocked = self._blocked, None
        if blocked is not None:
            blocked.close()
        await anyio.aclose_forcefully(self.stream)
        self.node._detach(self)

    def _dead_letter_unsent(self, reason: str) -> None:
        self._dead_letter_buffered(reason)
        writing, self._writing = self._writing, None
        if writing:
            self.node._dead_letter_unsent(self.peer, writing, reason)
        out = self._out
        out.close_run()
        if out.data:
            self.node._dead_letter_unsent(self.peer, out.data, reason)

    def notify(self) -> None:
        """Something is waiting to be sent: write it now or at the end of this turn.

        Idle (nothing written since the last turn boundary seen), the message goes
        out at once and no end-of-turn callback is scheduled: a request and its
        answer cost no extra loop iteration. A second message before a boundary
        (new bytes read, or an end-of-turn callback) waits for the turn's end, so
        that many messages in one turn still go out in one write. The direct
        write flushes everything pending, in order: it never overtakes a frame.
        A turn with several messages makes the next turn's wait for its end too
        (busy); a turn with one ends that.
        """
        push = self._push
        if push is None:
            self._wake()
        elif self._turn_pending:
            self._burst = True  # another message this turn
        elif not self._busy and not self._direct:
            self._direct = True
            self._flush(push)  # idle: this message goes out at once
        else:
            self._burst = self._direct  # a second message after a direct write
            self._turn_pending = True
            self.loop.call_soon(self._turn_end)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- writing ---------------------------------------------------------------

    def _fill(self) -> int:
        """Encode waiting messages into the write buffer, up to a batch; how many."""
        peer = self.peer
        outbox = peer.outbox
        if not outbox or peer.conn is not self:
            return 0
        node = self.node
        out = self._out
        out.close_run()  # tells from the send buffer go after it
        data = out.data
        batch_bytes = node.config.batch_bytes
        sent = self.sent
        t = None
        count = 0
        popleft = outbox.popleft
        while outbox and len(data) < batch_bytes:
            item = popleft()
            if isinstance(item, tuple):
                data += item[0]  # a tell, framed when it was sent
                count += 1
                continue
            if item.future.done():
                continue
            timeout = None
            if item.deadline is not None:
                if t is None:
                    t = node._now()
                timeout = item.deadline - t
                if timeout <= 0.0:
                    continue  # expired: never sent; the asker's timer fires
            envelope = (_ASK, item.target, item.payload, None, item.cid, None, timeout)
            try:
                out.add(envelope)
            except MessageTooLarge as exc:
                node._reject_item(item, exc)
                continue
            sent[item.cid] = item
            item.conn = self
            count += 1
        peer.room_freed()
        return count

    def _take(self, count: int) -> bytearray:
        """The write buffer's frames, to be written (a new buffer takes their place:
        the transport may keep the old one), and ``count`` messages among them."""
        out = self._out
        out.close_run()
        data = out.data
        out.data = bytearray()
        stats = self.node._counters
        stats.messages_sent += count
        stats.bytes_sent += len(data)
        stats.writes += 1
        return data

    def _flush(self, push: TcpStream) -> bool:
        """Write everything that can go now (push streams); whether anything went."""
        wrote = False
        outbox = self.peer.outbox
        while push.writable:
            count = self._fill() if outbox else 0
            if not self._out.data:
                break
            data = self._take(count)
            push.write(data)
            self._wrote(push, data)
            wrote = True
            if not outbox:
                break
        return wrote

    def _wrote(self, push: TcpStream, data: bytearray) -> None:
        """``data`` was written: keep the writes the kernel has not taken all of yet,
        so that a cut can dead-letter their tells (one buffer-size read per write)."""
        left = push.buffered()
        written = self._written
        if not left:  # the kernel took everything written so far
            if written:
                written.clear()
                self._written_size = 0
            return
        written.append(data)
        self._written_size += len(data)
        while self._written_size - len(written[0]) >= left:
            self._written_size -= len(written.popleft())

    def _dead_letter_buffered(self, reason: str) -> None:
        """Dead-letter the tells of every frame the transport still holds, whole or
        in part: the rest of such a frame never leaves, so it is never delivered."""
        written = self._written
        push = self._push
        if not written or push is None:
            return
        left = push.buffered()
        data = b"".join(written)
        written.clear()
        self._written_size = 0
        if not left:
            return
        sent = len(data) - left  # every byte before this reached the kernel
        at = 0
        while at < sent:
            end = at + FRAME_HEADER_SIZE + _HEADER.unpack_from(data, at)[0]
            if end > sent:
                break
            at = end
        self.node._dead_letter_unsent(self.peer, data[at:], reason)

    def _turn_end(self) -> None:
        self._turn_pending = False
        self._direct = False
        burst, self._burst = self._burst, False
        push = self._push
        if push is not None and not self.closed:
            # Busy while this turn had several messages and there was more to write
            # at its end: the next message then waits for the turn's end too, batched
            # with the others. Without the burst condition, a single message per
            # turn (asks in sequence) would stay busy, each one a loop turn late.
            self._busy = self._flush(push) and burst

    async def _write_loop(self) -> None:
        send = self.stream.send
        out = self._out
        try:
            while True:
                count = self._fill()
                if not out.data:
                    self._waiter = self.loop.create_future()
                    await self._waiter
                    continue
                # anyio streams accept any bytes-like object; no copy of the batch.
                # Kept until the stream took it: if the send fails or the connection
                # ends meanwhile, _finish dead-letters its tells.
                data = self._writing = self._take(count)
                await send(data)  # type: ignore[arg-type]
                self._writing = None
        except _STREAM_GONE as exc:
            self._end("connection_lost", repr(exc))

    async def drained(self) -> bool:
        """Wait until the transport takes writes again (push streams); whether this
        connection is still up then. ``False`` at once on other streams, whose
        writer task drains the send buffer, and when this connection ends."""
        push = self._push
        if push is None or self.reason is not None or self.closed:
            return False
        if push.writable:
            return True
        waiter = self.loop.create_future()
        self._drain_waiters.append(waiter)
        await waiter
        return self.reason is None

    def _on_writable(self) -> None:
        """The transport's buffer drained: write what waits, then let the senders in."""
        self.notify()
        self._wake_drain_waiters()

    def _wake_drain_waiters(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def tell_now(self, target: str, message: object) -> bool:
        """Encode a tell straight into the write buffer (into the open run of tells
        to ``target``, if there is one), skipping the send buffer, if it can go
        now (see :meth:`_admit`). Whether it went; raises what encoding raises."""
        # _admit, inlined: the hot path of every remote tell.
        if self.reason is not None or self.peer.outbox:
            return False
        out = self._out
        if len(out.data) >= self._batch_bytes and not self._write_batch():
            return False
        out.tell(target, message)
        self.node._counters.messages_sent += 1
        if self._turn_pending:
            self._burst = True  # as notify() would: another message this turn
        else:
            self.notify()
        return True

    def _admit(self) -> bool:
        """Whether a message can skip the send buffer: this connection is not
        ending, nothing waits in the send buffer (it would be overtaken) and the
        write buffer holds less than a batch, or a full batch could be written
        at once to make room. Otherwise messages wait in the bounded send
        buffer: backpressure."""
        if self.reason is not None or self.peer.outbox:
            return False
        return len(self._out.data) < self._batch_bytes or self._write_batch()

    def _write_batch(self) -> bool:
        """Write the full write buffer now, in the middle of the turn, if the
        transport takes writes (a push stream below its high-water mark)."""
        push = self._push
        if push is None or not push.writable:
            return False
        data = self._take(0)
        push.write(data)
        self._wrote(push, data)
        return True

    def ask(self, item: _Out) -> bool:
        """Encode an ask straight into the write buffer, skipping the send buffer,
        if it can go now (see :meth:`_admit`); whether it went (``sent`` then
        holds it). Raises what encoding raises. Its sender stays nil: the answer
        is matched by correlation id."""
        timeout = item.timeout  # none of it has passed yet
        if timeout is not None and timeout <= 0.0:
            return False  # expired already: the send buffer drops it unsent
        if not self._admit():
            return False
        self._out.add((_ASK, item.target, item.message, None, item.cid, None, timeout))
        self.node._counters.messages_sent += 1
        self.sent[item.cid] = item
        item.conn = self
        self.notify()
        return True

    def cancel_ask(self, item: _Out) -> None:
        """The asker gave up on ``item``, sent on this connection and not answered:
        tell the peer (after the ask, as frames keep their order)."""
        if self.closed:
            return
        envelope = (_CANCEL, item.target, None, None, item.cid, None, None)
        self._out.add(envelope)
        self.notify()

    # -- answering asks that came in -------------------------------------------

    def _release(self, answer: _Answer) -> None:
        """``answer`` is done (answered or withdrawn): forget it, free its slot."""
        timer = answer.timer
        if timer is not None:
            timer.cancel()
        answering = self.answering
        if answering.get(answer.cid) is answer:
            del answering[answer.cid]
        self.inflight -= 1
        self.node._inflight_finished()
        room = self._room
        if room is not None:
            self._room = None
            if not room.done():
                room.set_result(None)

    def _withdraw(self, cid: int) -> None:
        """The peer sent ``CANCEL`` for ``cid``: do not deliver it, send no answer."""
        answer = self.answering.get(cid)
        if answer is not None:
            answer.cancel()

    def _arm_deadlines(self) -> None:
        """Reading stops, so no ``CANCEL`` can arrive: let each waiting ask's own
        deadline withdraw it instead."""
        clock = self.node.system.clock
        now = clock.now()
        expired = []
        for answer in self.answering.values():
            deadline = answer.deadline
            if deadline is None or answer.timer is not None:
                continue
            if deadline <= now:
                expired.append(answer)
            else:
                answer.timer = clock.call_later(deadline - now, answer.expire)
        for answer in expired:
            answer.expire()

    def _answered(self, answer: _Answer, result: object, error: BaseException | None) -> None:
        """An :class:`_Answer` was resolved: send the answer, then forget the ask (the
        asker waits for the former, not the latter)."""
        try:
            if self.closed:
                return
            try:
                if error is not None:
                    self._fail(answer, error)
                    return
                if result is None:
                    result = _NO_REPLY
                if not isinstance(result, Message):
                    self._write_answer(_ERROR, answer, _unencodable(result))
                    return
                target, cid, trace_id = answer.target, answer.cid, answer.trace_id
                self._out.add((_REPLY, answer.reply_to, result, target, cid, trace_id))
                self.notify()
            except MessageTooLarge as exc:
                failure = RemoteFailure.from_exception(exc, include_traceback=False)
                self._write_answer(_ERROR, answer, failure)
            except Exception as exc:  # an answer that cannot be encoded must not hurt the actor
                self._fail(answer, exc)
        finally:
            self._release(answer)

    def _fail(self, answer: _Answer, error: BaseException) -> None:
        node = self.node
        if isinstance(error, AskTimeout):
            deadline = answer.deadline
            if deadline is not None and node.system.clock.now() >= deadline:
                node._counters.asks_expired += 1
                return  # the asker times out on its own clock
            failure = node._describe(error)
        elif isinstance(error, ActorStopped):
            failure = RemoteFailure(STOPPED_TYPE, str(error))
        else:
            failure = node._describe(error)
        self._write_answer(_ERROR, answer, failure)

    def _write_answer(self, kind: MessageKind, answer: _Answer, payload: object) -> None:
        reply_to, target, trace_id = answer.reply_to, answer.target, answer.trace_id
        envelope = (kind, reply_to, payload, target, answer.cid, trace_id, None)
        self._out.add(envelope)
        self.notify()

    def _refuse(
        self, reply_to: str, target: str, cid: int, trace_id: str | None, detail: str
    ) -> None:
        """Answer an ask that cannot be delivered: the asker raises ActorStopped."""
        failure = RemoteFailure(STOPPED_TYPE, detail)
        envelope = (_ERROR, reply_to, failure, target, cid, trace_id, None)
        self._out.add(envelope)
        self.notify()

    # -- reading ---------------------------------------------------------------

    async def _run_push(self, stream: TcpStream) -> None:
        """Reading happens in the loop's callbacks; this task only waits for room."""
        self._push = stream
        self._pump()  # frames that came with the end of the handshake
        stream.start_push(self._on_data, self._on_end, self._on_writable)
        if self._blocked is None:
            stream.resume_reading()
        if self.peer.outbox or self._out.data:
            self.notify()
        while True:
            blocked = self._blocked
            if blocked is None:
                self._waiter = self.loop.create_future()
                await self._waiter
                continue
            await blocked
            self._blocked = None
            self._pump()
            if self._blocked is None:
                if self._eof_pending:
                    self._on_end(None)
                else:
                    stream.resume_reading()

    def _on_data(self, chunk: bytes) -> None:
        if self.reason is not None:
            return
        self._direct = False  # a read callback: a new loop turn since the last direct write
        self.node._counters.bytes_received += len(chunk)
        if self._blocked is None:
            alone = self._alone(chunk)
            if alone is not None:
                self._pump(alone)
                return
        self._splitter.feed(chunk)
        if self._blocked is None:
            self._pump()

    def _alone(self, chunk: bytes) -> Any:
        """The decoded envelope if ``chunk`` is exactly one ``ASK`` or ``REPLY`` frame
        and nothing received before it waits: the request and answer of a round
        trip, handled without the batch machinery. Else ``None`` (the chunk takes
        the usual way, which also gives any bad bytes their precise error)."""
        if self._at < len(self._batch) or not self._splitter.empty:
            return None
        size = len(chunk) - FRAME_HEADER_SIZE
        if size < 0 or _HEADER.unpack_from(chunk)[0] != size or size > self._max_frame:
            return None
        try:
            envelope = self.node._incoming.decode(memoryview(chunk)[FRAME_HEADER_SIZE:])
        except DECODE_FAILURES:
            return None
        kind = envelope.kind
        return envelope if kind is _REPLY or kind is _ASK else None

    def _on_end(self, error: Exception | None) -> None:
        if error is not None:
            self._end("connection_lost", repr(error))
            return
        if self._blocked is not None:
            self._eof_pending = True
            return
        try:
            self._splitter.eof()
        except RemoteProtocolError as exc:
            self._end(type(exc).__name__, str(exc), bad_input=True)
            return
        self._end("peer_closed")

    def _pump(self, alone: Any = None) -> None:
        """Deliver the frames received so far (push mode), or the envelope that came
        ``alone``; stop reading if one must wait."""
        try:
            if alone is None:
                blocked = self._process()
            elif alone.kind is _REPLY:
                self._on_reply(alone.correlation_id, alone.payload)
                return
            else:
                self.node._counters.messages_received += 1
                blocked = self._ask(
                    alone.target,
                    alone.payload,
                    alone.sender,
                    alone.correlation_id,
                    alone.trace_id,
                    alone.timeout,
                )
        except RemoteProtocolError as exc:
            self._end(type(exc).__name__, str(exc), bad_input=True)
            return
        except Exception as exc:
            self._failed(exc)
            return
        if blocked is not None:
            self._blocked = blocked
            assert self._push is not None
            self._push.pause_reading()
            self._arm_deadlines()
            self._wake()

    async def _read_loop(self) -> None:
        stats = self.node._counters
        splitter = self._splitter
        receive = self.stream.receive
        try:
            while True:
                blocked = self._process()
                while blocked is not None:
                    self._arm_deadlines()
                    await blocked
                    blocked = self._process()
                try:
                    chunk = await receive(_READ_SIZE)
                except anyio.EndOfStream:
                    splitter.eof()
                    self._end("peer_closed")
                    return
                stats.bytes_received += len(chunk)
                splitter.feed(chunk)
        except RemoteProtocolError as exc:
            self._end(type(exc).__name__, str(exc), bad_input=True)
        except _STREAM_GONE as exc:
            self._end("connection_lost", repr(exc))
        except Exception as exc:
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        """Handling the peer's input raised what it never should: a bug, not the
        peer's fault, yet one peer's input must not end the node. Close this
        connection, counted as ``internal_error``."""
        logger.error("connection_failed", peer=self.peer.name, error=repr(exc))
        self._end("internal_error", repr(exc), bad_input=True)

    def _process(self) -> Coroutine[Any, Any, None] | None:
        """Deliver every complete frame; a coroutine to await if one must wait for room.

        Frames are taken and decoded a batch at a time (see :meth:`_load`). That
        coroutine finishes delivering its message; the rest of the batch waits
        in ``_batch``, and the frames after it in the splitter, until it has.
        """
        node = self.node
        incoming = node._incoming
        incoming.refresh()
        splitter = self._splitter
        drained = False  # the splitter has no complete frame left
        cells = self._cells
        stats = node._counters
        while True:
            batch = self._batch
            at = self._at
            if at >= len(batch):
                after = self._after
                if after is not None:  # a run of tells is over: back to its batch
                    self._after = None
                    self._run = None
                    self._batch, self._at, self._frames = after
                    continue
                frames = None if drained else splitter.take(_BATCH)
                if not frames:
                    if batch:
                        self._batch = self._frames = []
                        self._at = 0
                    return None
                drained = splitter.drained
                batch = self._load(frames, incoming)
                at = 0
                if not batch:
                    continue  # a lone TELLS frame with no message in it
            target = self._run
            if target is not None:
                # Tells to one target: into its mailbox all at once, if there is room.
                cell = cells.get(target)
                if cell is not None and node.accepting:
                    count = cell.offer_many(batch, at)
                    if count:
                        stats.messages_received += count
                        at = self._at = at + count
                        if at >= len(batch):
                            continue
                stats.messages_received += 1
                self._at = at + 1
                blocked = self._tell(target, batch[at])
                if blocked is not None:
                    return blocked
                continue
            envelope = batch[at]
            self._at = at + 1
            if type(envelope) is bytes:
                blocked = self._process_slowly(envelope)
            else:
                kind = envelope.kind
                if kind is _TELL:
                    stats.messages_received += 1
                    cell = cells.get(envelope.target)
                    if cell is not None and node.accepting and cell.offer(envelope.payload):
                        continue
                    blocked = self._tell(envelope.target, envelope.payload)
                elif kind is _TELLS:
                    if type(envelope.payload) is list:  # decoded as a run
                        self._enter_run(envelope.target, envelope.payload)
                        continue
                    # One message where an array of them belongs (the one-message
                    # decoder took it): only the two-step decode can say what it is.
                    blocked = self._process_slowly(self._frames[at])
                elif kind is _ASK:
                    stats.messages_received += 1
                    blocked = self._ask(
                        envelope.target,
                        envelope.payload,
                        envelope.sender,
                        envelope.correlation_id,
                        envelope.trace_id,
                        envelope.timeout,
                    )
                elif kind is _REPLY:
                    self._on_reply(envelope.correlation_id, envelope.payload)
                    blocked = None
                else:
                    blocked = self._process_slowly(self._frames[at])
            if blocked is not None:
                return blocked

    def _load(self, frames: list[bytes], incoming: IncomingDecoder) -> list[Any]:
        """Decode ``frames`` into ``_batch``: one msgspec call per frame and no
        Python code between them. A batch of tells to one target becomes the list
        of their messages (``_run`` is the target): one ``TELLS`` frame (the
        usual batch of a busy sender), or enough ``TELL`` frames. Otherwise it
        holds each frame's decoded envelope, or the frame itself where only the
        two-step decode can tell what it is (decoding has no effect, so decoding
        ahead of delivery changes nothing)."""
        self._run = None
        batch: list[Any]
        first = frames[0]
        if len(frames) == 1 and first.startswith(_RUN_PREFIX):
            try:
                run = incoming.decode_run(first)
            except DECODE_FAILURES:
                batch = frames
            else:
                batch = run.payload
                self._run = run.target
        else:
            try:
                batch = list(map(incoming.decode, frames))
            except DECODE_FAILURES:
                batch = [_decode_or_keep(incoming, frame) for frame in frames]
            else:
                count = len(batch)
                if count >= _RUN_MIN:
                    targets = list(map(_TARGET_OF, batch))
                    first_target = targets[0]
                    if (
                        targets.count(first_target) == count
                        and list(map(_KIND_OF, batch)).count(_TELL) == count
                    ):
                        batch = list(map(_PAYLOAD_OF, batch))
                        self._run = first_target
        self._batch = batch
        self._frames = frames
        self._at = 0
        return batch

    def _enter_run(self, target: str, messages: list[Message]) -> None:
        """Deliver a ``TELLS`` frame's messages next, then the rest of this batch."""
        self._after = (self._batch, self._at, self._frames)
        self._batch = messages
        self._at = 0
        self._run = target

    def _process_slowly(self, frame: bytes) -> Coroutine[Any, Any, None] | None:
        """The two-step decode: precise errors for bad bytes, and ``ERROR`` answers."""
        envelopes = self.node._envelopes
        envelope = envelopes.decode(frame)  # not an envelope: the connection closes
        kind = envelope.kind
        if kind is _TELLS:
            self._enter_run(envelope.target, self._decode_run(envelope))
            return None
        if kind is _TELL or kind is _ASK:
            try:
                message = envelopes.decode_payload(envelope)
            except RemoteProtocolError as exc:
                self._refuse_message(envelope, exc)
                return None
            self.node._counters.messages_received += 1
            if kind is _TELL:
                return self._tell(envelope.target, message)
            return self._ask(
                envelope.target,
                message,
                envelope.sender,
                envelope.correlation_id,
                envelope.trace_id,
                envelope.timeout,
            )
        if kind is _CANCEL:
            self._withdraw(envelope.correlation_id)
            return None
        item = self.sent.pop(envelope.correlation_id, None)
        if item is None:
            self.node._counters.late_answers += 1
            return None  # the ask timed out meanwhile; its answer has nobody to go to
        future = item.future
        assert future is not None
        try:
            if kind is _REPLY:
                reply = envelopes.decode_payload(envelope)
                if not future.done():
                    future.set_result(None if type(reply) is NoReply else reply)
            elif kind is _ERROR:
                failure = envelopes.decode_failure(envelope)
                if not future.done():
                    future.set_exception(_failure_error(item.label, failure))
        except RemoteProtocolError as exc:
            # An answer that does not decode fails its ask alone.
            self.node._count_refused(exc)
            if not future.done():
                future.set_exception(exc)
        return None

    def _decode_run(self, envelope: Envelope) -> list[Message]:
        """The messages of a ``TELLS`` envelope the fast decoder refused: each one
        that decodes, in order; each one that does not is refused alone."""
        envelopes = self.node._envelopes
        try:
            elements = envelopes.split_payloads(envelope)
        except RemoteProtocolError as exc:  # the payload is not an array: one bad message
            self._refuse_message(envelope, exc)
            return []
        decode = envelopes.codec.decode
        messages: list[Message] = []
        for element in elements:
            try:
                messages.append(decode(memoryview(element)))
            except RemoteProtocolError as exc:
                self._refuse_message(envelope, exc, element)
        return messages

    def _refuse_message(
        self, envelope: Envelope, error: RemoteProtocolError, data: msgspec.Raw | None = None
    ) -> None:
        """A message in a well-formed envelope does not decode (an unknown tag,
        fields that do not validate): refuse it alone and keep the connection. An
        ask is answered with the error (naming the tag), a tell becomes a dead
        letter (its bytes) with the error as its reason; both are counted by
        error class."""
        node = self.node
        node._count_refused(error)
        logger.warning(
            "message_refused",
            peer=self.peer.name,
            actor=envelope.target,
            reason=type(error).__name__,
            error=str(error),
        )
        if envelope.kind is _ASK:
            failure = RemoteFailure.from_exception(error, include_traceback=False)
            reply_to = envelope.sender if envelope.sender is not None else ""
            answer = (
                _ERROR,
                reply_to,
                failure,
                envelope.target,
                envelope.correlation_id,
                envelope.trace_id,
                None,
            )
            self._out.add(answer)
            self.notify()
            return
        reason = f"refused from node {self.peer.name}: {error}"
        # The message as it came: its bytes (``data``: one message of a run).
        message = bytes(data if data is not None else envelope.payload)
        node.system.dead_letters.publish(envelope.target, message, reason)

    def _on_reply(self, cid: int, reply: Message) -> None:
        item = self.sent.pop(cid, None)
        if item is None:
            self.node._counters.late_answers += 1
            return  # the ask timed out meanwhile; its answer has nobody to go to
        future = item.future
        if future is not None and not future.done():
            future.set_result(None if type(reply) is NoReply else reply)

    def _target(self, target: str) -> ActorCell | None:
        cell = cell_at(self.node.system, target)
        if cell is not None:
            cells = self._cells
            if len(cells) >= _CACHE_LIMIT:
                cells.clear()
            cells[target] = cell
        return cell

    def _tell(self, target: str, message: Message) -> Coroutine[Any, Any, None] | None:
        node = self.node
        service = node._services.get(target)
        if service is not None:
            service(message, self.peer.name)
            return None
        system = node.system
        if not node.accepting:
            system.dead_letters.publish(target, message, "node is shutting down")
            return None
        cell = self._target(target)
        if cell is None:
            system.dead_letters.publish(target, message, "no actor at this path")
            return None
        if cell.offer(message):
            return None
        # Full (waits for room), stopped or refused by a delivery filter (dead letters).
        return cell.deliver_wait_quietly(message)

    def _ask(
        self,
        target: str,
        message: Message,
        sender: str | None,
        cid: int,
        trace_id: str | None,
        timeout: float | None,
    ) -> Coroutine[Any, Any, None] | None:
        node = self.node
        if timeout is not None and timeout <= 0.0:
            node._counters.asks_expired += 1
            return None  # expired in transit: not delivered; the asker's own timer answers
        reply_to = sender if sender is not None else ""
        service = node._services.get(target)
        cell = None
        if service is None:
            if not node.accepting:
                detail = f"node {node.name} is shutting down"
                self._refuse(reply_to, target, cid, trace_id, detail)
                return None
            cell = self._cells.get(target)
            if cell is None:
                cell = self._target(target)
            if cell is None:
                self._refuse(reply_to, target, cid, trace_id, str(ActorNotFound(target)))
                return None
        answer = _Answer(loop=self.loop)
        answer.conn = self
        answer.cid = cid
        answer.reply_to = reply_to
        answer.target = target
        answer.trace_id = trace_id
        answer.deadline = None if timeout is None else node._now() + timeout
        answer.timer = None
        self.inflight += 1
        node._inflight += 1  # asks being answered, node-wide (_release counts it back)
        if cell is None:
            assert service is not None
            try:
                result = service(message, self.peer.name)
            except Exception as exc:
                answer.set_exception(exc)
            else:
                answer.set_result(result)
            return None
        self.answering[cid] = answer
        if self.inflight > node.config.max_inflight_asks:
            return self._ask_when_room(cell, message, answer)
        # _deliver_ask, inlined: every incoming ask.
        pending = PendingAsk(message, answer, next_correlation_id(node.system), target, timeout)
        if cell.offer(pending):
            return None
        return self._deliver_ask_again(cell, pending)

    def _deliver_ask(
        self, cell: ActorCell, message: Message, answer: _Answer, timeout: float | None
    ) -> Coroutine[Any, Any, None] | None:
        # No timer per ask: the asker's own timer fails it and sends CANCEL, which
        # withdraws it here; while reading is paused (no CANCEL can be read) the
        # deadlines are armed instead (_arm_deadlines).
        system = self.node.system
        pending = PendingAsk(message, answer, next_correlation_id(system), cell.path, timeout)
        if cell.offer(pending):
            return None
        return self._deliver_ask_again(cell, pending)

    def _deliver_ask_again(
        self, cell: ActorCell, pending: PendingAsk
    ) -> Coroutine[Any, Any, None] | None:
        """The mailbox refused ``pending``: the actor at its path changed, or it must wait."""
        current = self._target(cell.path)
        if current is not None and current is not cell:
            # The remembered cell stopped and another actor took its path.
            cell = current
            if cell.offer(pending):
                return None
        return self._deliver_ask_waiting(cell, pending)

    async def _deliver_ask_waiting(self, cell: ActorCell, pending: PendingAsk) -> None:
        try:
            await cell.deliver_ask(pending)
        except ActorStopped as exc:
            if not pending.future.done():
                pending.future.set_exception(exc)

    async def _ask_when_room(self, cell: ActorCell, message: Message, answer: _Answer) -> None:
        """Too many asks of this connection are being answered: wait for one to finish."""
        while self.inflight > self.node.config.max_inflight_asks:
            room = self._room = self.loop.create_future()
            await room
        if answer.done():
            return  # withdrawn while waiting
        timeout = None
        if answer.deadline is not None:
            timeout = answer.deadline - self.node.system.clock.now()
            if timeout <= 0.0:
                answer.set_exception(AskTimeout(cell.path, type(message).__qualname__, 0.0))
                return
        blocked = self._deliver_ask(cell, message, answer, timeout)
        if blocked is not None:
            await blocked


def _decode_or_keep(incoming: IncomingDecoder, frame: bytes) -> Any:
    decode = incoming.decode_run if frame.startswith(_RUN_PREFIX) else incoming.decode
    try:
        return decode(frame)
    except DECODE_FAILURES:
        return frame


def _unencodable(result: object) -> RemoteFailure:
    return RemoteFailure(
        "tadpole.UnencodableReply",
        f"the reply is a {type(result).__qualname__}, not a protocol Message; "
        "only Message replies (or None) can travel between nodes",
    )


def _failure_error(target: str, failure: RemoteFailure) -> Exception:
    if failure.type_name == STOPPED_TYPE:
        return ActorStopped(target, f"on its node: {failure.message}")
    return RemoteActorError(failure.type_name, failure.message, failure.traceback)
