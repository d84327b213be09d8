"""One established connection to a peer node: a reader and a batching writer.

The writer takes envelopes from the peer's bounded send buffer (and answers
to asks that arrived on this connection) and writes each batch with one
``send``. The reader splits frames, decodes envelopes, and hands each to the
local system: tells wait for room in the target's mailbox (so a slow mailbox
stops the reader, fills the socket and then the sender's buffer: backpressure
end to end), asks are answered by correlation id on this connection.

Any :class:`~protocol.RemoteProtocolError` from the peer's bytes closes this
connection with the error's class name as the reason; nothing else is affected.
"""

from __future__ import annotations

import asyncio
import ssl
import types
from collections import deque
from typing import TYPE_CHECKING, Any, Final

import anyio
import structlog

from protocol import (
    Envelope,
    FrameWriter,
    Message,
    MessageKind,
    MessageTooLarge,
    RemoteFailure,
    RemoteProtocolError,
)

from .._errors import ActorNotFound, ActorStopped, AskTimeout, RemoteActorError
from ._errors import ConnectionLost

if TYPE_CHECKING:
    from collections.abc import Generator

    from anyio.abc import ByteStream, TaskGroup

    from protocol import FrameReader

    from ._node import RemoteNode, _Out, _Peer

__all__ = ["Connection", "NoReply"]

logger = structlog.get_logger(__name__)

_READ_SIZE: Final = 256 * 1024
_TELL, _ASK, _REPLY, _ERROR = (
    MessageKind.TELL,
    MessageKind.ASK,
    MessageKind.REPLY,
    MessageKind.ERROR,
)
_STREAM_GONE = (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError, ssl.SSLError)

STOPPED_TYPE: Final = "tadpole.ActorStopped"
"""``RemoteFailure.type_name`` for "the target is gone": the asker raises ActorStopped."""


class NoReply(Message, tag="tadpole.none"):
    """Stands for ``None`` as the answer to a remote ask."""


@types.coroutine
def _yield_to_loop() -> Generator[None, None, None]:
    yield


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
        self.replies: deque[Envelope] = deque()
        self.reason: str | None = None
        self.closed = False
        self.inflight = 0
        self._reader = reader
        self._waiter: asyncio.Future[None] | None = None
        self._tg: TaskGroup | None = None
        self._room: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"<Connection to {self.peer.name} {'out' if self.initiator else 'in'}>"

    # -- lifetime --------------------------------------------------------------

    async def run(self) -> None:
        """Read and write until the connection ends; then fail the asks it carried."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
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
        self.replies.clear()
        await anyio.aclose_forcefully(self.stream)
        self.node._detach(self)

    def notify(self) -> None:
        """Wake the writer: something is waiting to be sent."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- writing ---------------------------------------------------------------

    async def _write_loop(self) -> None:
        node = self.node
        peer = self.peer
        stats = node._counters
        writer = FrameWriter(max_frame_size=node.config.max_frame_size)
        add = writer.add_encoded
        encode_into = node._envelopes.encode_into
        replies = self.replies
        outbox = peer.outbox
        batch_bytes = node.config.batch_bytes
        now = node.system.clock.now
        send = self.stream.send
        sent = self.sent
        try:
            while True:
                if not replies and not (outbox and peer.conn is self):
                    self._waiter = asyncio.get_running_loop().create_future()
                    await self._waiter
                    continue
                while replies:
                    reply = replies.popleft()
                    try:
                        add(encode_into, reply)
                    except MessageTooLarge as exc:
                        add(encode_into, node._failure_envelope(reply, exc))
                count = 0
                if peer.conn is self:
                    t = now()
                    while outbox and len(writer) < batch_bytes:
                        item = outbox.popleft()
                        cid = item.cid
                        if cid:
                            future = item.future
                            if future is None or future.done():
                                continue
                            timeout = None
                            if item.deadline is not None:
                                timeout = item.deadline - t
                                if timeout <= 0.0:
                                    continue  # expired: never sent; the asker's timer fires
                            envelope = Envelope(
                                _ASK, item.target, item.payload, item.sender, cid, None, timeout
                            )
                            sent[cid] = item
                            item.conn = self
                        else:
                            envelope = Envelope(_TELL, item.target, item.payload, item.sender)
                        try:
                            add(encode_into, envelope)
                        except MessageTooLarge as exc:
                            node._reject_item(item, exc)
                            continue
                        count += 1
                    peer.room_freed()
                data = writer.take()
                if data:
                    stats.messages_sent += count
                    stats.bytes_sent += len(data)
                    stats.writes += 1
                    # anyio streams accept any bytes-like object; no copy of the batch.
                    await send(data)  # type: ignore[arg-type]
        except _STREAM_GONE as exc:
            self._end("connection_lost", repr(exc))

    def queue_reply(self, envelope: Envelope) -> None:
        if not self.closed:
            self.replies.append(envelope)
            self.notify()

    # -- reading ---------------------------------------------------------------

    async def _read_loop(self) -> None:
        node = self.node
        stats = node._counters
        reader = self._reader
        decode = node._envelopes.decode
        receive = self.stream.receive
        try:
            while True:
                for frame in reader:
                    envelope = decode(frame)
                    kind = envelope.kind
                    if kind is _TELL:
                        await self._on_tell(envelope)
                    elif kind is _ASK:
                        await self._on_ask(envelope)
                    else:
                        self._on_answer(envelope)
                try:
                    chunk = await receive(_READ_SIZE)
                except anyio.EndOfStream:
                    reader.eof()
                    self._end("peer_closed")
                    return
                stats.bytes_received += len(chunk)
                reader.feed(chunk)
        except RemoteProtocolError as exc:
            self._end(type(exc).__name__, str(exc), bad_input=True)
        except _STREAM_GONE as exc:
            self._end("connection_lost", repr(exc))

    async def _on_tell(self, envelope: Envelope) -> None:
        node = self.node
        message = node._envelopes.decode_payload(envelope)
        node._counters.messages_received += 1
        target = envelope.target
        service = node._services.get(target)
        if service is not None:
            service(message, self.peer.name)
            return
        system = node.system
        if not node.accepting:
            system.dead_letters.publish(target, message, "node is shutting down")
            return
        try:
            ref = system.lookup(target)
        except ActorNotFound:
            system.dead_letters.publish(target, message, "no actor at this path")
            return
        await ref.send(message)

    async def _on_ask(self, envelope: Envelope) -> None:
        node = self.node
        message = node._envelopes.decode_payload(envelope)
        node._counters.messages_received += 1
        timeout = envelope.timeout
        if timeout is not None and timeout <= 0.0:
            node._counters.asks_expired += 1
            return  # expired in transit: not delivered; the asker's own timer answers
        target = envelope.target
        service = node._services.get(target)
        if service is not None:
            self._answer_with(envelope, service(message, self.peer.name))
            return
        if not node.accepting:
            failure = RemoteFailure(STOPPED_TYPE, f"node {node.name} is shutting down")
            self.queue_reply(node._envelopes.error(envelope, failure))
            return
        try:
            ref = node.system.lookup(target)
        except ActorNotFound as exc:
            failure = RemoteFailure(STOPPED_TYPE, str(exc))
            self.queue_reply(node._envelopes.error(envelope, failure))
            return
        deadline = envelope.deadline(node.system.clock.now())
        limit = node.config.max_inflight_asks
        while self.inflight >= limit:
            room = self._room = asyncio.Event()
            await room.wait()
        self.inflight += 1
        node._inflight_started()
        assert self._tg is not None
        self._tg.start_soon(self._answer, envelope, ref, message, deadline)
        # Let the answering task put the ask in the mailbox before the next
        # envelope is delivered: messages from one sender keep their order.
        await _yield_to_loop()

    async def _answer(
        self, envelope: Envelope, ref: Any, message: Message, deadline: float | None
    ) -> None:
        node = self.node
        clock = node.system.clock
        try:
            timeout = None if deadline is None else deadline - clock.now()
            if timeout is not None and timeout <= 0.0:
                node._counters.asks_expired += 1
                return
            try:
                result = await ref.ask(message, timeout=timeout)
            except AskTimeout as exc:
                if deadline is not None and clock.now() >= deadline:
                    node._counters.asks_expired += 1
                    return  # the asker times out on its own clock
                self.queue_reply(node._envelopes.error(envelope, node._describe(exc)))
            except ActorStopped as exc:
                failure = RemoteFailure(STOPPED_TYPE, str(exc))
                self.queue_reply(node._envelopes.error(envelope, failure))
            except Exception as exc:
                self.queue_reply(node._envelopes.error(envelope, node._describe(exc)))
            else:
                self._answer_with(envelope, result)
        finally:
            self.inflight -= 1
            node._inflight_finished()
            room = self._room
            if room is not None:
                self._room = None
                room.set()

    def _answer_with(self, envelope: Envelope, result: object) -> None:
        envelopes = self.node._envelopes
        if result is None:
            result = NoReply()
        if isinstance(result, Message):
            self.queue_reply(envelopes.reply(envelope, result))
            return
        failure = RemoteFailure(
            "tadpole.UnencodableReply",
            f"the reply is a {type(result).__qualname__}, not a protocol Message; "
            "only Message replies (or None) can travel between nodes",
        )
        self.queue_reply(envelopes.error(envelope, failure))

    def _on_answer(self, envelope: Envelope) -> None:
        item = self.sent.pop(envelope.correlation_id, None)
        if item is None:
            self.node._counters.late_answers += 1
            return  # the ask timed out meanwhile; its answer has nobody to go to
        future = item.future
        assert future is not None
        envelopes = self.node._envelopes
        if envelope.kind is _REPLY:
            try:
                reply = envelopes.decode_payload(envelope)
            except RemoteProtocolError as exc:
                if not future.done():
                    future.set_exception(exc)
                raise
            if not future.done():
                future.set_result(None if type(reply) is NoReply else reply)
        elif envelope.kind is _ERROR:
            failure = envelopes.decode_failure(envelope)
            if not future.done():
                future.set_exception(_failure_error(item.label, failure))


def _failure_error(target: str, failure: RemoteFailure) -> Exception:
    if failure.type_name == STOPPED_TYPE:
        return ActorStopped(target, f"on its node: {failure.message}")
    return RemoteActorError(failure.type_name, failure.message, failure.traceback)
