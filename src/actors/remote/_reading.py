"""A connection's reading side, as the stream drives it: chunks in, pauses, the end.

On a :class:`~actors.remote._tcp.TcpStream` the event loop pushes each chunk
to the connection (no reader task); on any other anyio byte stream (TLS, the
in-memory transport) a reader task pulls chunks and runs the same code. A
chunk that is exactly one ask or answer, with nothing before it waiting,
skips the batch machinery (:meth:`Reading._on_data`). When a delivery must wait
for room, reading stops until it is done: backpressure to the sender.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any, Final

import anyio
import structlog

from protocol import (
    RemoteProtocolError,
)
from protocol.wire import (
    DECODE_FAILURES,
    lone_frame,
)

from ._kinds import _ASK, _REPLY
from ._state import ConnectionState

if TYPE_CHECKING:
    from ._tcp import TcpStream

logger = structlog.get_logger(__name__)


__all__ = ["Reading"]

_READ_SIZE: Final = 256 * 1024
_STREAM_GONE = (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError, ssl.SSLError)


class Reading(ConnectionState):
    """Reading (a part of :class:`~actors.remote._connection.Connection`)."""

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
        self.node.counters.bytes_received += len(chunk)
        if self._blocked is None and self._at >= len(self._batch) and self._splitter.empty:
            # Nothing received before it waits: a chunk that is exactly one ASK or REPLY
            # frame (the request or the answer of a round trip) skips the batch
            # machinery. Anything else takes the usual way, which also gives bad bytes
            # their precise error.
            payload = lone_frame(chunk, self._max_frame)
            if payload is not None:
                try:
                    alone = self.node.incoming.decode(payload)
                except DECODE_FAILURES:
                    alone = None
                if alone is not None and (alone.kind is _REPLY or alone.kind is _ASK):
                    self._pump(alone)
                    return
        self._splitter.feed(chunk)
        if self._blocked is None:
            self._pump()

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
                self.node.counters.messages_received += 1
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
        stats = self.node.counters
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
