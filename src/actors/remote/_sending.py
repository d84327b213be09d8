"""Sending to a peer: a message goes straight into the connection's write buffer when it
can be sent now, else it waits in the peer's send buffer, which the connection drains
in order.

:class:`Sending` is the part of :class:`~actors.remote.RemoteNode` behind
:class:`~actors.remote.RemoteRef`'s ``tell``, ``send`` and ``ask``
(``Connection.tell_now``/``ask`` say whether a message can go now; the ref tries
``tell_now`` itself first). It also accounts for what a connection could not
send: the tells of its unsent frames become dead letters.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any, Final

import msgspec
import structlog

from protocol import Message, MessageKind, MessageTooLarge, RemoteProtocolError
from protocol.wire import split_frames

from .. import AskTimeout, SystemNotRunning
from ..lowlevel import check_timeout
from ._address import Address
from ._errors import SendBufferFull
from ._peer import _Out, _Peer, _Tell
from ._ref import not_a_message

if TYPE_CHECKING:
    import itertools

    from protocol import Codec, EnvelopeCodec
    from protocol.wire import TellFramer

    from .. import ActorSystem
    from ..lowlevel import Deadlines
    from ._config import Counters, RemoteConfig

__all__ = ["Sending"]

logger = structlog.get_logger(__name__)

_ENVELOPE_OVERHEAD: Final = 64
_INF: Final = math.inf
_WHOLE_SECONDS: Final = 2**53
"""The largest ``int`` timeout taken as it is: every int up to it is exactly a float."""


class Sending:
    """Tells, sends and asks to peers (a part of ``RemoteNode``)."""

    # Provided by RemoteNode.
    name: str
    system: ActorSystem
    config: RemoteConfig
    _codec: Codec
    _envelopes: EnvelopeCodec
    _framer: TellFramer
    _counters: Counters
    _open: bool
    _loop: asyncio.AbstractEventLoop
    _cids: itertools.count[int]
    _deadlines: Deadlines

    if TYPE_CHECKING:

        def _check_open(self) -> None: ...

    def _encode(self, message: object, target: str) -> msgspec.Raw:
        data = self._codec.encode(message)  # type: ignore[arg-type]
        size = len(data) + len(target) + _ENVELOPE_OVERHEAD
        if size > self.config.max_frame_size:
            raise MessageTooLarge(size, self.config.max_frame_size)
        return msgspec.Raw(data)

    def _frame_tell(self, target: str, message: object) -> bytes:
        """The whole frame of a tell (length prefix and envelope), encoded once.

        The envelope's ``sender`` is left nil: the receiving runtime never uses it
        (actors are not told who sent a message), and finding the calling actor
        would cost a task and registry look-up per message.
        """
        if not self._open:
            raise SystemNotRunning(f"node {self.name} is not running")
        return self._framer.frame(target, message)

    # A message goes straight into the connection's write buffer when it can be
    # sent now (Connection.tell_now/ask say whether it can: RemoteRef
    # tries tell_now itself first); else it waits in the peer's send buffer,
    # which the connection drains in order.

    def _tell(self, peer: _Peer, target: str, message: object, label: str) -> None:
        """A tell the connection could not take now (or there is none): queue it."""
        peer.put_nowait((self._frame_tell(target, message), label, message))

    async def _send(self, peer: _Peer, target: str, message: object, label: str) -> None:
        conn = peer.conn
        if conn is not None:
            while not conn.tell_now(target, message):
                # A full transport: wait for it to drain rather than fill the send
                # buffer (which would cost a second pass over every message).
                if peer.outbox or not await conn.drained() or peer.conn is not conn:
                    break
            else:
                return
        item = (self._frame_tell(target, message), label, message)
        if len(peer.outbox) < peer.capacity:  # room: no coroutine, no wait
            peer.append(item)
            return
        await peer.put(item)

    async def _ask(
        self, peer: _Peer, target: str, message: object, timeout: float | None, label: str
    ) -> Any:
        # Checked before anything is built or sent: a bad value fails this call alone.
        if not isinstance(message, Message):
            raise not_a_message(message, label)
        if timeout is not None:
            if type(timeout) is int and 0 < timeout <= _WHOLE_SECONDS:
                timeout = float(timeout)  # whole seconds (``timeout=30``): no slow path
            elif type(timeout) is not float or not 0.0 < timeout < _INF:
                timeout = check_timeout(timeout)  # or a ValueError/TypeError naming it
                if not timeout:  # already expired: never sent
                    raise AskTimeout(label, type(message).__qualname__, 0.0)
        if not self._open:
            self._check_open()  # raises
        future: asyncio.Future[Any] = asyncio.Future(loop=self._loop)
        item = _Out(target, None, next(self._cids), future, label, message, timeout)
        if timeout is not None:
            item.deadline = self._deadlines.add(item, timeout)
        try:
            conn = peer.conn
            if conn is None or not conn.ask(item):
                item.payload = self._encode(message, target)
                if len(peer.outbox) < peer.capacity:  # room: no coroutine, no wait
                    peer.append(item)
                else:
                    await peer.put(item)
            return await future
        finally:
            if not future.done():
                future.cancel()  # failed or abandoned before an answer: over for its timer too
            carrier = item.conn
            if carrier is not None and carrier.sent.pop(item.cid, None) is not None:
                # Sent and not answered: it timed out or this task was cancelled.
                # Withdraw it, so the peer does not deliver it if it has not yet.
                carrier.cancel_ask(item)

    def _drop(self, item: _Out | _Tell, reason: str) -> None:
        self._counters.dropped += 1
        if isinstance(item, _Out):
            if not item.future.done():
                item.future.set_exception(SendBufferFull(item.label, self.config.send_buffer))
            return
        _, label, message = item
        logger.warning("message_dropped", peer=label, reason=reason)
        self.system.dead_letters.publish(label, message, reason)

    def _dead_letter_unsent(self, peer: _Peer, data: bytes | bytearray, reason: str) -> None:
        """The connection to ``peer`` ended with ``data`` (whole frames this node
        encoded) never handed to the transport: dead-letter each tell in it.

        Decoded back from the frames (a cold path: nothing is kept per message
        on the hot one), so a dead letter holds an equal copy of the message.
        Asks in it already failed with ConnectionLost; answers and cancels have
        nobody to go to.
        """
        publish = self.system.dead_letters.publish
        why = f"connection to {peer.name} lost before it was sent ({reason})"
        node = Address(peer.name, peer.host, peer.port).node_address
        envelopes = self._envelopes
        count = 0
        for frame in split_frames(data):
            try:
                envelope = envelopes.decode(frame)
                if envelope.kind is MessageKind.TELL:
                    messages = [envelopes.decode_payload(envelope)]
                elif envelope.kind is MessageKind.TELLS:
                    messages = envelopes.decode_payloads(envelope)
                else:
                    continue
            except RemoteProtocolError:  # cannot happen to our own frames; keep the bytes
                publish(f"{node}/?", frame, why)
                count += 1
                continue
            for message in messages:
                publish(node + envelope.target, message, why)
            count += len(messages)
        if count:
            self._counters.tells_unsent += count
            logger.warning("tells_unsent", node=self.name, peer=peer.name, count=count)

    def _reject_item(self, item: _Out, error: Exception) -> None:
        if item.conn is not None:
            item.conn.sent.pop(item.cid, None)
        if not item.future.done():
            item.future.set_exception(error)
