"""The sending side of the remote transport: what a remote ref refuses at the call.

A value that is not a Message, or a Message that cannot be encoded, fails the
call that tried to send it; nothing is sent, and the connection and the asks
in flight on it carry on.
"""

from __future__ import annotations

import asyncio
import socket
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from actors import Actor, ActorSystem, DeadLetter
from actors.remote import MemoryNetwork, RemoteConfig, RemoteNode, TcpTransport
from actors.remote._tcp import _Protocol
from protocol import EnvelopeCodec, FrameReader, Message, MessageKind, MessageTooLarge
from tests.helpers import SECRET, WAIT, Echo, Ping, wait_until

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from actors import ActorRef

pytestmark = pytest.mark.anyio

IN_FLIGHT = 20


class Loose(Message, tag="test.outbound.loose"):
    value: Any  # Any: so that a test can put something unencodable in it


class Gate(Actor[Message]):
    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate

    async def receive(self, message: Message) -> Any:
        await self.gate.wait()
        return message


class Nodes:
    def __init__(self, a: RemoteNode, b: RemoteNode, gate: asyncio.Event) -> None:
        self.a, self.b, self.gate = a, b, gate
        self.echo: ActorRef[Any] = a.ref(f"{b.address}/user/echo")
        self.held: ActorRef[Any] = a.ref(f"{b.address}/user/gate")


@asynccontextmanager
async def nodes(transport: str, config: RemoteConfig | None = None) -> AsyncIterator[Nodes]:
    if transport == "memory":
        network = MemoryNetwork()
        client: Any = network.transport("a")
        server: Any = network.transport("b")
        host = "b"
    else:
        client, server, host = TcpTransport(), TcpTransport(), "127.0.0.1"
    async with AsyncExitStack() as stack:
        sa = await stack.enter_async_context(ActorSystem("a"))
        sb = await stack.enter_async_context(ActorSystem("b"))
        a = await stack.enter_async_context(
            RemoteNode(sa, secret=SECRET, transport=client, host=host, config=config)
        )
        b = await stack.enter_async_context(
            RemoteNode(sb, secret=SECRET, transport=server, host=host, config=config)
        )
        gate = asyncio.Event()
        await sb.spawn(Gate, gate, name="gate")
        await sb.spawn(Echo, name="echo")
        yield Nodes(a, b, gate)


async def spares_the_asks_in_flight(
    n: Nodes, attempts: list[tuple[Callable[[], Awaitable[object]], type[BaseException]]]
) -> None:
    """Each attempt raises its error at the call, sends nothing, and the asks in
    flight on the connection, and the connection, carry on."""
    with anyio.fail_after(WAIT * 2):
        in_flight = [
            asyncio.ensure_future(n.held.ask(Ping(i), timeout=WAIT)) for i in range(IN_FLIGHT)
        ]
        assert await n.echo.ask(Ping(-1), timeout=WAIT) == Ping(-1)  # the asks are out
        stats = n.a.statistics()
        for attempt, error in attempts:
            with pytest.raises(error):
                await attempt()
        after = n.a.statistics()
        assert after.messages_sent == stats.messages_sent
        assert after.send_buffered == 0
        n.echo.tell(Ping(-2))  # the connection still carries tells and asks
        assert await n.echo.ask(Ping(-3), timeout=WAIT) == Ping(-3)
        assert not any(f.done() for f in in_flight)
        n.gate.set()
        assert await asyncio.gather(*in_flight) == [Ping(i) for i in range(IN_FLIGHT)]
        assert n.a.statistics().connections_closed == 0
        assert n.b.statistics().connections_closed == 0


NOT_MESSAGES = [{"n": 1}, 1, "ping", None, [Ping(1)], b"ping", 1.5]


@pytest.mark.parametrize("transport", ["memory", "tcp"])
async def test_a_remote_tell_send_or_ask_of_a_non_message_is_a_type_error(
    transport: str,
) -> None:
    async with nodes(transport) as n:
        ref = n.echo

        def tell(value: object) -> Callable[[], Awaitable[None]]:
            async def attempt() -> None:
                ref.tell(value)

            return attempt

        attempts: list[tuple[Callable[[], Awaitable[object]], type[BaseException]]] = []
        for value in NOT_MESSAGES:
            attempts += [
                (tell(value), TypeError),
                (lambda value=value: ref.send(value), TypeError),
                (lambda value=value: ref.ask(value, timeout=WAIT), TypeError),
            ]
        await spares_the_asks_in_flight(n, attempts)


async def test_the_type_error_names_the_value_and_the_target() -> None:
    async with nodes("memory") as n:
        with pytest.raises(TypeError, match=r"dict.*tadpole://b@b:\d+/user/echo.*Message"):
            n.echo.tell({"n": 1})


@pytest.mark.parametrize("transport", ["memory", "tcp"])
async def test_a_message_that_cannot_be_encoded_fails_its_call_alone(transport: str) -> None:
    config = RemoteConfig(max_frame_size=64 * 1024)
    async with nodes(transport, config) as n:
        ref = n.echo
        big = Loose(b"x" * 100_000)
        odd = Loose(object())  # msgspec cannot encode it

        def tell(value: Message) -> Callable[[], Awaitable[None]]:
            async def attempt() -> None:
                ref.tell(value)

            return attempt

        attempts: list[tuple[Callable[[], Awaitable[object]], type[BaseException]]] = []
        for value, error in ((big, MessageTooLarge), (odd, TypeError)):
            attempts += [
                (tell(value), error),
                (lambda value=value: ref.send(value), error),
                (lambda value=value: ref.ask(value, timeout=WAIT), error),
            ]
        await spares_the_asks_in_flight(n, attempts)


async def test_an_unencodable_message_fails_alone_from_the_send_buffer_too() -> None:
    """Not connected yet: messages queue in the send buffer, so encoding happens there."""
    async with nodes("memory") as n:
        ref = n.echo
        assert n.a.peers() == {"b": False}
        ref.tell(Ping(1))  # queued: no connection yet
        with pytest.raises(TypeError):
            ref.tell(Loose(object()))
        with pytest.raises(TypeError):
            ref.tell({"n": 2})
        with pytest.raises(TypeError):
            await ref.ask(Loose(object()), timeout=WAIT)
        ref.tell(Ping(3))
        assert await ref.ask(Ping(4), timeout=WAIT) == Ping(4)
        assert n.a.statistics().messages_sent == 3


async def test_a_cut_dead_letters_every_tell_the_kernel_had_not_taken() -> None:
    """Exact accounting over a local stream pair (AF_UNIX: bytes the kernel took stay
    readable after the cut): every tell is either read by the other end or in the
    sender's dead letters; none in both, none in neither."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    loop = asyncio.get_running_loop()
    _, protocol = await loop.connect_accepted_socket(_Protocol, ours)
    assert protocol.stream is not None
    count = 3000
    async with ActorSystem("a") as sa, RemoteNode(sa, secret=SECRET) as a:
        letters: list[DeadLetter] = []
        sa.dead_letters.subscribe(letters.append)
        ref = a.ref("tadpole://b@127.0.0.1:1/user/rec")  # nothing listens there
        conn = a._adopt(a._peers["b"], protocol.stream, FrameReader(), initiator=True)
        a._start(conn.run)
        with anyio.fail_after(WAIT):
            for seq in range(count):
                ref.tell(Loose([seq, b"x" * 200]))
                if seq % 500 == 0:
                    await asyncio.sleep(0)  # a write now and then, as a busy sender's
            await asyncio.sleep(0)
            assert protocol.stream.buffered() > 0  # the transport holds some of it
            conn.close("cut")
            await wait_until(lambda: not a.statistics().connections)
            await wait_until(lambda: not a.statistics().send_buffered)
            unsent = a.statistics().tells_unsent
        theirs.settimeout(WAIT)
        received = bytearray()
        while chunk := theirs.recv(1 << 20):
            received += chunk
        theirs.close()
    reader = FrameReader()
    reader.feed(bytes(received))
    envelopes = EnvelopeCodec()
    delivered: list[int] = []
    while (frame := reader.next_frame()) is not None:
        envelope = envelopes.decode(frame)
        if envelope.kind is MessageKind.TELLS:
            messages = envelopes.decode_payloads(envelope)
        else:
            messages = [envelopes.decode_payload(envelope)]
        delivered += [m.value[0] for m in messages if isinstance(m, Loose)]
    dead = [letter.message.value[0] for letter in letters if isinstance(letter.message, Loose)]
    assert delivered == list(range(len(delivered)))  # in order, the first ones
    assert sorted(dead) == list(range(len(delivered), count))  # all the others
    cut = [x for x in letters if "connection to b lost before it was sent" in x.reason]
    assert len(cut) == unsent > 0
    assert all(letter.recipient == "tadpole://b@127.0.0.1:1/user/rec" for letter in letters)
