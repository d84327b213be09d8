"""``RemoteNode``: this system's presence on the network.

A node listens through a :class:`~actors.remote.Transport`, keeps at most one
connection per peer node (reused in both directions), and turns addresses
into :class:`~actors.remote.RemoteRef` objects. It is an async context manager
and owns every task it runs: the listener, one connection task per peer, and
the tasks answering asks that peers sent.

Per peer there is one bounded **send buffer** (``RemoteConfig.send_buffer``
messages). While the peer is connected and the buffer is empty, a message
skips it and is encoded straight into the connection's write buffer (a full
batch there is written at once if the transport takes it). Otherwise ``tell``
queues without waiting and applies the overflow policy when the buffer is
full, ``ask`` queues or waits for room, and ``send`` on a connection whose
transport is full waits for it to drain. The connection's writer empties the
buffer in batches, one write per batch, so messages from one sender to one
actor leave, and arrive, in order.

When two nodes dial each other at once, the acceptor keeps its own dial if
its name sorts first and refuses the other; so both sides end up using the
same single connection. A lost connection fails the asks it carried with
:class:`~actors.remote.ConnectionLost`, and dead-letters the tells it had
not handed to the kernel yet (see :meth:`RemoteNode._dead_letter_unsent`);
messages still in the buffer wait for
the next connection, which is dialled with exponential backoff (jitter drawn
from the system's seeded rng, delays slept on the system's clock). A dial
that fails fails the asks waiting in the buffer with
:class:`~actors.remote.NodeUnreachable` and dead-letters its tells.

This module is the facade: the node's lifetime, refs and statistics. Its parts
live in their own modules: settings and counts (``_config.py``), the per-peer
send buffer (``_peer.py``), sending (``_sending.py``), dialling and accepting
(``_dial.py``), what its connections see of it (``_link.py``), and the
connection itself (``_connection.py`` and its parts).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, Any, Self

import anyio
import structlog

from protocol import (
    HandshakeError,
    Message,
    check_name,
    cluster_key,
)
from protocol.wire import TellFramer

from .. import SystemNotRunning
from ..lowlevel import Deadlines, attach_remote, check_running, clock_reader, detach_remote
from ._address import Address, parse_address
from ._config import RemoteConfig, RemoteStatistics
from ._dial import DUPLICATE_NAME, Dialling
from ._errors import InvalidAddress, NodeNameConflict, NodeUnreachable
from ._link import Link
from ._peer import _Peer as _Peer  # RemoteRef's type hints name it here
from ._ref import RemoteRef
from ._sending import Sending
from ._transport import TcpTransport

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from types import TracebackType

    from anyio.abc import TaskGroup

    from .. import ActorRef, ActorSystem
    from ._connection import Connection
    from ._transport import Transport, TransportListener

__all__ = ["RemoteConfig", "RemoteNode", "RemoteStatistics"]

logger = structlog.get_logger(__name__)


class RemoteNode(Sending, Dialling):
    """This actor system's endpoint on the network; an async context manager.

    ``name`` (default: the system's name) is what the node proves in the
    handshake, ``cluster`` and ``secret`` must match the peers'. ``host`` and
    ``port`` are where to listen (port 0 picks a free one; see :attr:`address`).
    ``advertise_host`` is the host peers should dial when ``host`` is a
    wildcard such as ``0.0.0.0``.

    The HMAC key is ``secret`` (a ``str`` as UTF-8) stripped of surrounding
    whitespace; a secret under 128 bits of material raises
    :class:`~protocol.WeakSecret` (the rule: :func:`protocol.cluster_key`). A
    node or cluster name that is empty or over 255 characters, or a node name
    with ``@``, ``/`` or spaces, raises ``ValueError``.
    """

    def __init__(
        self,
        system: ActorSystem,
        *,
        secret: bytes | str,
        name: str | None = None,
        cluster: str = "tadpole",
        host: str = "127.0.0.1",
        port: int = 0,
        advertise_host: str | None = None,
        transport: Transport | None = None,
        config: RemoteConfig | None = None,
    ) -> None:
        self.system = system
        self.name = check_name("node", name if name is not None else system.name)
        if any(c in "@/" or c.isspace() for c in self.name):
            raise ValueError(f"node name must not contain '@', '/' or spaces: {self.name!r}")
        self.cluster = check_name("cluster", cluster)
        self._secret = cluster_key(secret)  # stripped, and refused under 128 bits: WeakSecret
        self.transport: Transport = transport if transport is not None else TcpTransport()
        self.config = config if config is not None else RemoteConfig()
        self._host = host
        self._port = port
        self._advertise = advertise_host
        self._link = link = Link(
            self.name,
            system,
            self.config,
            detach=self._detach,
            dead_letter_unsent=self._dead_letter_unsent,
            reject_item=self._reject_item,
        )
        self._codec = link.envelopes.codec
        self._envelopes = link.envelopes
        self._framer = TellFramer(max_frame_size=self.config.max_frame_size)
        self._counters = link.counters
        self._handshakes = 0  # accepted connections not authenticated yet
        self._reject_log: dict[tuple[str, str], tuple[float, int]] = {}
        self._same_name_refused = 0  # hellos refused for claiming this node's name
        self._admission: Callable[[str], Awaitable[str | None]] | None = None
        self._peers: dict[str, _Peer] = {}
        self._conns: set[Connection] = set()
        self._cids = itertools.count(1)
        self._tg: TaskGroup | None = None
        self._listener: TransportListener | None = None
        self._bound: tuple[str, int] | None = None
        self._open = False
        # From entry on: the running loop, what reads the clock, the asks' timeouts.
        self._loop: asyncio.AbstractEventLoop
        self._now: Callable[[], float]
        self._deadlines: Deadlines

    @property
    def accepting(self) -> bool:
        """Whether messages from peers are delivered (``False`` once it drains or stops)."""
        return self._link.accepting

    @accepting.setter
    def accepting(self, value: bool) -> None:
        self._link.accepting = value

    # -- lifetime --------------------------------------------------------------

    async def __aenter__(self) -> Self:
        check_running(self.system)
        # Listen before the task group exists, so that an address in use or
        # unresolvable is the transport's own OSError, not a group wrapping it.
        listener = await self.transport.listen(self._host, self._port)
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        self._listener = listener
        self._bound = listener.address
        self._open = True
        self._loop = loop = asyncio.get_running_loop()
        self._now = self._link.now = clock_reader(self.system.clock, loop)
        self._deadlines = Deadlines(self.system.clock, self._now)
        tg.start_soon(listener.serve, self._accept)
        attach_remote(self.system, self)
        logger.info("node_listening", node=self.name, address=self.address, cluster=self.cluster)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        tg = self._tg
        if tg is None:
            return None
        self.accepting = False
        try:
            if exc_type is None:
                with anyio.move_on_after(self.config.flush_timeout):
                    await self.flush()
        finally:
            self._open = False
            detach_remote(self.system, self)
            for peer in self._peers.values():
                peer.fail_queued(NodeUnreachable(peer.name, f"node {self.name} stopped"))
            for conn in list(self._conns):
                conn.close("node_stopped")
            self._deadlines.close()
            tg.cancel_scope.cancel()
            self._tg = None
            try:
                result = await tg.__aexit__(exc_type, exc, tb)
            finally:
                listener, self._listener = self._listener, None
                if listener is not None:
                    with anyio.CancelScope(shield=True):
                        await listener.aclose()
                logger.info("node_stopped", node=self.name)
        return result

    def _start(self, func: Callable[..., Any], *args: Any) -> None:
        if self._tg is None:
            raise SystemNotRunning(f"node {self.name} is not running (use `async with`)")
        self._tg.start_soon(func, *args)

    def _check_open(self) -> None:
        if not self._open:
            raise SystemNotRunning(f"node {self.name} is not running")

    @property
    def address(self) -> str:
        """``tadpole://name@host:port``: where peers reach this node."""
        if self._bound is None:
            raise SystemNotRunning(f"node {self.name} is not listening yet")
        host = self._advertise or self._bound[0]
        return str(Address(self.name, host, self._bound[1]))

    @property
    def listen_address(self) -> tuple[str, int]:
        """The bound ``(host, port)``."""
        if self._bound is None:
            raise SystemNotRunning(f"node {self.name} is not listening yet")
        return self._bound

    # -- refs ------------------------------------------------------------------

    def ref(self, address: str | Address) -> ActorRef[Any]:
        """A ref to the actor at ``address`` (``tadpole://node@host:port/user/x``).

        An address of this node resolves to the local ref
        (:class:`~actors.ActorNotFound` if no actor lives there).
        """
        addr = parse_address(address) if isinstance(address, str) else address
        if not addr.path:
            raise InvalidAddress(str(address), "no actor path")
        if addr.node == self.name:
            return self.system.lookup(addr.path)
        if addr.host is None or addr.port is None:
            raise InvalidAddress(str(address), "a remote address needs @HOST:PORT")
        return RemoteRef(self, self._peer(addr.node, addr.host, addr.port), addr)

    def address_of(self, ref: ActorRef[Any]) -> str:
        """The full network address of ``ref`` (a local ref gets this node's address)."""
        if isinstance(ref, RemoteRef):
            return ref.address
        return self.address + ref.path

    async def contact(self, host: str, port: int) -> str:
        """Connect to whatever node listens at ``host:port``; returns its name.

        For seeds, whose names are not known in advance. Raises
        :class:`OSError`, :class:`TimeoutError`, a handshake error, or
        :class:`~actors.remote.NodeNameConflict` when the node there has this
        node's name or refuses it (another node alive under it, see
        :meth:`set_admission`).
        """
        self._check_open()
        for peer in self._peers.values():
            if peer.host == host and peer.port == port and peer.conn is not None:
                return peer.name
        refused = self._same_name_refused
        try:
            name, stream, reader = await self._dial(host, port, None)
        except HandshakeError as exc:
            text = str(exc)
            if f"({DUPLICATE_NAME})" in text:
                # If this node's own listener refused a hello of its name meanwhile,
                # the dial reached this node itself.
                itself = self._same_name_refused > refused
                detail = text.partition(f"({DUPLICATE_NAME}): ")[2]
                raise NodeNameConflict(
                    self.name, host, port, itself=itself, detail=detail
                ) from None
            raise
        peer = self._peer(name, host, port)
        if peer.conn is not None:
            await anyio.aclose_forcefully(stream)
            return name
        conn = self._adopt(peer, stream, reader, initiator=True)
        self._start(conn.run)
        return name

    def peers(self) -> dict[str, bool]:
        """Known peer names, each with whether a connection is open."""
        return {name: peer.conn is not None for name, peer in self._peers.items()}

    def set_admission(self, check: Callable[[str], Awaitable[str | None]] | None) -> None:
        """Await ``check(name)`` before a connection from ``name`` replaces its open one.

        ``check`` returns why the newcomer is refused (the name's owner is
        alive on the open connection: the newcomer is a second node under its
        name), or ``None`` to let it replace the old connection (a reconnect,
        a restarted node). It runs in the acceptor's handshake, after the
        newcomer proved the secret and before the ``Accept``; one that takes
        half ``RemoteConfig.handshake_timeout`` admits. The dialler's handshake
        fails with the reason ``duplicate_name`` and the returned text.
        ``None`` removes the check.
        """
        self._admission = check

    def register_service(
        self, path: str, handler: Callable[[Message, str], Message | None]
    ) -> None:
        """Handle messages to ``path`` (a ``/system/...`` path) with ``handler(message, peer)``.

        For the runtime's own protocols (cluster membership): the handler runs
        on the connection's reader, must not block, and its return value
        answers an ask.
        """
        if not path.startswith("/system/"):
            raise ValueError(f"service paths live under /system/, got {path!r}")
        self._link.services[path] = handler

    async def flush(self) -> None:
        """Wait until every send buffer with a connection is empty."""
        loop = asyncio.get_running_loop()
        for peer in list(self._peers.values()):
            if peer.outbox and peer.conn is not None:
                waiter: asyncio.Future[None] = loop.create_future()
                peer.emptied.append(waiter)
                await waiter

    # -- draining --------------------------------------------------------------

    async def drain(self, timeout: float) -> bool:
        """Stop accepting work from peers and wait up to ``timeout`` seconds for the
        asks being answered to finish. Returns whether they all did.

        From now on, tells from peers go to dead letters and asks are answered
        with :class:`~actors.ActorStopped`; cluster services keep working.
        """
        self.accepting = False
        link = self._link
        with anyio.move_on_after(timeout):
            while link.inflight:
                link.idle = asyncio.Event()
                await link.idle.wait()
        link.idle = None
        return link.inflight == 0

    # -- connections -----------------------------------------------------------

    def _peer(self, name: str, host: str | None, port: int | None) -> _Peer:
        peer = self._peers.get(name)
        if peer is None:
            peer = self._peers[name] = _Peer(self, name, host, port)
        elif host is not None:
            peer.host, peer.port = host, port
        return peer

    # -- introspection ---------------------------------------------------------

    def statistics(self) -> RemoteStatistics:
        c = self._counters
        return RemoteStatistics(
            node=self.name,
            address=self.address if self._bound is not None else "",
            peers=len(self._peers),
            connections=len(self._conns),
            connections_opened=c.connections_opened,
            connections_closed=c.connections_closed,
            connections_accepted=c.connections_accepted,
            connect_failures=c.connect_failures,
            messages_sent=c.messages_sent,
            messages_received=c.messages_received,
            bytes_sent=c.bytes_sent,
            bytes_received=c.bytes_received,
            writes=c.writes,
            send_buffered=sum(len(p.outbox) for p in self._peers.values()),
            asks_pending=sum(len(conn.sent) for conn in self._conns),
            asks_in_flight=self._link.inflight,
            asks_expired=c.asks_expired,
            late_answers=c.late_answers,
            dropped=c.dropped,
            close_reasons=dict(self._link.close_reasons),
            asks_cancelled=c.asks_cancelled,
            messages_refused=dict(self._link.refused),
            handshakes=self._handshakes,
            tells_unsent=c.tells_unsent,
            tells_undelivered=c.tells_undelivered,
        )

    def __repr__(self) -> str:
        where = self.address if self._bound is not None else "not listening"
        return f"RemoteNode({self.name!r}, {where})"
