"""The transport seam: how nodes get byte streams to each other.

A :class:`Transport` listens and connects, yielding anyio byte streams; the
node runs framing, the handshake and envelopes over whatever it yields. Two
implementations: :class:`TcpTransport` (TCP on asyncio protocols, optionally TLS through the
standard :mod:`ssl` module) and :class:`~actors.remote.MemoryTransport`
(in-process stream pairs with injectable faults, for tests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import anyio
from anyio.abc import SocketAttribute
from anyio.streams.tls import TLSStream

from ._tcp import TcpListener, open_tcp_stream

if TYPE_CHECKING:
    import ssl
    from collections.abc import Awaitable, Callable

    from anyio.abc import ByteStream, SocketStream

__all__ = ["TcpTransport", "Transport", "TransportListener"]


class TransportListener(Protocol):
    """A bound listening endpoint."""

    @property
    def address(self) -> tuple[str, int]:
        """The ``(host, port)`` actually bound (port 0 resolved)."""
        ...

    async def serve(self, handler: Callable[[ByteStream], Awaitable[None]]) -> None:
        """Call ``handler`` with each accepted stream, each in its own task; runs until
        cancelled. The handler owns the stream and closes it."""
        ...

    async def aclose(self) -> None: ...


class Transport(Protocol):
    """Listen and connect; what :class:`~actors.remote.RemoteNode` needs of a network."""

    async def listen(self, host: str, port: int) -> TransportListener:
        """Bind ``host:port`` (port 0 picks a free port)."""
        ...

    async def connect(self, host: str, port: int) -> ByteStream:
        """Open a stream to ``host:port``, secured if the transport is; raises
        :class:`OSError` when nobody listens there."""
        ...

    async def secure(self, stream: ByteStream) -> ByteStream:
        """Server side of the security layer for an accepted stream (TLS), or the
        stream itself. The node calls it under its handshake timeout."""
        ...


class TcpTransport:
    """TCP, with optional TLS.

    Plain connections are :class:`asyncio` protocol streams that the node can
    switch to push mode (see ``_tcp.py``); TLS connections use anyio's TLS streams.

    ``server_ssl`` secures accepted connections, ``client_ssl`` the ones this
    node opens (``tls_hostname`` is the name checked against the peer's
    certificate; ``None`` uses the host dialled). Give both for a TLS cluster.
    """

    def __init__(
        self,
        *,
        server_ssl: ssl.SSLContext | None = None,
        client_ssl: ssl.SSLContext | None = None,
        tls_hostname: str | None = None,
    ) -> None:
        self.server_ssl = server_ssl
        self.client_ssl = client_ssl
        self.tls_hostname = tls_hostname

    async def listen(self, host: str, port: int) -> TransportListener:
        if self.server_ssl is None:
            return await TcpListener.bind(host, port)
        listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
        return _TcpListener(listener)

    async def connect(self, host: str, port: int) -> ByteStream:
        if self.client_ssl is None:
            return await open_tcp_stream(host, port)
        stream: SocketStream = await anyio.connect_tcp(host, port)
        _nodelay(stream)
        try:
            return await TLSStream.wrap(
                stream,
                server_side=False,
                hostname=self.tls_hostname or host,
                ssl_context=self.client_ssl,
                standard_compatible=False,
            )
        except BaseException:
            await anyio.aclose_forcefully(stream)
            raise

    async def secure(self, stream: ByteStream) -> ByteStream:
        if self.server_ssl is None:
            return stream
        return await TLSStream.wrap(
            stream, server_side=True, ssl_context=self.server_ssl, standard_compatible=False
        )

    def __repr__(self) -> str:
        return f"TcpTransport(tls={self.server_ssl is not None or self.client_ssl is not None})"


def _nodelay(stream: ByteStream) -> None:
    import socket

    sock = stream.extra(SocketAttribute.raw_socket, None)
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _TcpListener:
    def __init__(self, listener: anyio.abc.Listener[SocketStream]) -> None:
        self._listener = listener
        # Any: a (host, port[, flow, scope]) tuple for IP sockets.
        local: Any = listener.extra(SocketAttribute.local_address)
        self._address = (str(local[0]), int(local[1]))

    @property
    def address(self) -> tuple[str, int]:
        return self._address

    async def serve(self, handler: Callable[[ByteStream], Awaitable[None]]) -> None:
        async def accepted(stream: SocketStream) -> None:
            _nodelay(stream)
            await handler(stream)

        await self._listener.serve(accepted)

    async def aclose(self) -> None:
        await self._listener.aclose()
