"""An in-process transport with injectable faults, for tests.

A :class:`MemoryNetwork` is a fake network of named hosts. Each node gets its
own :class:`MemoryTransport` (``network.transport("alpha")``); listening and
connecting work as with TCP, but the streams are in-process byte pipes, and
the test can break them::

    network = MemoryNetwork()
    network.partition({"alpha"}, {"beta", "gamma"})  # cut existing links, refuse new ones
    network.heal()
    network.drop("alpha")                            # break alpha's connections once
    network.delay = 0.05                             # every chunk waits 50 ms (on the clock)
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import anyio
from anyio.abc import ByteStream

from .. import Clock, LoopClock

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from ._transport import TransportListener

__all__ = ["MemoryNetwork", "MemoryTransport"]

_CHUNKS = 64  # chunks buffered per direction before the sender waits (backpressure)


class _Pipe:
    """One direction of a connection: chunks in order, bounded."""

    def __init__(self) -> None:
        send, receive = anyio.create_memory_object_stream[bytes](_CHUNKS)
        self.send: MemoryObjectSendStream[bytes] = send
        self.receive: MemoryObjectReceiveStream[bytes] = receive


class MemoryStream(ByteStream):
    """One end of an in-memory connection."""

    def __init__(
        self, network: MemoryNetwork, local: str, remote: str, out: _Pipe, inp: _Pipe
    ) -> None:
        self._network = network
        self.local_host = local
        self.remote_host = remote
        self._out = out
        self._in = inp
        self._rest = b""
        self._broken = False
        self._closed = False
        self.peer: MemoryStream | None = None

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if self._rest:
            data, self._rest = self._rest[:max_bytes], self._rest[max_bytes:]
            return data
        if self._broken:
            raise anyio.BrokenResourceError("memory connection was dropped")
        try:
            chunk = await self._in.receive.receive()
        except anyio.EndOfStream:
            if self._broken:
                raise anyio.BrokenResourceError("memory connection was dropped") from None
            raise
        except anyio.ClosedResourceError:
            raise anyio.BrokenResourceError("memory connection was dropped") from None
        if len(chunk) > max_bytes:
            chunk, self._rest = chunk[:max_bytes], chunk[max_bytes:]
        return chunk

    async def send(self, item: bytes) -> None:
        if self._broken or self._closed:
            raise anyio.BrokenResourceError("memory connection is closed")
        delay = self._network.delay
        if delay > 0:
            await self._network.clock.sleep(delay)
        try:
            await self._out.send.send(bytes(item))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise anyio.BrokenResourceError("memory connection was dropped") from None

    async def send_eof(self) -> None:
        self._out.send.close()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._network._forget(self)
        self._out.send.close()
        self._in.receive.close()

    def break_(self) -> None:
        """The fault: both directions fail, as a reset connection does."""
        for end in (self, self.peer):
            if end is not None:
                end._broken = True
                end._out.send.close()


class _MemoryListener:
    def __init__(self, network: MemoryNetwork, host: str, port: int) -> None:
        self._network = network
        self._address = (host, port)
        send, receive = anyio.create_memory_object_stream[MemoryStream](16)
        self._incoming_send = send
        self._incoming = receive

    @property
    def address(self) -> tuple[str, int]:
        return self._address

    async def serve(self, handler: Callable[[ByteStream], Awaitable[None]]) -> None:
        async def handle(stream: ByteStream) -> None:
            await handler(stream)

        async with anyio.create_task_group() as tg:
            async for stream in self._incoming:
                tg.start_soon(handle, stream)

    async def aclose(self) -> None:
        self._network._listeners.pop(self._address, None)
        self._incoming_send.close()


class MemoryNetwork:
    """A fake network of named hosts; see the module docstring for the faults."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else LoopClock()
        self.delay = 0.0
        """Seconds every chunk waits before it is handed to the other end."""
        self._listeners: dict[tuple[str, int], _MemoryListener] = {}
        self._streams: list[MemoryStream] = []
        self._groups: list[frozenset[str]] = []
        self._ports = itertools.count(40000)
        self.connects_refused = 0

    def transport(self, host: str) -> MemoryTransport:
        """The transport for one host of this network."""
        return MemoryTransport(self, host)

    # -- faults ----------------------------------------------------------------

    def partition(self, *groups: Iterable[str]) -> None:
        """Split hosts into groups that cannot reach each other; cut crossing links."""
        self._groups = [frozenset(g) for g in groups]
        for stream in list(self._streams):
            if not self.reachable(stream.local_host, stream.remote_host):
                stream.break_()

    def heal(self) -> None:
        """Remove every partition."""
        self._groups = []

    def drop(self, host: str, other: str | None = None) -> int:
        """Break every connection of ``host`` (to ``other`` only, if given); returns how many."""
        count = 0
        for stream in list(self._streams):
            ends = {stream.local_host, stream.remote_host}
            if host in ends and (other is None or other in ends):
                stream.break_()
                count += 1
        return count

    def reachable(self, a: str, b: str) -> bool:
        if a == b or not self._groups:
            return True
        group_a = next((g for g in self._groups if a in g), None)
        group_b = next((g for g in self._groups if b in g), None)
        return group_a is None or group_b is None or group_a is group_b

    # -- for transports --------------------------------------------------------

    def _listen(self, host: str, port: int) -> _MemoryListener:
        if port == 0:
            port = next(self._ports)
            while (host, port) in self._listeners:
                port = next(self._ports)
        if (host, port) in self._listeners:
            raise OSError(f"address already in use: {host}:{port}")
        listener = self._listeners[(host, port)] = _MemoryListener(self, host, port)
        return listener

    def _connect(self, local: str, host: str, port: int) -> MemoryStream:
        listener = self._listeners.get((host, port))
        if listener is None or not self.reachable(local, host):
            self.connects_refused += 1
            raise ConnectionRefusedError(f"memory network: nothing reachable at {host}:{port}")
        a_to_b, b_to_a = _Pipe(), _Pipe()
        client = MemoryStream(self, local, host, a_to_b, b_to_a)
        server = MemoryStream(self, host, local, b_to_a, a_to_b)
        client.peer, server.peer = server, client
        try:
            listener._incoming_send.send_nowait(server)
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self.connects_refused += 1
            raise ConnectionRefusedError(
                f"memory network: {host}:{port} is not accepting"
            ) from None
        self._streams += (client, server)
        return client

    def _forget(self, stream: MemoryStream) -> None:
        if stream in self._streams:
            self._streams.remove(stream)

    @property
    def connections(self) -> int:
        """Open stream ends (two per connection)."""
        return len(self._streams)


class MemoryTransport:
    """One host's view of a :class:`MemoryNetwork`."""

    def __init__(self, network: MemoryNetwork, host: str) -> None:
        self.network = network
        self.host = host

    async def listen(self, host: str, port: int) -> TransportListener:
        return self.network._listen(host, port)

    async def connect(self, host: str, port: int) -> ByteStream:
        return self.network._connect(self.host, host, port)

    async def secure(self, stream: ByteStream) -> ByteStream:
        return stream

    def __repr__(self) -> str:
        return f"MemoryTransport({self.host!r})"
