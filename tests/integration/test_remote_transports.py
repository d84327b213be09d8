"""One conformance suite for every Transport (TCP and in-memory), plus the memory faults."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import anyio
import pytest

from actors import ActorSystem
from actors.remote import (
    ConnectionLost,
    MemoryNetwork,
    NodeUnreachable,
    RemoteConfig,
    RemoteNode,
    TcpTransport,
)
from tests.helpers import SECRET, WAIT, Echo, Ping, wait_until

if TYPE_CHECKING:
    from anyio.abc import ByteStream

    from actors.remote import Transport

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["tcp", "memory"])
def transports(request: pytest.FixtureRequest) -> tuple[Transport, Transport, str]:
    """A server transport, a client transport, and the host to listen on."""
    if request.param == "tcp":
        return TcpTransport(), TcpTransport(), "127.0.0.1"
    network = MemoryNetwork()
    return network.transport("server"), network.transport("client"), "server"


async def echo_handler(stream: ByteStream) -> None:
    async with stream:
        try:
            while True:
                await stream.send(await stream.receive())
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass


async def test_bytes_round_trip_in_order(transports: tuple[Transport, Transport, str]) -> None:
    server, client, host = transports
    listener = await server.listen(host, 0)
    assert listener.address[1] > 0
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, echo_handler)
        stream = await client.connect(*listener.address)
        sent = b"".join(n.to_bytes(4, "big") for n in range(50_000))
        received = bytearray()
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as io:

                async def write() -> None:
                    for i in range(0, len(sent), 7000):
                        await stream.send(sent[i : i + 7000])

                io.start_soon(write)
                while len(received) < len(sent):
                    received += await stream.receive()
        assert bytes(received) == sent
        await stream.aclose()
        tg.cancel_scope.cancel()
    await listener.aclose()


async def test_end_of_stream_reaches_the_other_side(
    transports: tuple[Transport, Transport, str],
) -> None:
    server, client, host = transports
    listener = await server.listen(host, 0)
    got_eof = anyio.Event()

    async def handler(stream: ByteStream) -> None:
        try:
            assert await stream.receive() == b"last words"
            await stream.receive()
        except anyio.EndOfStream:
            got_eof.set()
        finally:
            await stream.aclose()

    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handler)
        stream = await client.connect(*listener.address)
        await stream.send(b"last words")
        await stream.send_eof()
        with anyio.fail_after(WAIT):
            await got_eof.wait()
        await stream.aclose()
        tg.cancel_scope.cancel()
    await listener.aclose()


async def test_connecting_where_nobody_listens_raises_oserror(
    transports: tuple[Transport, Transport, str],
) -> None:
    server, client, host = transports
    listener = await server.listen(host, 0)
    address = listener.address
    await listener.aclose()
    with pytest.raises(OSError, match=r"."), anyio.fail_after(WAIT):
        await client.connect(*address)


async def test_nodes_talk_over_any_transport(transports: tuple[Transport, Transport, str]) -> None:
    server, client, host = transports
    async with AsyncExitStack() as stack:
        sa = await stack.enter_async_context(ActorSystem("a"))
        sb = await stack.enter_async_context(ActorSystem("b"))
        a = await stack.enter_async_context(
            RemoteNode(sa, secret=SECRET, transport=client, host=host)
        )
        b = await stack.enter_async_context(
            RemoteNode(sb, secret=SECRET, transport=server, host=host)
        )
        await sb.spawn(Echo, name="echo")
        ref = a.ref(f"{b.address}/user/echo")
        for n in range(20):
            ref.tell(Ping(n))
        assert await ref.ask(Ping(99), timeout=WAIT) == Ping(99)


# -- memory faults ------------------------------------------------------------


async def memory_nodes(
    stack: AsyncExitStack, network: MemoryNetwork, *names: str
) -> list[RemoteNode]:
    nodes = []
    for name in names:
        system = await stack.enter_async_context(ActorSystem(name))
        node = RemoteNode(
            system,
            secret=SECRET,
            transport=network.transport(name),
            host=name,
            config=RemoteConfig(handshake_timeout=1.0),
        )
        nodes.append(await stack.enter_async_context(node))
        await system.spawn(Echo, name="echo")
    return nodes


async def test_partition_fails_pending_asks_and_refuses_until_healed() -> None:
    network = MemoryNetwork()
    async with AsyncExitStack() as stack:
        a, b, c = await memory_nodes(stack, network, "a", "b", "c")
        to_b = a.ref(f"{b.address}/user/echo")
        to_c = a.ref(f"{c.address}/user/echo")
        assert await to_b.ask(Ping(1), timeout=WAIT) == Ping(1)
        assert await to_c.ask(Ping(1), timeout=WAIT) == Ping(1)
        network.partition({"a"}, {"b", "c"})
        await wait_until(lambda: a.statistics().connections == 0)
        with pytest.raises(NodeUnreachable):
            await to_b.ask(Ping(2), timeout=WAIT)
        # b and c still talk to each other.
        assert await b.ref(f"{c.address}/user/echo").ask(Ping(3), timeout=WAIT) == Ping(3)
        network.heal()
        with anyio.fail_after(WAIT):
            while True:
                try:
                    assert await to_b.ask(Ping(4), timeout=WAIT) == Ping(4)
                    break
                except NodeUnreachable:
                    await anyio.sleep(0.01)  # the backoff is running; retry until redialled


async def test_dropped_connection_fails_in_flight_asks_with_connection_lost() -> None:
    network = MemoryNetwork()
    async with AsyncExitStack() as stack:
        a, b = await memory_nodes(stack, network, "a", "b")
        never = anyio.Event()

        from actors import Actor

        class Hang(Actor[Ping]):
            async def receive(self, message: Ping) -> None:
                await never.wait()

        await b.system.spawn(Hang, name="hang")
        ref = a.ref(f"{b.address}/user/hang")
        failures: list[BaseException] = []

        async def ask() -> None:
            try:
                await ref.ask(Ping(1))
            except ConnectionLost as exc:
                failures.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(ask)
            await wait_until(lambda: a.statistics().asks_pending == 1)
            assert network.drop("a") == 2
        assert len(failures) == 1
        never.set()
        assert await a.ref(f"{b.address}/user/echo").ask(Ping(5), timeout=WAIT) == Ping(5)


async def test_delay_slows_delivery_on_the_network_clock() -> None:
    from tests.helpers import RecordingClock

    clock = RecordingClock()
    network = MemoryNetwork(clock=clock)
    async with AsyncExitStack() as stack:
        a, b = await memory_nodes(stack, network, "a", "b")
        network.delay = 0.25
        assert await a.ref(f"{b.address}/user/echo").ask(Ping(1), timeout=WAIT) == Ping(1)
        assert clock.sleeps
        assert set(clock.sleeps) == {0.25}


async def test_simultaneous_dials_end_with_one_connection() -> None:
    network = MemoryNetwork()
    async with AsyncExitStack() as stack:
        a, b = await memory_nodes(stack, network, "a", "b")
        to_b = a.ref(f"{b.address}/user/echo")
        to_a = b.ref(f"{a.address}/user/echo")
        async with anyio.create_task_group() as tg:
            for n in range(5):
                tg.start_soon(to_b.ask, Ping(n), WAIT)
                tg.start_soon(to_a.ask, Ping(n), WAIT)
        assert a.statistics().connections == 1
        assert b.statistics().connections == 1


async def gated_pair(
    stack: AsyncExitStack, network: MemoryNetwork, gate: anyio.Event, delivered: list[int]
) -> tuple[RemoteNode, RemoteNode]:
    """Nodes a and b; b's /user/gated records each Ping and holds Ping(0) until ``gate``."""
    from actors import Actor

    class Gated(Actor[Ping]):
        async def receive(self, message: Ping) -> Ping:
            delivered.append(message.n)
            if message.n == 0:
                await gate.wait()
            return message

    a, b = await memory_nodes(stack, network, "a", "b")
    await b.system.spawn(Gated, name="gated")
    return a, b


async def test_an_ask_that_timed_out_is_withdrawn_and_never_delivered() -> None:
    from actors import AskTimeout

    network = MemoryNetwork()
    gate = anyio.Event()
    delivered: list[int] = []
    async with AsyncExitStack() as stack:
        a, b = await gated_pair(stack, network, gate, delivered)
        ref = a.ref(f"{b.address}/user/gated")
        async with anyio.create_task_group() as tg:
            tg.start_soon(ref.ask, Ping(0), WAIT)  # the blocker
            await wait_until(lambda: delivered == [0])
            # A slow link: the ask spends 0.3 s in transit, more than its 0.1 s timeout,
            # so b's deadline (arrival + 0.1 s) ends long after a's. The cancel that a
            # sends when it times out follows the ask without delay.
            network.delay = 0.3
            with pytest.raises(AskTimeout):
                await ref.ask(Ping(1), timeout=0.1)
            network.delay = 0.0
            await wait_until(lambda: b.statistics().asks_cancelled == 1)
            gate.set()  # before b's own deadline: only the cancel keeps Ping(1) out
        assert await ref.ask(Ping(2), timeout=WAIT) == Ping(2)
        assert delivered == [0, 2]  # Ping(1) was never delivered
        assert a.statistics().late_answers == 0  # and b sent no answer for it
        assert a.statistics().asks_pending == 0
        stats = b.statistics()
        assert (stats.asks_expired, stats.asks_in_flight) == (0, 0)


async def test_an_ask_whose_task_is_cancelled_is_withdrawn() -> None:
    network = MemoryNetwork()
    gate = anyio.Event()
    delivered: list[int] = []
    async with AsyncExitStack() as stack:
        a, b = await gated_pair(stack, network, gate, delivered)
        ref = a.ref(f"{b.address}/user/gated")
        async with anyio.create_task_group() as tg:
            tg.start_soon(ref.ask, Ping(0), WAIT)
            await wait_until(lambda: delivered == [0])
            with anyio.move_on_after(0.1):
                await ref.ask(Ping(1))  # no timeout: nothing but the cancel can stop it
            await wait_until(lambda: b.statistics().asks_cancelled == 1)
            gate.set()
        assert await ref.ask(Ping(2), timeout=WAIT) == Ping(2)
        assert delivered == [0, 2]
        assert a.statistics().late_answers == 0


async def test_a_running_ask_that_is_withdrawn_sends_no_reply() -> None:
    network = MemoryNetwork()
    gate = anyio.Event()
    delivered: list[int] = []
    async with AsyncExitStack() as stack:
        a, b = await gated_pair(stack, network, gate, delivered)
        ref = a.ref(f"{b.address}/user/gated")
        with anyio.move_on_after(0.1):
            await ref.ask(Ping(0))  # delivered, then abandoned while it runs
        await wait_until(lambda: b.statistics().asks_cancelled == 1)
        gate.set()
        assert await ref.ask(Ping(2), timeout=WAIT) == Ping(2)
        assert delivered == [0, 2]
        assert a.statistics().late_answers == 0  # the late reply was dropped at b
        assert b.statistics().asks_in_flight == 0


async def test_the_system_resolves_local_and_remote_addresses_alike() -> None:
    network = MemoryNetwork()
    async with AsyncExitStack() as stack:
        a, b = await memory_nodes(stack, network, "a", "b")
        local = a.system.ref("/user/echo")
        assert local == a.system.ref(f"tadpole://{a.system.name}/user/echo")
        remote = a.system.ref(f"{b.address}/user/echo")
        assert await local.ask(Ping(1), timeout=WAIT) == Ping(1)
        assert await remote.ask(Ping(2), timeout=WAIT) == Ping(2)
        assert remote.address == f"{b.address}/user/echo"
    with pytest.raises(ValueError, match="no RemoteNode serves this system"):
        a.system.ref(f"{b.address}/user/echo")
