"""Per peer: the bounded send buffer, and what waits in it.

A :class:`_Peer` is everything a node keeps about one other node: its address,
its connection (if one is up) and the **send buffer** (``RemoteConfig.send_buffer``
messages) where messages wait while they cannot go straight into the
connection's write buffer. A queued tell is already framed (:data:`_Tell`); a
queued ask (:class:`_Out`) is encoded when it is sent, with the time it has
left. The connection drains the buffer in order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

import msgspec

from .. import AskTimeout, Overflow
from ._errors import SendBufferFull
from ._outbound import Outbound

if TYPE_CHECKING:
    from ._connection import Connection
    from ._node import RemoteNode

__all__ = ["_Out", "_Peer", "_Tell"]


_Tell = tuple[bytes, str, object]
"""A tell waiting in a peer's send buffer: its whole frame (length prefix and envelope),
the target's address (for dead letters), the message. A plain tuple: the cheapest
object per message."""


class _Out(msgspec.Struct):
    """An ask on its way: in a peer's send buffer (its envelope is built when sent,
    with the time then left), then in its connection's ``sent`` until answered.
    A Struct: one is built per ask, in C."""

    target: str
    payload: msgspec.Raw | None
    """The encoded message while queued; ``None`` if it was sent at once."""
    cid: int
    future: asyncio.Future[Any]
    label: str
    message: object
    timeout: float | None
    deadline: float | None = None
    """Clock time the ask expires at (with a timeout)."""
    conn: Outbound | None = None

    def expire(self) -> None:
        """Timer callback: the asker's time is up."""
        future = self.future
        if not future.done():
            kind = type(self.message).__qualname__
            future.set_exception(AskTimeout(self.label, kind, self.timeout or 0.0))


class _Peer:
    """Everything this node keeps about one other node."""

    def __init__(self, node: RemoteNode, name: str, host: str | None, port: int | None) -> None:
        self.node = node
        self.name = name
        self.host = host
        self.port = port
        self.capacity = node.config.send_buffer
        self.outbox: deque[_Out | _Tell] = deque()
        self.putters: deque[asyncio.Future[None]] = deque()
        self.emptied: list[asyncio.Future[None]] = []
        self.connected: list[asyncio.Future[None]] = []
        self.conn: Connection | None = None
        self.dialing = False
        self.incoming: asyncio.Event | None = None
        self.demand = asyncio.Event()
        self.maintained = False

    def __repr__(self) -> str:
        return f"<Peer {self.name} {self.host}:{self.port}>"

    def put_nowait(self, item: _Out | _Tell) -> None:
        outbox = self.outbox
        if len(outbox) >= self.capacity:
            overflow = self.node.config.overflow
            if overflow is Overflow.FAIL:
                raise SendBufferFull(f"node {self.name}", self.capacity)
            if overflow is Overflow.DROP_NEWEST:
                self.node._drop(item, "send buffer full: dropped newest")
                return
            self.node._drop(outbox.popleft(), "send buffer full: dropped oldest")
        self.append(item)

    def append(self, item: _Out | _Tell) -> None:
        """Queue ``item`` (the caller made sure there is room) and get it sent."""
        self.outbox.append(item)
        conn = self.conn
        if conn is not None:
            conn.notify()
        else:
            self.want()

    async def put(self, item: _Out | _Tell) -> None:
        outbox = self.outbox
        loop = asyncio.get_running_loop()
        future = item.future if isinstance(item, _Out) else None
        while len(outbox) >= self.capacity:
            room: asyncio.Future[None] = loop.create_future()
            self.putters.append(room)
            waits: set[asyncio.Future[Any]] = {room}
            if future is not None:
                waits.add(future)
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if room in self.putters:
                    self.putters.remove(room)
                elif room.done() and not room.cancelled() and len(outbox) < self.capacity:
                    self.room_freed()  # pass the room on
                if not room.done():
                    room.cancel()
            if future is not None and future.done():
                return  # timed out while waiting for room: never sent
            self.node._check_open()
        self.append(item)

    def room_freed(self) -> None:
        putters = self.putters
        room = self.capacity - len(self.outbox)
        while putters and room > 0:
            waiter = putters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                room -= 1
        if not self.outbox and self.emptied:
            emptied, self.emptied = self.emptied, []
            for waiter in emptied:
                if not waiter.done():
                    waiter.set_result(None)

    async def wait_connected(self) -> None:
        """Until a connection to this peer is adopted."""
        if self.conn is None:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.connected.append(waiter)
            await waiter

    def has_other_route(self) -> bool:
        """A connection exists or an incoming one is being set up."""
        return self.conn is not None or self.incoming is not None

    def want(self) -> None:
        """Ask the peer's connection task for a connection."""
        self.demand.set()
        if not self.maintained:
            self.maintained = True
            self.node._start(self.node._maintain, self)

    def fail_queued(self, error: Exception) -> None:
        outbox, self.outbox = self.outbox, deque()
        for item in outbox:
            if isinstance(item, _Out):
                if not item.future.done():
                    item.future.set_exception(error)
            else:
                self.node._drop(item, f"undeliverable: {error}")
        self.room_freed()
