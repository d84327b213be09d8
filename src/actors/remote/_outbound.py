"""A connection's sending side: the write buffer, the send buffer's drain, the writes.

Answers and the peer's messages go into one write buffer
(:class:`protocol.wire.BatchWriter`). A message sent while nothing waits in
the peer's send buffer is encoded straight into it (:meth:`Outbound.tell_now`,
:meth:`~Outbound.ask`), consecutive tells to one target into one ``TELLS``
frame; a full batch is written at once, in the middle of a turn, if the
transport takes it. The send buffer holds the rest, in order: tells there are
already framed and are appended as they are, asks are encoded with the time
they have left. On a push stream, the first message of a loop turn is written
at once when nothing else is pending (an ask's latency is one write), and
whatever else arrives in that turn goes out in one write at the turn's end; a
full transport buffer stops draining the send buffer until it empties, and
``send`` waits for it (:meth:`Outbound.drained`). Other streams have a writer
task that sends each batch.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import anyio
import structlog

from protocol import (
    MessageTooLarge,
)
from protocol.wire import (
    whole_frames_end,
)

from ._state import ConnectionState

if TYPE_CHECKING:
    from ._peer import _Out
    from ._tcp import TcpStream

logger = structlog.get_logger(__name__)


__all__ = ["Outbound"]

_STREAM_GONE = (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError, ssl.SSLError)


class Outbound(ConnectionState):
    """Writing (a part of :class:`~actors.remote._connection.Connection`)."""

    def _dead_letter_unsent(self, reason: str) -> None:
        self._dead_letter_buffered(reason)
        writing, self._writing = self._writing, None
        if writing:
            self.node.dead_letter_unsent(self.peer, writing, reason)
        out = self._out
        out.close_run()
        if out.data:
            self.node.dead_letter_unsent(self.peer, out.data, reason)

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

    def _idle_push(self) -> TcpStream | None:
        """The push stream, if a frame can be written through it at once and alone:
        the connection is not ending, nothing waits (send buffer, write buffer), the
        transport takes writes, and :meth:`notify` would write now (nothing was
        written directly since the last turn boundary, no end of turn is pending,
        the last turn was not a burst). Writing it alone is then exactly what
        encoding it into the empty write buffer and notifying would do, one write
        of one frame, without the buffer: the write-through path of a round trip."""
        push = self._push
        if (
            push is None
            or not push.writable
            or self._direct
            or self._turn_pending
            or self._busy
            or self._out.data
            or self.peer.outbox
            or self.reason is not None
        ):
            return None
        return push

    def _write_alone(self, push: TcpStream, frame: bytes) -> None:
        """Write ``frame`` (one message's) now, as :meth:`notify` would have from the
        write buffer; only when :meth:`_idle_push` gave ``push``."""
        self._direct = True
        stats = self.node.counters
        stats.messages_sent += 1
        stats.bytes_sent += len(frame)
        stats.writes += 1
        push.write_now(frame)  # writable (see _idle_push), so open
        if self._written or push.buffered_now():
            self._wrote(push, frame)

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
                    t = node.now()
                timeout = item.deadline - t
                if timeout <= 0.0:
                    continue  # expired: never sent; the asker's timer fires
            assert item.payload is not None  # encoded when it was queued
            try:
                out.ask(item.target, item.payload, item.cid, timeout)
            except MessageTooLarge as exc:
                node.reject_item(item, exc)
                continue
            sent[item.cid] = item
            item.conn = self
            count += 1
        peer.room_freed()
        return count

    def _take(self, count: int) -> bytearray:
        """The write buffer's frames, to be written (a new buffer takes their place:
        the transport may keep the old one), and ``count`` messages among them."""
        data = self._out.take()
        stats = self.node.counters
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

    def _wrote(self, push: TcpStream, data: bytes | bytearray) -> None:
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
        at = whole_frames_end(data, sent)
        self.node.dead_letter_unsent(self.peer, data[at:], reason)

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
        self.node.counters.messages_sent += 1
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
        is matched by correlation id. On an idle push stream (see
        :meth:`_idle_push`) its frame is written at once, alone."""
        timeout = item.timeout  # none of it has passed yet
        if timeout is not None and timeout <= 0.0:
            return False  # expired already: the send buffer drops it unsent
        push = self._idle_push()
        if push is not None:
            frame = self._out.ask_frame(item.target, item.message, item.cid, timeout)  # type: ignore[arg-type]
            self.sent[item.cid] = item
            item.conn = self
            self._write_alone(push, frame)
            return True
        if not self._admit():
            return False
        self._out.ask(item.target, item.message, item.cid, timeout)  # type: ignore[arg-type]
        self.node.counters.messages_sent += 1
        self.sent[item.cid] = item
        item.conn = self
        self.notify()
        return True

    def cancel_ask(self, item: _Out) -> None:
        """The asker gave up on ``item``, sent on this connection and not answered:
        tell the peer (after the ask, as frames keep their order)."""
        if self.closed:
            return
        self._out.cancel(item.target, item.cid)
        self.notify()
