"""Bad input against a live node on 127.0.0.1: each case closes that connection with a
specific logged reason and a counter, or (a message in a well-formed envelope that
does not decode) refuses that message alone and keeps the connection; the node keeps
serving its other peers."""

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
from actors.remote import NodeUnreachable, RemoteConfig, RemoteNode, TcpTransport
from protocol import (
    HANDSHAKE_MAX_FRAME_SIZE,
    PROTOCOL_VERSION,
    Envelope,
    EnvelopeCodec,
    FrameReader,
    Handshake,
    InvalidMessage,
    MessageKind,
    UnknownMessageType,
    encode_frame,
)
from tests.helpers import SECRET as TEXT_SECRET
from tests.helpers import WAIT, Echo, Ping, wait_until
from tests.raw_peer import frame_of, raw_ask

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


async def oversized_handshake_frame(stream: SocketStream) -> None:
    """Before authentication a header announcing more than a handshake frame is refused
    at once, before its body arrives (here it never does)."""
    await stream.send(struct.pack(">I", HANDSHAKE_MAX_FRAME_SIZE + 1) + b"x" * 100)
    await read_until_closed(stream)


def run_frame(*elements: object, full: bool = False) -> bytes:
    """A ``TELLS`` frame to the echo actor holding ``elements`` as its messages:
    the three elements a node sends, or (``full``) all seven envelope fields."""
    if not full:
        return encode_frame(msgspec.msgpack.encode([MessageKind.TELLS, "/user/echo", elements]))
    payload = msgspec.msgpack.encode(list(elements))
    envelope = Envelope.wrap(payload, kind=MessageKind.TELLS, target="/user/echo")
    return encode_frame(msgspec.msgpack.encode(envelope))


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
    (oversized_handshake_frame, "FrameTooLarge", "connection_rejected"),
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


async def test_a_bad_message_in_a_run_is_refused_alone_and_the_others_delivered(
    live: tuple[RemoteNode, RemoteNode],
) -> None:
    """A ``TELLS`` frame with one message that does not decode: the others of the run,
    and the frames around it, are delivered; that one is a dead letter; the
    connection stays."""
    target, _ = live
    host, port = target.listen_address
    before = target.statistics().messages_received
    good = run_frame(*(Ping(n) for n in range(30)))
    also_good = run_frame(*(Ping(n) for n in range(5)), full=True)
    bad = run_frame(Ping(1), ["no.such.message.tag"], Ping(2))
    letters = []
    target.system.dead_letters.subscribe(letters.append)
    async with await anyio.connect_tcp(host, port) as stream:
        reader = await handshake(stream)
        await stream.send(good + also_good + bad + good)
        answer = await raw_ask(stream, reader, Ping(99), 1, "/user/echo")
        assert EnvelopeCodec().decode_payload(answer) == Ping(99)
    assert target.statistics().messages_received - before == 30 + 5 + 2 + 30 + 1
    assert target.statistics().messages_refused == {"UnknownMessageType": 1}
    assert target.statistics().close_reasons == {}
    [letter] = letters
    assert letter.recipient == "/user/echo"
    assert "no.such.message.tag" in letter.reason
    assert letter.message == msgspec.msgpack.encode(["no.such.message.tag"])  # as it came


ASK_ECHO = [MessageKind.ASK, "/user/echo"]
TELL_ECHO = [MessageKind.TELL, "/user/echo"]
RUN_ECHO = [MessageKind.TELLS, "/user/echo"]
REFUSED: list[tuple[str, list[Any], str, str]] = [
    # (case, envelope fields, reason counted, text the error or dead letter names)
    ("unknown_tag_tell", [*TELL_ECHO, ["no.such.message.tag", 1, 2]], "UnknownMessageType",
     "no.such.message.tag"),
    ("unknown_tag_ask", [*ASK_ECHO, ["no.such.message.tag"], "/user/a", 7], "UnknownMessageType",
     "no.such.message.tag"),
    ("invalid_tell", [*TELL_ECHO, ["test.ping", "not an int"]], "InvalidMessage", "test.ping"),
    ("invalid_ask", [*ASK_ECHO, ["test.ping", "not an int"], "/user/a", 7], "InvalidMessage",
     "test.ping"),
    ("run_not_an_array", [*RUN_ECHO, "abc"], "MalformedMessage", "not an array"),
    # A run holding one message instead of an array of them: with all seven fields
    # (the one-message decoder takes it), and with the three a node sends.
    ("one_message_as_a_run", [*RUN_ECHO, ["test.ping"], None, 0, None, None], "MalformedMessage",
     "not a tagged message"),
    ("one_message_as_a_short_run", [*RUN_ECHO, ["test.ping"], None], "MalformedMessage",
     "not a tagged message"),
    ("one_message_as_a_run_of_three", [*RUN_ECHO, ["test.ping"]], "MalformedMessage",
     "not a tagged message"),
]  # fmt: skip


def _tls_pair(directory: Any) -> tuple[TcpTransport, Any]:
    """A TLS transport for the node, and the client context a raw peer dials with."""
    import shutil
    import ssl
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command-line tool is needed to generate a test certificate")
    cert, key = directory / "node.pem", directory / "node.key"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cert))
    return TcpTransport(server_ssl=server, client_ssl=client), client


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
@pytest.mark.parametrize(
    ("fields", "reason", "named"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
async def test_a_message_that_does_not_decode_is_refused_alone_and_the_connection_kept(
    tmp_path: Any, tls: bool, fields: list[Any], reason: str, named: str
) -> None:
    """An unknown tag or fields that do not validate, in a well-formed envelope: an ask
    is answered with the error naming it, a tell becomes a dead letter with it as the
    reason; counted by reason; the connection keeps serving. No such frame ends the
    node, on any transport."""
    transport, client_ssl = _tls_pair(tmp_path) if tls else (TcpTransport(), None)
    async with (
        ActorSystem("target") as system,
        RemoteNode(system, secret=SECRET, cluster=CLUSTER, transport=transport) as target,
    ):
        await system.spawn(Echo, name="echo")
        letters = []
        system.dead_letters.subscribe(letters.append)
        host, port = target.listen_address
        stream: Any = await anyio.connect_tcp(
            host, port, ssl_context=client_ssl, tls=tls, tls_standard_compatible=False
        )
        async with stream:
            reader = await handshake(stream)
            with capture_logs() as logs:
                if fields[0] == MessageKind.ASK:
                    answer = await raw_ask_fields(stream, reader, fields)
                    assert answer.kind is MessageKind.ERROR
                    failure = EnvelopeCodec().decode_failure(answer)
                    assert failure.type_name.endswith(reason)
                    assert named in failure.message
                    assert failure.traceback == ""
                else:
                    await stream.send(frame_of(fields))
                answer = await raw_ask(stream, reader, Ping(5), 100, "/user/echo")
                assert EnvelopeCodec().decode_payload(answer) == Ping(5)
            assert any(e["event"] == "message_refused" and e["reason"] == reason for e in logs)
        stats = target.statistics()
        assert stats.messages_refused == {reason: 1}
        assert stats.close_reasons == {}
        if fields[0] != MessageKind.ASK:
            [letter] = letters
            assert letter.recipient == "/user/echo"
            assert named in letter.reason


async def raw_ask_fields(stream: Any, reader: FrameReader, fields: list[Any]) -> Envelope:
    """Send an ask whose envelope is ``fields`` (correlation id 7); its answer."""
    await stream.send(frame_of(fields))
    while True:
        with anyio.fail_after(WAIT):
            while (frame := reader.next_frame()) is None:
                reader.feed(await stream.receive())
        answer = EnvelopeCodec().decode(frame)
        if answer.correlation_id == 7:
            return answer


async def test_a_lone_empty_run_delivers_nothing_and_keeps_the_connection(
    live: tuple[RemoteNode, RemoteNode],
) -> None:
    target, _ = live
    host, port = target.listen_address
    before = target.statistics().messages_received
    async with await anyio.connect_tcp(host, port) as stream:
        reader = await handshake(stream)
        await stream.send(frame_of([MessageKind.TELLS, "/user/echo", []]))
        answer = await raw_ask(stream, reader, Ping(3), 1, "/user/echo")
        assert EnvelopeCodec().decode_payload(answer) == Ping(3)
        # Also in the middle of a batch.
        tell = frame_of([MessageKind.TELL, "/user/echo", ["test.ping", 1]])
        await stream.send(tell + frame_of([MessageKind.TELLS, "/user/echo", []]) + tell)
        answer = await raw_ask(stream, reader, Ping(4), 2, "/user/echo")
        assert EnvelopeCodec().decode_payload(answer) == Ping(4)
    stats = target.statistics()
    assert stats.messages_received - before == 4
    assert stats.close_reasons == {}
    assert stats.messages_refused == {}


async def test_an_oversized_handshake_frame_is_refused_before_its_body_arrives() -> None:
    """Under the default 16 MiB frame limit, an unauthenticated peer's header announcing
    16 MiB is refused as soon as it arrives: the node never waits for (or buffers) it."""
    config = RemoteConfig(handshake_timeout=60.0)  # a timeout must not be what closes it
    async with (
        ActorSystem("target") as system,
        RemoteNode(system, secret=SECRET, cluster=CLUSTER, config=config) as target,
    ):
        host, port = target.listen_address
        async with await anyio.connect_tcp(host, port) as stream:
            await stream.send(struct.pack(">I", 16 * 1024 * 1024) + b"x" * 1000)
            await read_until_closed(stream)
        await wait_until(lambda: bool(target.statistics().close_reasons))
        assert target.statistics().close_reasons == {"FrameTooLarge": 1}


async def test_unauthenticated_connections_are_bounded_and_the_excess_closed_at_once() -> None:
    config = RemoteConfig(handshake_timeout=60.0, max_handshakes=3)
    async with (
        ActorSystem("target") as system,
        RemoteNode(system, secret=SECRET, cluster=CLUSTER, config=config) as target,
        AsyncExitStack() as silent,
    ):
        await system.spawn(Echo, name="echo")
        host, port = target.listen_address
        for _ in range(3):
            await silent.enter_async_context(await anyio.connect_tcp(host, port))
        await wait_until(lambda: target.statistics().handshakes == 3)
        with capture_logs() as logs:
            for _ in range(2):
                async with await anyio.connect_tcp(host, port) as extra:
                    await read_until_closed(extra)
        assert target.statistics().close_reasons == {"TooManyHandshakes": 2}
        assert [e["reason"] for e in logs if e["event"] == "connection_rejected"] == [
            "TooManyHandshakes"
        ] * 2
        await silent.aclose()  # the silent ones hang up: room again
        await wait_until(lambda: target.statistics().handshakes == 0)
        async with (
            ActorSystem("late") as late_system,
            RemoteNode(late_system, secret=SECRET, cluster=CLUSTER) as late,
        ):
            ref = late.ref(f"{target.address}/user/echo")
            assert await ref.ask(Ping(2), timeout=WAIT) == Ping(2)
    with pytest.raises(ValueError, match="max_handshakes"):
        RemoteConfig(max_handshakes=0)


async def test_failed_handshakes_leave_nothing_behind(
    live: tuple[RemoteNode, RemoteNode],
) -> None:
    """Nothing about a peer that did not authenticate outlives its connection."""
    target, peer = live
    host, port = target.listen_address
    before = target.statistics()
    failures = 30
    for _ in range(failures):
        async with await anyio.connect_tcp(host, port) as stream:
            await failed_authentication(stream)
    # A peer that names a node this one knows does not disturb it either.
    async with await anyio.connect_tcp(host, port) as stream:
        hs = Handshake.initiator(node=peer.name, cluster=CLUSTER, secret=b"wrong")
        await stream.send(encode_frame(hs.data_to_send()[0]))
        await read_until_closed(stream)
    await wait_until(lambda: target.statistics().handshakes == 0)
    stats = target.statistics()
    assert stats.close_reasons == {"AuthenticationFailed": failures, "HandshakeTimeout": 1}
    assert target.peers() == {peer.name: True}
    assert stats.peers == before.peers == 1
    assert stats.connections == 1
    echo = peer.ref(f"{target.address}/user/echo")
    assert await echo.ask(Ping(1), timeout=WAIT) == Ping(1)


@pytest.mark.parametrize("transport_kind", ["tcp", "memory"])
async def test_an_unexpected_error_handling_a_frame_closes_only_that_connection_counted(
    monkeypatch: pytest.MonkeyPatch, transport_kind: str
) -> None:
    """Should handling a peer's frame ever raise what it must not (a bug), that one
    connection closes, counted as ``internal_error``, on the push path (TCP) and the
    pull path (TLS, in-memory) alike: no peer's bytes end the node."""
    from actors.remote import MemoryNetwork
    from actors.remote._connection import Connection

    def broken(self: Connection, cid: int, reply: object) -> None:
        raise RuntimeError("a bug in the reader")

    network = MemoryNetwork()
    transport: Any = network.transport("target") if transport_kind == "memory" else None
    raw_transport: Any = network.transport("raw") if transport_kind == "memory" else None
    async with (
        ActorSystem("target") as system,
        RemoteNode(system, secret=SECRET, cluster=CLUSTER, transport=transport) as target,
    ):
        await system.spawn(Echo, name="echo")
        host, port = target.listen_address
        monkeypatch.setattr(Connection, "_on_reply", broken)
        with capture_logs() as logs:
            stream: Any = (
                await raw_transport.connect(host, port)
                if raw_transport is not None
                else await anyio.connect_tcp(host, port)
            )
            async with stream:
                await handshake(stream)
                await stream.send(frame_of([MessageKind.REPLY, "/user/a", ["test.ping", 1]]))
                await read_until_closed(stream)
            await wait_until(lambda: bool(target.statistics().close_reasons))
        assert target.statistics().close_reasons == {"internal_error": 1}
        assert any(e["event"] == "connection_failed" for e in logs)
        monkeypatch.undo()
        # Still serving.
        async with (
            ActorSystem("late") as late_system,
            RemoteNode(
                late_system, secret=SECRET, cluster=CLUSTER, transport=raw_transport
            ) as late,
        ):
            ref = late.ref(f"{target.address}/user/echo")
            assert await ref.ask(Ping(2), timeout=WAIT) == Ping(2)


async def test_a_dialled_node_cannot_send_a_large_frame_before_it_is_authenticated() -> None:
    """The dialling side reads the handshake under the small limit too: an acceptor
    that answers with a header announcing 16 MiB fails the dial at once."""
    config = RemoteConfig(handshake_timeout=60.0, connect_timeout=WAIT)
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def hostile(stream: SocketStream) -> None:
        async with stream:
            await stream.send(struct.pack(">I", 16 * 1024 * 1024) + b"x" * 1000)
            await read_until_closed(stream)

    async with (
        listener,
        anyio.create_task_group() as tg,
        ActorSystem("dialler") as system,
        RemoteNode(system, secret=SECRET, cluster=CLUSTER, config=config) as node,
    ):
        tg.start_soon(listener.serve, hostile)
        with anyio.fail_after(WAIT), pytest.raises(NodeUnreachable, match="FrameTooLarge"):
            await node.ref(f"tadpole://hostile@127.0.0.1:{port}/user/x").ask(Ping())
        tg.cancel_scope.cancel()


async def test_an_answer_that_does_not_decode_fails_its_ask_alone() -> None:
    """A ``REPLY`` with an unknown tag (or an ``ERROR`` whose failure does not
    validate) fails that ask with the error; the connection keeps serving."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def answering(stream: SocketStream) -> None:
        async with stream:
            hs = Handshake.acceptor(node="answering", cluster=CLUSTER, secret=SECRET)
            reader = FrameReader()
            while not hs.established:
                reader.feed(await stream.receive())
                for frame in reader:
                    hs.receive(frame)
                    for payload in hs.data_to_send():
                        await stream.send(encode_frame(payload))
            answers = [
                [MessageKind.REPLY, "", ["no.such.message.tag"], "/user/x"],
                [MessageKind.ERROR, "", [1, 2, 3], "/user/x"],
                [MessageKind.REPLY, "", ["test.ping", 7], "/user/x"],
            ]
            for fields in answers:
                while (frame := reader.next_frame()) is None:
                    reader.feed(await stream.receive())
                ask = EnvelopeCodec().decode(frame)
                await stream.send(frame_of([*fields, ask.correlation_id]))
            await read_until_closed(stream)

    async with (
        listener,
        anyio.create_task_group() as tg,
        ActorSystem("asker") as system,
        RemoteNode(system, secret=SECRET, cluster=CLUSTER) as node,
    ):
        tg.start_soon(listener.serve, answering)
        ref = node.ref(f"tadpole://answering@127.0.0.1:{port}/user/x")
        with pytest.raises(UnknownMessageType, match=r"no\.such\.message\.tag"):
            await ref.ask(Ping(1), timeout=WAIT)
        with pytest.raises(InvalidMessage):
            await ref.ask(Ping(2), timeout=WAIT)
        assert await ref.ask(Ping(3), timeout=WAIT) == Ping(7)
        stats = node.statistics()
        assert stats.messages_refused == {"UnknownMessageType": 1, "InvalidMessage": 1}
        assert stats.connections_opened == 1
        assert stats.close_reasons == {}
        tg.cancel_scope.cancel()
