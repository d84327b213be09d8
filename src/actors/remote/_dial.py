"""Dialling and accepting: the handshake, simultaneous dials, redialling with backoff.

:class:`Dialling` is the part of :class:`~actors.remote.RemoteNode` that turns
streams into authenticated connections. The acceptor of two simultaneous
dials keeps its own if its name sorts first and refuses the other with a
``Reject`` saying so, so that both sides end up on one connection. A node
refuses a peer that claims its own name with the reason ``duplicate_name``
(:class:`~actors.remote.NodeNameConflict` at :meth:`RemoteNode.contact`). A
newcomer authenticated under a name that has an open connection replaces it
(a reconnect, a restarted node), unless the node's admission check
(:meth:`RemoteNode.set_admission`; the cluster's check asks the member over the open
connection) finds the name's owner alive there: then the acceptor sends
``duplicate_name`` instead of its ``Accept``, and the connection of the node
impersonated is never touched. A
refused or failed incoming handshake is logged as ``connection_rejected`` at
warning at most once a minute per peer host and reason (``suppressed``
counts the ones not logged in between), at debug otherwise. A peer
with messages waiting and no connection is dialled by its own task
(:meth:`Dialling._maintain`) with exponential backoff; a failed dial fails the
asks waiting for it and dead-letters its tells.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final

import anyio
import structlog
from anyio.abc import SocketAttribute

from protocol import (
    HANDSHAKE_MAX_FRAME_SIZE,
    FrameReader,
    Handshake,
    HandshakeError,
    RemoteProtocolError,
    encode_frame,
)
from protocol.wire import encode_frames

from ._connection import _STREAM_GONE, Connection
from ._errors import HandshakeTimeout, NodeUnreachable

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from anyio.abc import ByteStream

    from .. import ActorSystem
    from ._config import RemoteConfig
    from ._link import Link
    from ._peer import _Peer
    from ._transport import Transport

__all__ = ["Dialling"]

logger = structlog.get_logger(__name__)

_SIMULTANEOUS: Final = "simultaneous_connect"
DUPLICATE_NAME: Final = "duplicate_name"
"""The reject reason of a node refusing a peer that claims its own name."""
_REJECT_LOG_PERIOD: Final = 60.0
"""Seconds between two ``connection_rejected`` warnings for one peer host and reason."""
_REJECT_LOG_KEYS: Final = 1024
"""Peer hosts and reasons remembered for the rate limit (the oldest are forgotten)."""


class _Refused(Exception):
    """The acceptor refuses a connection (simultaneous dial, self-connection)."""

    def __init__(self, message: str, reason: str = _SIMULTANEOUS) -> None:
        super().__init__(message)
        self.reason = reason


class _Aborted(Exception):
    """The peer hung up during the handshake."""


class Dialling:
    """Accepting, dialling and adopting connections (a part of ``RemoteNode``)."""

    # Provided by RemoteNode.
    name: str
    cluster: str
    system: ActorSystem
    config: RemoteConfig
    transport: Transport
    _secret: bytes
    _link: Link
    _peers: dict[str, _Peer]
    _conns: set[Connection]
    _handshakes: int
    _open: bool
    _reject_log: dict[tuple[str, str], tuple[float, int]]
    _same_name_refused: int
    _admission: Callable[[str], Awaitable[str | None]] | None

    if TYPE_CHECKING:

        def _peer(self, name: str, host: str | None, port: int | None) -> _Peer: ...

        def _start(self, func: Callable[..., Any], *args: Any) -> None: ...

    async def _accept(self, raw: ByteStream) -> None:
        self._link.counters.connections_accepted += 1
        if self._handshakes >= self.config.max_handshakes:
            # Unauthenticated connections cost memory and a task each: bounded.
            self._link.count_close("TooManyHandshakes")
            self._log_rejected(
                _peer_host(raw),
                "TooManyHandshakes",
                None,
                f"{self._handshakes} connections are already in their handshake",
            )
            await anyio.aclose_forcefully(raw)
            return
        stream = raw
        host = _peer_host(raw)
        seen: list[_Peer] = []
        self._handshakes += 1
        try:
            try:
                with anyio.fail_after(self.config.handshake_timeout):
                    stream = await self.transport.secure(raw)
                    name, reader = await self._handshake(stream, initiator=False, seen=seen)
            except TimeoutError:
                raise HandshakeTimeout(
                    f"no complete handshake within {self.config.handshake_timeout:g}s"
                ) from None
            # Authenticated: only now does the node keep anything about the peer.
            peer = self._peer(name, None, None)
        except (HandshakeTimeout, RemoteProtocolError) as exc:
            self._rejected(host, type(exc).__name__, exc, seen)
            await anyio.aclose_forcefully(stream)
            return
        except _Refused as exc:
            if exc.reason == _SIMULTANEOUS:
                logger.info("connection_refused", node=self.name, reason=str(exc))
            else:
                self._log_rejected(host, exc.reason, seen[0].name if seen else self.name, str(exc))
            self._abandon(seen)
            # Tell the dialler why, so it waits for our connection instead of failing.
            reject = Handshake.reject(exc.reason, str(exc))
            with suppress(*_STREAM_GONE), anyio.move_on_after(1.0):
                await stream.send(encode_frame(reject))
            await anyio.aclose_forcefully(stream)
            return
        except (_Aborted, anyio.EndOfStream, *_STREAM_GONE) as exc:
            self._rejected(host, "HandshakeAborted", exc, seen)
            await anyio.aclose_forcefully(stream)
            return
        except Exception as exc:  # a bug; still, no peer's bytes may end the node
            logger.error("handshake_failed", node=self.name, error=repr(exc))
            self._rejected(host, "internal_error", exc, seen)
            await anyio.aclose_forcefully(stream)
            return
        except BaseException:
            self._abandon(seen)
            await anyio.aclose_forcefully(stream)
            raise
        finally:
            self._handshakes -= 1
        conn = self._adopt(peer, stream, reader, initiator=False)
        await conn.run()

    def _rejected(self, host: str, reason: str, exc: BaseException, seen: list[_Peer]) -> None:
        self._link.count_close(reason)
        self._log_rejected(host, reason, seen[0].name if seen else None, str(exc))
        self._abandon(seen)

    def _log_rejected(self, host: str, reason: str, peer: str | None, error: str) -> None:
        """``connection_rejected`` at warning once per ``_REJECT_LOG_PERIOD`` per peer
        host and reason, at debug in between (a misconfigured peer retries often)."""
        now = self.system.clock.now()
        key = (host, reason)
        log = self._reject_log
        last = log.get(key)
        if last is not None and now - last[0] < _REJECT_LOG_PERIOD:
            log[key] = (last[0], last[1] + 1)
            logger.debug("connection_rejected", node=self.name, peer=peer, host=host, reason=reason)
            return
        suppressed = 0 if last is None else last[1]
        log.pop(key, None)
        if len(log) >= _REJECT_LOG_KEYS:
            del log[next(iter(log))]
        log[key] = (now, 0)
        logger.warning(
            "connection_rejected",
            node=self.name,
            peer=peer,
            host=host,
            reason=reason,
            error=error,
            suppressed=suppressed,
        )

    @staticmethod
    def _abandon(seen: list[_Peer]) -> None:
        """An incoming handshake failed: wake whoever waits for it."""
        for peer in seen:
            event, peer.incoming = peer.incoming, None
            if event is not None:
                event.set()

    async def _handshake(
        self, stream: ByteStream, *, initiator: bool, seen: list[_Peer] | None = None
    ) -> tuple[str, FrameReader]:
        factory = Handshake.initiator if initiator else Handshake.acceptor
        handshake = factory(node=self.name, cluster=self.cluster, secret=self._secret)
        # Handshake messages are small: until the peer is authenticated a header
        # announcing more is refused before its body is buffered.
        limit = self.config.max_frame_size
        reader = FrameReader(max_frame_size=min(limit, HANDSHAKE_MAX_FRAME_SIZE))

        async def flush() -> None:
            out = handshake.data_to_send()
            if out:
                await stream.send(encode_frames(out))

        await flush()
        first = True
        while not handshake.established:
            frame = reader.next_frame()
            if frame is None:
                try:
                    chunk = await stream.receive(65536)
                except anyio.EndOfStream:
                    reader.eof()
                    raise _Aborted("the peer closed the connection during the handshake") from None
                reader.feed(chunk)
                continue
            try:
                handshake.receive(frame)
            except HandshakeError:
                with suppress(*_STREAM_GONE):
                    await flush()
                raise
            if first and not initiator:
                first = False
                claimed = handshake.claimed_node
                assert claimed is not None  # the Hello it has just accepted
                peer = self._check_hello(claimed)
                if seen is not None and peer is not None:
                    seen.append(peer)
            if not initiator and handshake.peer_node is not None:  # established
                accept = handshake.data_to_send()  # held until the peer is admitted
                await self._admit(handshake.peer_node)
                await stream.send(encode_frames(accept))
            await flush()
        name = handshake.peer_node
        assert name is not None
        reader.max_frame_size = limit  # authenticated: the connection's own limit
        return name, reader

    def _check_hello(self, name: str) -> _Peer | None:
        """The acceptor knows who is dialling: refuse a self-connection or a losing
        simultaneous dial, else note the incoming connection on the peer, if this
        node knows it already. The name is not authenticated yet: nothing is kept
        about an unknown one (the peer record is made once the handshake holds)."""
        if name == self.name:
            self._same_name_refused += 1
            raise _Refused(
                f"node {name!r} refuses a peer of the same name (itself, or a duplicate name)",
                DUPLICATE_NAME,
            )
        peer = self._peers.get(name)
        if (
            peer is not None
            and self.name < name
            and (peer.dialing or (peer.conn is not None and peer.conn.initiator))
        ):
            raise _Refused(f"simultaneous connect with {name!r}: this node's dial wins")
        if peer is not None and peer.incoming is None:
            peer.incoming = asyncio.Event()
        return peer

    async def _admit(self, name: str) -> None:
        """Raise ``_Refused`` (``duplicate_name``) if ``name``, authenticated, has an
        open connection and the admission check finds its owner alive on it. A check
        that takes half the handshake timeout admits: the old connection is dead."""
        peer = self._peers.get(name)
        check = self._admission
        if peer is None or peer.conn is None or check is None:
            return
        refusal = None
        with anyio.move_on_after(self.config.handshake_timeout / 2):
            refusal = await check(name)
        if refusal is not None and peer.conn is not None:
            raise _Refused(refusal, DUPLICATE_NAME)

    async def _dial(
        self, host: str, port: int, expect: str | None
    ) -> tuple[str, ByteStream, FrameReader]:
        with anyio.fail_after(self.config.connect_timeout):
            stream = await self.transport.connect(host, port)
        try:
            with anyio.fail_after(self.config.handshake_timeout):
                name, reader = await self._handshake(stream, initiator=True)
            if expect is not None and name != expect:
                raise NodeUnreachable(expect, f"the node at {host}:{port} is {name!r}")
        except BaseException:
            await anyio.aclose_forcefully(stream)
            raise
        return name, stream, reader

    def _adopt(
        self, peer: _Peer, stream: ByteStream, reader: FrameReader, *, initiator: bool
    ) -> Connection:
        conn = Connection(self._link, peer, stream, reader, initiator=initiator)
        old, peer.conn = peer.conn, conn
        if not initiator and peer.incoming is not None:
            event, peer.incoming = peer.incoming, None
            event.set()
        if old is not None:
            old.close("replaced")
        waiters, peer.connected = peer.connected, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._conns.add(conn)
        self._link.counters.connections_opened += 1
        logger.info(
            "connection_opened",
            node=self.name,
            peer=peer.name,
            direction="out" if initiator else "in",
        )
        if peer.outbox:
            conn.notify()
        return conn

    def _detach(self, conn: Connection) -> None:
        self._conns.discard(conn)
        self._link.counters.connections_closed += 1
        peer = conn.peer
        logger.info("connection_closed", node=self.name, peer=peer.name, reason=conn.reason)
        if peer.conn is conn:
            peer.conn = None
            if peer.outbox and self._open:
                peer.want()

    async def _maintain(self, peer: _Peer) -> None:
        """Dial ``peer`` whenever messages wait for it and no connection exists."""
        attempt = 0
        clock = self.system.clock
        config = self.config
        while True:
            await peer.demand.wait()
            peer.demand.clear()
            if peer.conn is not None or not peer.outbox:
                continue
            if peer.incoming is not None:
                with anyio.move_on_after(config.handshake_timeout):
                    await peer.incoming.wait()
                peer.incoming = None
                peer.demand.set()
                continue
            if peer.host is None or peer.port is None:
                peer.fail_queued(NodeUnreachable(peer.name, "no address known for it"))
                continue
            peer.dialing = True
            try:
                _, stream, reader = await self._dial(peer.host, peer.port, peer.name)
            except (
                OSError,
                TimeoutError,
                RemoteProtocolError,
                NodeUnreachable,
                _Aborted,
                anyio.EndOfStream,
                *_STREAM_GONE,
            ) as exc:
                peer.dialing = False
                if isinstance(exc, HandshakeError) and f"({_SIMULTANEOUS})" in str(exc):
                    # The peer is dialling us at the same moment and its dial wins.
                    with anyio.move_on_after(config.handshake_timeout):
                        await peer.wait_connected()
                    peer.demand.set()
                    continue
                if peer.has_other_route():
                    peer.demand.set()
                    continue
                attempt += 1
                self._link.counters.connect_failures += 1
                delay = config.backoff.delay(attempt, self.system.random)
                logger.warning(
                    "connect_failed",
                    node=self.name,
                    peer=peer.name,
                    attempt=attempt,
                    retry_in=round(delay, 3),
                    error=repr(exc),
                )
                peer.fail_queued(NodeUnreachable(peer.name, repr(exc)))
                await clock.sleep(delay)
                if peer.outbox:
                    peer.demand.set()
                continue
            finally:
                peer.dialing = False
            attempt = 0
            conn = self._adopt(peer, stream, reader, initiator=True)
            await conn.run()


def _peer_host(stream: ByteStream) -> str:
    """The remote host of an accepted stream (``"?"`` where the transport has none)."""
    try:
        address = stream.extra(SocketAttribute.remote_address, None)
    except Exception:  # a transport whose extras misbehave: the key is only for logs
        return "?"
    if isinstance(address, tuple) and address:
        return str(address[0])
    return "?" if address is None else str(address)
