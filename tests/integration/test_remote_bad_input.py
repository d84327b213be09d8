"""Bad input against a live node on 127.0.0.1: each case closes that connection with a
specific logged reason and a counter; the node keeps serving its other peers."""

from __future__ import annotations

import itertools
import struct
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
import pytest
from structlog.testing import capture_logs

from actors import ActorSystem
from actors.remote import RemoteConfig, RemoteNode
from protocol import (
    PROTOCOL_VERSION,
    Envelope,
    FrameReader,
    Handshake,
    MessageKind,
    encode_frame,
)
from tests.helpers import SECRET as TEXT_SECRET
from tests.helpers import WAIT, Echo, Ping, wait_until

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from anyio.abc import SocketStream

pytestmark = pytest.mark.anyio

SECRET = TEXT_SECRET.encode()
CLUSTER = "tadpole"
LIMIT = 64 * 1024
_names = itertools.count(1)


def client_name() -> str:
    """Each raw client is its own node (one name, one connection)."""
    return f"raw-client-{next(_names)}"


async def handshake(stream: SocketStream, secret: bytes = SECRET) -> FrameReader:
    """A correct initiator handshake over a raw stream; returns the reader for what follows."""
    hs = Handshake.initiator(node=client_name(), cluster=CLUSTER, secret=secret)
    reader = FrameReader()
    for payload in hs.data_to_send():
        await stream.send(encode_frame(payload))
    while not hs.established:
        reader.feed(await stream.receive())
        for frame in reader:
            hs.receive(frame)
            for payload in hs.data_to_send():
                await stream.send(encode_frame(payload))
            if hs.established:
                break
    return reader


async def read_until_closed(stream: SocketStream) -> None:
    """The node must close the connection: read until EOF (bounded)."""
    with anyio.fail_after(WAIT):
        try:
            while await stream.receive():
                pass
        except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionResetError):
            return


async def garbage_before_handshake(stream: SocketStream) -> None:
    await stream.send(encode_frame(b"\xc1\xc1 not msgpack at all"))
    await read_until_closed(stream)


async def garbage_after_handshake(stream: SocketStream) -> None:
    await handshake(stream)
    await stream.send(encode_frame(b"\x93\x01\x02 random junk"))
    await read_until_closed(stream)


async def oversized_frame(stream: SocketStream) -> None:
    await handshake(stream)
    await stream.send(struct.pack(">I", LIMIT + 1) + b"x" * 100)
    await read_until_closed(stream)


async def truncated_frame(stream: SocketStream) -> None:
    await handshake(stream)
    await stream.send(struct.pack(">I", 100) + b"only ten b")
    await stream.send_eof()
    await read_until_closed(stream)


async def unknown_message_tag(stream: SocketStream) -> None:
    await handshake(stream)
    payload = msgspec.msgpack.encode(["no.such.message.tag", 1, 2])
    envelope = Envelope.wrap(payload, kind=MessageKind.TELL, target="/user/echo")
    await stream.send(encode_frame(msgspec.msgpack.encode(envelope)))
    await read_until_closed(stream)


def run_frame(*elements: object, full: bool = False) -> bytes:
    """A ``TELLS`` frame to the echo actor holding ``elements`` as its messages:
    the three elements a node sends, or (``full``) all seven envelope fields."""
    if not full:
        return encode_frame(msgspec.msgpack.encode([MessageKind.TELLS, "/user/echo", elements]))
    payload = msgspec.msgpack.encode(list(elements))
    envelope = Envelope.wrap(payload, kind=MessageKind.TELLS, target="/user/echo")
    return encode_frame(msgspec.msgpack.encode(envelope))


async def unknown_message_tag_in_a_run(stream: SocketStream) -> None:
    await handshake(stream)
    await stream.send(run_frame(Ping(1), ["no.such.message.tag", 1], Ping(2), full=True))
    await read_until_closed(stream)


async def run_that_is_not_an_array(stream: SocketStream) -> None:
    await handshake(stream)
    envelope = Envelope.wrap(b"\xa3abc", kind=MessageKind.TELLS, target="/user/echo")
    await stream.send(encode_frame(msgspec.msgpack.encode(envelope)))
    await read_until_closed(stream)


async def wrong_protocol_version(stream: SocketStream) -> None:
    hello = ["tadpole.hello", PROTOCOL_VERSION + 98, CLUSTER, client_name(), bytes(32)]
    await stream.send(encode_frame(msgspec.msgpack.encode(hello)))
    await read_until_closed(stream)


async def failed_authentication(stream: SocketStream) -> None:
    """A proof forged without the secret."""
    hello = Handshake.initiator(node=client_name(), cluster=CLUSTER, secret=SECRET)
    await stream.send(encode_frame(hello.data_to_send()[0]))
    reader = FrameReader()
    with anyio.fail_after(WAIT):
        while reader.next_frame() is None:  # the node's Challenge
            reader.feed(await stream.receive())
    await stream.send(encode_frame(msgspec.msgpack.encode(["tadpole.proof", bytes(32)])))
    await read_until_closed(stream)


async def missing_authentication(stream: SocketStream) -> None:
    """Hello, then skip the proof and claim to be done."""
    hello = Handshake.initiator(node=client_name(), cluster=CLUSTER, secret=SECRET)
    await stream.send(encode_frame(hello.data_to_send()[0]))
    await stream.send(encode_frame(msgspec.msgpack.encode(["tadpole.accept"])))
    await read_until_closed(stream)


async def silent_peer(stream: SocketStream) -> None:
    await read_until_closed(stream)


CASES: list[tuple[Callable[[SocketStream], Awaitable[None]], str, str]] = [
    (garbage_before_handshake, "MalformedHandshake", "connection_rejected"),
    (garbage_after_handshake, "MalformedEnvelope", "connection_closed"),
    (oversized_frame, "FrameTooLarge", "connection_closed"),
    (truncated_frame, "TruncatedFrame", "connection_closed"),
    (unknown_message_tag, "UnknownMessageType", "connection_closed"),
    (unknown_message_tag_in_a_run, "UnknownMessageType", "connection_closed"),
    (run_that_is_not_an_array, "MalformedMessage", "connection_closed"),
    (wrong_protocol_version, "ProtocolVersionMismatch", "connection_rejected"),
    (failed_authentication, "AuthenticationFailed", "connection_rejected"),
    (missing_authentication, "UnexpectedHandshakeMessage", "connection_rejected"),
    (silent_peer, "HandshakeTimeout", "connection_rejected"),
]


@pytest.fixture
async def live() -> AsyncIterator[tuple[RemoteNode, RemoteNode]]:
    """A node under attack (with an echo actor) and a well-behaved peer already connected."""
    config = RemoteConfig(max_frame_size=LIMIT, handshake_timeout=0.5)
    async with AsyncExitStack() as stack:
        target_system = await stack.enter_async_context(ActorSystem("target"))
        peer_system = await stack.enter_async_context(ActorSystem("peer"))
        target = await stack.enter_async_context(
            RemoteNode(target_system, secret=SECRET, cluster=CLUSTER, config=config)
        )
        peer = await stack.enter_async_context(
            RemoteNode(peer_system, secret=SECRET, cluster=CLUSTER)
        )
        await target_system.spawn(Echo, name="echo")
        assert await peer.ref(f"{target.address}/user/echo").ask(Ping(0), timeout=WAIT) == Ping(0)
        yield target, peer


@pytest.mark.parametrize(("attack", "reason", "event"), CASES, ids=[c[1] for c in CASES])
async def test_bad_input_closes_only_that_connection_with_a_specific_reason(
    live: tuple[RemoteNode, RemoteNode],
    attack: Callable[[SocketStream], Awaitable[None]],
    reason: str,
    event: str,
) -> None:
    target, peer = live
    host, port = target.listen_address
    with capture_logs() as logs:
        async with await anyio.connect_tcp(host, port) as stream:
            await attack(stream)
        await wait_until(lambda: target.statistics().close_reasons.get(reason) == 1)
    assert target.statistics().close_reasons == {reason: 1}
    matching: list[dict[str, Any]] = [
        e for e in logs if e["event"] == event and e.get("reason") == reason
    ]
    assert matching, [e for e in logs if "reason" in e]
    assert matching[0]["log_level"] == "warning"
    # The node keeps serving: the connected peer, and a brand-new connection.
    echo = peer.ref(f"{target.address}/user/echo")
    assert await echo.ask(Ping(1), timeout=WAIT) == Ping(1)
    async with (
        ActorSystem("late") as late_system,
        RemoteNode(late_system, secret=SECRET, cluster=CLUSTER) as late,
    ):
        ref = late.ref(f"{target.address}/user/echo")
        assert await ref.ask(Ping(2), timeout=WAIT) == Ping(2)
    assert peer.statistics().connections_opened == 1


async def test_many_bad_peers_at_once_do_not_disturb_a_good_one(
    live: tuple[RemoteNode, RemoteNode],
) -> None:
    target, peer = live
    host, port = target.listen_address
    echo = peer.ref(f"{target.address}/user/echo")

    async def attack(case: Callable[[SocketStream], Awaitable[None]]) -> None:
        async with await anyio.connect_tcp(host, port) as stream:
            await case(stream)

    async with anyio.create_task_group() as tg:
        for case, _, _ in CASES:
            tg.start_soon(attack, case)
        for n in range(50):
            assert await echo.ask(Ping(n), timeout=WAIT) == Ping(n)
    await wait_until(lambda: sum(target.statistics().close_reasons.values()) == len(CASES))


async def test_tells_before_a_bad_frame_in_the_same_chunk_are_delivered(
    live: tuple[RemoteNode, RemoteNode],
) -> None:
    """Frames are decoded a batch at a time: a bad one still closes the connection
    with its reason only after the frames before it were delivered."""
    target, _ = live
    host, port = target.listen_address
    before = target.statistics().messages_received
    tell = Envelope.wrap(
        msgspec.msgpack.encode(Ping(7)), kind=MessageKind.TELL, target="/user/echo"
    )
    frame = encode_frame(msgspec.msgpack.encode(tell))
    async with await anyio.connect_tcp(host, port) as stream:
        await handshake(stream)
        await stream.send(frame * 40 + encode_frame(b"\x93\x01\x02 random junk") + frame)
        await read_until_closed(stream)
    await wait_until(lambda: target.statistics().close_reasons.get("MalformedEnvelope") == 1)
    assert target.statistics().messages_received - before == 40


async def test_a_run_of_tells_before_a_bad_one_is_delivered_and_the_bad_one_not_at_all(
    live: tuple[RemoteNode, RemoteNode],
) -> None:
    """A ``TELLS`` frame is all or nothing: one bad message refuses the whole frame,
    and closes the connection only after the frames before it were delivered."""
    target, _ = live
    host, port = target.listen_address
    before = target.statistics().messages_received
    good = run_frame(*(Ping(n) for n in range(30)))
    also_good = run_frame(*(Ping(n) for n in range(5)), full=True)
    bad = run_frame(Ping(1), ["no.such.message.tag"], Ping(2))
    async with await anyio.connect_tcp(host, port) as stream:
        await handshake(stream)
        await stream.send(good + also_good + bad + good)
        await read_until_closed(stream)
    await wait_until(lambda: target.statistics().close_reasons.get("UnknownMessageType") == 1)
    assert target.statistics().messages_received - before == 35
