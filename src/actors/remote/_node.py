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
"""

from __future__ import annotations

import asyncio
import itertools
import math
import struct
from collections import deque
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final, Self

import anyio
import msgspec
import structlog

from protocol import (
    DEFAULT_MAX_FRAME_SIZE,
    HANDSHAKE_MAX_FRAME_SIZE,
    Codec,
    EnvelopeCodec,
    FrameReader,
    Handshake,
    HandshakeError,
    Message,
    MessageKind,
    MessageTooLarge,
    RemoteFailure,
    RemoteProtocolError,
    check_name,
    cluster_key,
    encode_frame,
)

from .. import AskTimeout, Overflow, SystemNotRunning
from ..lowlevel import attach_remote, check_running, check_timeout, detach_remote
from ._address import Address, parse_address
from ._backoff import ReconnectBackoff
from ._connection import _STREAM_GONE, Connection
from ._deadlines import Deadlines, clock_reader
from ._errors import HandshakeTimeout, InvalidAddress, NodeUnreachable, SendBufferFull
from ._incoming import IncomingDecoder
from ._ref import RemoteRef, not_a_message
from ._transport import TcpTransport

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from anyio.abc import ByteStream, TaskGroup

    from .. import ActorRef, ActorSystem
    from ._transport import Transport, TransportListener

__all__ = ["RemoteConfig", "RemoteNode", "RemoteStatistics"]

logger = structlog.get_logger(__name__)

_ENVELOPE_OVERHEAD: Final = 64
_SIMULTANEOUS: Final = "simultaneous_connect"
_TELL: Final = int(MessageKind.TELL)
_HEADER_SIZE: Final = 4
_pack_header: Final = struct.Struct(">I").pack_into
_unpack_header: Final = struct.Struct(">I").unpack_from
_INF: Final = math.inf


class RemoteConfig(msgspec.Struct, frozen=True):
    """Tunables of a :class:`RemoteNode`."""

    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    """Largest frame payload sent or accepted (bytes)."""
    send_buffer: int = 4096
    """Messages queued per peer before ``send``/``ask`` wait and ``tell`` applies ``overflow``."""
    overflow: Overflow = Overflow.FAIL
    """What ``tell`` does on a full send buffer: raise SendBufferFull, or drop newest/oldest."""
    handshake_timeout: float = 5.0
    """Seconds a peer has to complete TLS and the handshake before it is disconnected."""
    connect_timeout: float = 5.0
    """Seconds to wait for a TCP connection to open."""
    backoff: ReconnectBackoff = ReconnectBackoff()
    """Delays between failed dials of one peer."""
    batch_bytes: int = 256 * 1024
    """Bytes the writer gathers into one write, at most (a single larger frame still goes)."""
    max_inflight_asks: int = 10_000
    """Asks from one connection being answered at once before its reader waits."""
    include_traceback: bool = False
    """Send the traceback text of a failed ask to the asker.

    Off by default: the asker gets the exception's type name and message, and
    this node's file paths and source lines stay on this node. Turn it on
    between nodes that trust each other, to debug.
    """
    flush_timeout: float = 2.0
    """Seconds the node waits, on exit, for its send buffers to drain."""
    max_handshakes: int = 64
    """Accepted connections not yet authenticated (in TLS or the handshake) at once;
    one more is closed at once, counted as ``TooManyHandshakes``."""

    def __post_init__(self) -> None:
        for field in ("handshake_timeout", "connect_timeout", "flush_timeout"):
            _check_number(self, field, minimum=0.0, above=True)
        for field in (
            "max_frame_size",
            "send_buffer",
            "batch_bytes",
            "max_inflight_asks",
            "max_handshakes",
        ):
            _check_number(self, field, minimum=1, integer=True)
        if not isinstance(self.overflow, Overflow):
            raise ValueError(
                f"invalid remote config: RemoteConfig.overflow is {self.overflow!r}, "
                "not an Overflow"
            )


def _check_number(
    config: object, field: str, *, minimum: float, above: bool = False, integer: bool = False
) -> None:
    """Raise ValueError naming ``field`` unless it is a finite number >= (or >) ``minimum``."""
    value = getattr(config, field)
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not (integer and isinstance(value, float))
        and math.isfinite(value)
        and (value > minimum if above else value >= minimum)
    )
    if not ok:
        bound = f"> {minimum}" if above else f">= {minimum}"
        kind = "an integer" if integer else "a finite number"
        raise ValueError(
            f"invalid remote config: {type(config).__name__}.{field} is {value!r}, "
            f"expected {kind} {bound}"
        )


class RemoteStatistics(msgspec.Struct, frozen=True):
    """A snapshot of one node's transport."""

    node: str
    address: str
    peers: int
    connections: int
    connections_opened: int
    connections_closed: int
    connections_accepted: int
    connect_failures: int
    messages_sent: int
    messages_received: int
    bytes_sent: int
    bytes_received: int
    writes: int
    send_buffered: int
    asks_pending: int
    asks_in_flight: int
    asks_expired: int
    late_answers: int
    dropped: int
    close_reasons: dict[str, int]
    """Connections closed for bad input or failed handshakes, by reason (error class name)."""
    asks_cancelled: int = 0
    """Asks from peers withdrawn before they were answered: the asker sent ``CANCEL``
    (it timed out or was cancelled) or the connection ended."""
    messages_refused: dict[str, int] = msgspec.field(default_factory=dict)
    """Messages from peers refused alone, their connection kept, by reason (error
    class name): an unknown tag or fields that do not validate. A refused ask was
    answered with the error, a refused tell became a dead letter."""
    handshakes: int = 0
    """Accepted connections not authenticated yet (see ``RemoteConfig.max_handshakes``)."""
    tells_unsent: int = 0
    """Tells accepted for a peer and dead-lettered because their connection ended
    before they were handed to the transport (see "What is lost on a cut" in the
    remote docs)."""


class _Counters:
    __slots__ = (
        "asks_cancelled",
        "asks_expired",
        "bytes_received",
        "bytes_sent",
        "connect_failures",
        "connections_accepted",
        "connections_closed",
        "connections_opened",
        "dropped",
        "late_answers",
        "messages_received",
        "messages_sent",
        "tells_unsent",
        "writes",
    )

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)

    asks_cancelled: int
    asks_expired: int
    bytes_received: int
    bytes_sent: int
    connect_failures: int
    connections_accepted: int
    connections_closed: int
    connections_opened: int
    dropped: int
    late_answers: int
    messages_received: int
    messages_sent: int
    tells_unsent: int
    writes: int


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
    conn: Connection | None = None

    def expire(self) -> None:
        """Timer callback: the asker's time is up."""
        future = self.future
        if not future.done():
            kind = type(self.message).__qualname__
            future.set_exception(AskTimeout(self.label, kind, self.timeout or 0.0))


class _Refused(Exception):
    """The acceptor refuses a connection (simultaneous dial, self-connection)."""


class _Aborted(Exception):
    """The peer hung up during the handshake."""


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


class RemoteNode:
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
        self._codec = Codec()
        self._envelopes = EnvelopeCodec(self._codec)
        # Encodes outgoing envelopes as plain tuples (same msgpack array as an
        # Envelope) with the message inline: one encoder call, no Raw, no Envelope.
        self._wire = msgspec.msgpack.Encoder()
        self._scratch = bytearray(_HEADER_SIZE)  # reused to frame each tell
        self._incoming = IncomingDecoder()
        self._counters = _Counters()
        self._close_reasons: dict[str, int] = {}
        self._refused: dict[str, int] = {}
        self._handshakes = 0  # accepted connections not authenticated yet
        self._peers: dict[str, _Peer] = {}
        self._conns: set[Connection] = set()
        self._services: dict[str, Callable[[Message, str], Message | None]] = {}
        self._cids = itertools.count(1)
        self._tg: TaskGroup | None = None
        self._listener: TransportListener | None = None
        self._bound: tuple[str, int] | None = None
        self._open = False
        # From entry on: the running loop, what reads the clock, the asks' timeouts.
        self._loop: asyncio.AbstractEventLoop
        self._now: Callable[[], float]
        self._deadlines: Deadlines
        self.accepting = True
        self._inflight = 0
        self._idle: asyncio.Event | None = None

    # -- lifetime --------------------------------------------------------------

    async def __aenter__(self) -> Self:
        check_running(self.system)
        tg = anyio.create_task_group()
        await tg.__aenter__()
        try:
            listener = await self.transport.listen(self._host, self._port)
        except BaseException as exc:
            await tg.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self._tg = tg
        self._listener = listener
        self._bound = listener.address
        self._open = True
        self._loop = loop = asyncio.get_running_loop()
        self._now = clock_reader(self.system.clock, loop)
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
        :class:`OSError`, :class:`TimeoutError` or a handshake error.
        """
        self._check_open()
        for peer in self._peers.values():
            if peer.host == host and peer.port == port and peer.conn is not None:
                return peer.name
        name, stream, reader = await self._dial(host, port, None)
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
        self._services[path] = handler

    # -- sending ---------------------------------------------------------------

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
        scratch = self._scratch
        self._wire.encode_into((_TELL, target, message), scratch, 4)
        size = len(scratch) - _HEADER_SIZE
        if size > self.config.max_frame_size:
            raise MessageTooLarge(size, self.config.max_frame_size)
        _pack_header(scratch, 0, size)
        return bytes(scratch)

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
        if timeout is not None and (type(timeout) is not float or not 0.0 < timeout < _INF):
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
            conn = item.conn
            if conn is not None and conn.sent.pop(item.cid, None) is not None:
                # Sent and not answered: it timed out or this task was cancelled.
                # Withdraw it, so the peer does not deliver it if it has not yet.
                conn.cancel_ask(item)

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
        view = memoryview(data)
        end = len(data)
        at = 0
        count = 0
        while at + _HEADER_SIZE <= end:
            size = _unpack_header(view, at)[0]
            frame = bytes(view[at + _HEADER_SIZE : at + _HEADER_SIZE + size])
            at += _HEADER_SIZE + size
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
        view.release()
        if count:
            self._counters.tells_unsent += count
            logger.warning("tells_unsent", node=self.name, peer=peer.name, count=count)

    def _reject_item(self, item: _Out, error: Exception) -> None:
        if item.conn is not None:
            item.conn.sent.pop(item.cid, None)
        if not item.future.done():
            item.future.set_exception(error)

    def _describe(self, exc: BaseException) -> RemoteFailure:
        return RemoteFailure.from_exception(exc, include_traceback=self.config.include_traceback)

    async def flush(self) -> None:
        """Wait until every send buffer with a connection is empty."""
        loop = asyncio.get_running_loop()
        for peer in list(self._peers.values()):
            if peer.outbox and peer.conn is not None:
                waiter: asyncio.Future[None] = loop.create_future()
                peer.emptied.append(waiter)
                await waiter

    # -- draining --------------------------------------------------------------

    def _inflight_finished(self) -> None:
        self._inflight -= 1
        if not self._inflight and self._idle is not None:
            self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """Stop accepting work from peers and wait up to ``timeout`` seconds for the
        asks being answered to finish. Returns whether they all did.

        From now on, tells from peers go to dead letters and asks are answered
        with :class:`~actors.ActorStopped`; cluster services keep working.
        """
        self.accepting = False
        with anyio.move_on_after(timeout):
            while self._inflight:
                self._idle = asyncio.Event()
                await self._idle.wait()
        self._idle = None
        return self._inflight == 0

    # -- connections -----------------------------------------------------------

    def _peer(self, name: str, host: str | None, port: int | None) -> _Peer:
        peer = self._peers.get(name)
        if peer is None:
            peer = self._peers[name] = _Peer(self, name, host, port)
        elif host is not None:
            peer.host, peer.port = host, port
        return peer

    def _count_close(self, reason: str) -> None:
        self._close_reasons[reason] = self._close_reasons.get(reason, 0) + 1

    def _count_refused(self, error: Exception) -> None:
        reason = type(error).__name__
        self._refused[reason] = self._refused.get(reason, 0) + 1

    async def _accept(self, raw: ByteStream) -> None:
        self._counters.connections_accepted += 1
        if self._handshakes >= self.config.max_handshakes:
            # Unauthenticated connections cost memory and a task each: bounded.
            self._count_close("TooManyHandshakes")
            logger.warning(
                "connection_rejected",
                node=self.name,
                peer=None,
                reason="TooManyHandshakes",
                error=f"{self._handshakes} connections are already in their handshake",
            )
            await anyio.aclose_forcefully(raw)
            return
        stream = raw
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
            self._rejected(type(exc).__name__, exc, seen)
            await anyio.aclose_forcefully(stream)
            return
        except _Refused as exc:
            logger.info("connection_refused", node=self.name, reason=str(exc))
            # Tell the dialler why, so it waits for our connection instead of failing.
            reject = msgspec.msgpack.encode(["tadpole.reject", _SIMULTANEOUS, str(exc)[:1024]])
            with suppress(*_STREAM_GONE), anyio.move_on_after(1.0):
                await stream.send(encode_frame(reject))
            await anyio.aclose_forcefully(stream)
            return
        except (_Aborted, anyio.EndOfStream, *_STREAM_GONE) as exc:
            self._rejected("HandshakeAborted", exc, seen)
            await anyio.aclose_forcefully(stream)
            return
        except Exception as exc:  # a bug; still, no peer's bytes may end the node
            logger.error("handshake_failed", node=self.name, error=repr(exc))
            self._rejected("internal_error", exc, seen)
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

    def _rejected(self, reason: str, exc: BaseException, seen: list[_Peer]) -> None:
        self._count_close(reason)
        peer = seen[0].name if seen else None
        logger.warning(
            "connection_rejected", node=self.name, peer=peer, reason=reason, error=str(exc)
        )
        self._abandon(seen)

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
                await stream.send(b"".join(encode_frame(p) for p in out))

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
                peer = self._check_hello(_hello_name(frame))
                if seen is not None and peer is not None:
                    seen.append(peer)
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
            raise _Refused(f"a node named {name!r} dialled itself")
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
        conn = Connection(self, peer, stream, reader, initiator=initiator)
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
        self._counters.connections_opened += 1
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
        self._counters.connections_closed += 1
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
                self._counters.connect_failures += 1
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
            asks_in_flight=self._inflight,
            asks_expired=c.asks_expired,
            late_answers=c.late_answers,
            dropped=c.dropped,
            close_reasons=dict(self._close_reasons),
            asks_cancelled=c.asks_cancelled,
            messages_refused=dict(self._refused),
            handshakes=self._handshakes,
            tells_unsent=c.tells_unsent,
        )

    def __repr__(self) -> str:
        where = self.address if self._bound is not None else "not listening"
        return f"RemoteNode({self.name!r}, {where})"


def _hello_name(frame: bytes) -> str:
    """The node name in a Hello the handshake has just accepted as valid."""
    # Any: a msgpack array already validated by Handshake.receive.
    hello: Any = msgspec.msgpack.decode(frame)
    name: str = hello[3]
    return name
