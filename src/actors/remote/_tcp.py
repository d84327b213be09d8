"""Plain TCP streams on asyncio protocols, with a push mode for the node's hot path.

:class:`TcpStream` is an anyio :class:`~anyio.abc.ByteStream` (the handshake
and tests use ``receive``/``send`` like any other stream), built directly on an
:class:`asyncio.Protocol` instead of anyio's socket stream, which pauses and
resumes reading on every ``receive`` and waits for the kernel to take every
``send``. Once a connection is established the node switches it to **push
mode** (:meth:`TcpStream.start_push`): the event loop hands each chunk straight
to the connection's callback (no reader task, no wake-up per chunk), and
``write`` sends without waiting. Both directions stay bounded: the connection
pauses reading while a mailbox is full, and ``write`` reports when the
transport's buffer is past its high-water mark (the node then stops
draining its send buffer until :meth:`TcpStream.start_push`'s ``on_writable``
is called).

TLS connections keep using anyio's streams (see :class:`~actors.remote.TcpTransport`).
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from typing import TYPE_CHECKING, Any, Final, cast

import anyio
from anyio.abc import ByteStream, SocketAttribute

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

__all__ = ["TcpListener", "TcpStream", "open_tcp_stream"]

_HIGH_WATER: Final = 1024 * 1024
"""Bytes the transport may buffer before ``write`` asks the caller to stop."""
_READ_LIMIT: Final = 1024 * 1024
"""Bytes received and not yet taken (pull mode) before reading pauses."""


class _Protocol(asyncio.Protocol):
    __slots__ = ("_on_made", "on_data", "stream")

    def __init__(self, on_made: Callable[[TcpStream], None] | None = None) -> None:
        self.stream: TcpStream | None = None
        self._on_made = on_made
        self.on_data: Callable[[bytes], None] = _ignore
        """Where chunks go: the stream's buffer (pull mode) or its push callback."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.stream = TcpStream(cast("asyncio.Transport", transport), self)
        self.on_data = self.stream._data
        if self._on_made is not None:
            self._on_made(self.stream)

    def data_received(self, data: bytes) -> None:
        self.on_data(data)

    def eof_received(self) -> bool:
        assert self.stream is not None
        self.stream._ended(None)
        return True  # keep the transport open for writing (a half-close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.stream is not None:
            self.stream._lost(exc)

    def pause_writing(self) -> None:
        assert self.stream is not None
        self.stream._paused_writing = True
        self.stream.writable = False

    def resume_writing(self) -> None:
        assert self.stream is not None
        self.stream._resume_writing()


class TcpStream(ByteStream):
    """One TCP connection; see the module docstring for pull and push modes."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        transport.set_write_buffer_limits(high=_HIGH_WATER)
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._eof = False
        self._error: Exception | None = None
        self._closed = False
        self._lost_seen = False
        self._paused_writing = False
        self._paused_reading = False
        self.writable = True
        """Whether the write buffer is below its high-water mark (and the stream open).
        An attribute, not a property: it is read before every write."""
        self.write_now: Callable[[bytes | bytearray], None] = transport.write
        """The transport's own ``write``, for a caller that just saw :attr:`writable`
        (so the stream is open): :meth:`write` without its checks, one call less."""
        self.buffered_now: Callable[[], int] = transport.get_write_buffer_size
        """The transport's own buffer size, right after :attr:`write_now`."""
        self._on_end: Callable[[Exception | None], None] | None = None
        self._on_writable: Callable[[], None] | None = None

    # -- protocol callbacks ----------------------------------------------------

    def _data(self, data: bytes) -> None:
        """A chunk in pull mode (in push mode the protocol hands it on directly)."""
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _READ_LIMIT and not self._paused_reading:
            self._paused_reading = True
            self._transport.pause_reading()
        self._wake()

    def _ended(self, error: Exception | None) -> None:
        if self._eof:
            return
        self._eof = True
        if error is not None:
            self._error = error
        on_end = self._on_end
        if on_end is not None:
            self._on_end = None
            on_end(error)
        else:
            self._wake()

    def _lost(self, exc: Exception | None) -> None:
        self._lost_seen = True
        self.writable = False
        self._ended(exc if exc is not None else (None if self._eof else ConnectionResetError()))
        self._paused_writing = False
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _resume_writing(self) -> None:
        self._paused_writing = False
        self.writable = not self._closed and not self._lost_seen
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)
        on_writable = self._on_writable
        if on_writable is not None:
            on_writable()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- pull mode (anyio ByteStream) ------------------------------------------

    async def receive(self, max_bytes: int = 65536) -> bytes:
        chunks = self._chunks
        while not chunks:
            if self._closed:
                raise anyio.ClosedResourceError
            if self._error is not None:
                raise anyio.BrokenResourceError from self._error
            if self._eof:
                raise anyio.EndOfStream
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            await waiter
        chunk = chunks.popleft()
        if len(chunk) > max_bytes:
            chunk, rest = chunk[:max_bytes], chunk[max_bytes:]
            chunks.appendleft(rest)
        self._buffered -= len(chunk)
        if self._paused_reading and self._buffered <= _READ_LIMIT // 2:
            self._paused_reading = False
            self._transport.resume_reading()
        return chunk

    async def send(self, item: bytes) -> None:
        self._check_writable()
        self._transport.write(item)
        if not self._paused_writing:
            await anyio.lowlevel.cancel_shielded_checkpoint()  # as anyio's streams do
        while self._paused_writing:
            drain = self._drain = asyncio.get_running_loop().create_future()
            await drain
            self._check_writable()

    def _check_writable(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        if self._lost_seen or self._transport.is_closing():
            raise anyio.BrokenResourceError from self._error

    async def send_eof(self) -> None:
        if self._transport.can_write_eof() and not self._transport.is_closing():
            self._transport.write_eof()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self.writable = False
            self._protocol.on_data = _ignore
            self._on_end = self._on_writable = None
            self._transport.abort()
            self._wake()
        await anyio.lowlevel.checkpoint()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        transport = self._transport
        return {
            SocketAttribute.raw_socket: lambda: transport.get_extra_info("socket"),
            SocketAttribute.local_address: lambda: transport.get_extra_info("sockname"),
            SocketAttribute.remote_address: lambda: transport.get_extra_info("peername"),
        }

    # -- push mode -------------------------------------------------------------

    def start_push(
        self,
        on_data: Callable[[bytes], None],
        on_end: Callable[[Exception | None], None],
        on_writable: Callable[[], None],
    ) -> None:
        """From now on, hand every chunk to ``on_data`` as it arrives, report the end
        of the stream (``None``: the peer closed it) once to ``on_end``, and call
        ``on_writable`` when a full write buffer has drained. Chunks received
        before are handed over first. Reading stays paused if it was (the caller
        resumes it)."""
        chunks, self._chunks = self._chunks, deque()
        self._buffered = 0
        if not self._closed:
            self._protocol.on_data = on_data
        self._on_writable = on_writable
        for chunk in chunks:
            on_data(chunk)
        if self._eof:
            on_end(self._error)
        else:
            self._on_end = on_end

    def pause_reading(self) -> None:
        if not self._paused_reading and not self._closed:
            self._paused_reading = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._paused_reading and not self._closed:
            self._paused_reading = False
            self._transport.resume_reading()

    def write(self, data: bytes | bytearray) -> None:
        """Send without waiting; check :attr:`writable` before writing more."""
        if self._closed or self._lost_seen:
            return
        self._transport.write(data)

    def buffered(self) -> int:
        """Bytes written and not yet taken by the kernel (0 once the connection is
        lost: the transport then forgets them)."""
        if self._closed:
            return 0
        return self._transport.get_write_buffer_size()


def _ignore(data: bytes) -> None:
    """Where chunks go before the stream exists and after it was closed."""


def _nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def open_tcp_stream(host: str, port: int) -> TcpStream:
    """Connect to ``host:port`` (``TCP_NODELAY`` set); raises :class:`OSError`."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(_Protocol, host, port)
    _nodelay(transport)
    assert protocol.stream is not None
    return protocol.stream


class TcpListener:
    """A listening TCP socket whose accepted connections are :class:`TcpStream` objects."""

    def __init__(self, server: asyncio.Server, pending: deque[TcpStream]) -> None:
        self._server = server
        self._pending = pending
        self._arrived: asyncio.Event | None = None
        sockname = server.sockets[0].getsockname()
        self._address = (str(sockname[0]), int(sockname[1]))

    @classmethod
    async def bind(cls, host: str, port: int) -> TcpListener:
        pending: deque[TcpStream] = deque()
        listener: TcpListener | None = None

        def made(stream: TcpStream) -> None:
            _nodelay(stream._transport)
            pending.append(stream)
            if listener is not None and listener._arrived is not None:
                listener._arrived.set()

        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Protocol(made), host, port)
        listener = cls(server, pending)
        return listener

    @property
    def address(self) -> tuple[str, int]:
        return self._address

    async def serve(self, handler: Callable[[ByteStream], Awaitable[None]]) -> None:
        async def handle(stream: ByteStream) -> None:
            await handler(stream)

        async with anyio.create_task_group() as tg:
            while True:
                while self._pending:
                    tg.start_soon(handle, self._pending.popleft())
                arrived = self._arrived = asyncio.Event()
                await arrived.wait()

    async def aclose(self) -> None:
        self._server.close()
        while self._pending:
            await self._pending.popleft().aclose()
