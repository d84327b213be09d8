"""Two actor systems in one process, talking over TCP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from structlog.testing import capture_logs

from actors import (
    Actor,
    ActorStopped,
    ActorSystem,
    AskTimeout,
    MailboxConfig,
    Overflow,
    RemoteActorError,
)
from actors.remote import (
    ConnectionLost,
    InvalidAddress,
    NodeUnreachable,
    ReconnectBackoff,
    RemoteConfig,
    RemoteNode,
    RemoteRef,
    SendBufferFull,
    TcpTransport,
)
from protocol import Message, MessageTooLarge
from tests.helpers import OTHER_SECRET, SECRET, WAIT, Boom, Echo, Ping, Pong, wait_until

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable
    from pathlib import Path

    from actors import ActorRef

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def pair(
    config: RemoteConfig | None = None, **kwargs: Any
) -> AsyncIterator[tuple[RemoteNode, RemoteNode]]:
    async with AsyncExitStack() as stack:
        sa = await stack.enter_async_context(ActorSystem("alpha", seed=1))
        sb = await stack.enter_async_context(ActorSystem("beta", seed=2))
        na = await stack.enter_async_context(RemoteNode(sa, secret=SECRET, config=config, **kwargs))
        nb = await stack.enter_async_context(RemoteNode(sb, secret=SECRET, config=config, **kwargs))
        yield na, nb


class Recorder(Actor[Message]):
    def __init__(self) -> None:
        self.seen: list[int] = []

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Ping):
            self.seen.append(message.n)
            return None
        return list(self.seen)


class Seen(Message, tag="test.remote.seen"):
    values: list[int]


class Reporter(Recorder):
    async def receive(self, message: Message) -> Any:
        result = await super().receive(message)
        return None if result is None else Seen(result)


async def test_ask_and_tell_work_like_local_refs() -> None:
    async with pair() as (a, b):
        await b.system.spawn(Echo, name="echo")
        ref = a.ref(f"{b.address}/user/echo")
        assert isinstance(ref, RemoteRef)
        assert ref.address == f"{b.address}/user/echo" == str(ref)
        assert ref.path == "/user/echo"
        assert ref == a.ref(f"{b.address}/user/echo")
        assert await ref.ask(Ping(1), timeout=WAIT) == Ping(1)
        ref.tell(Ping(2))
        await ref.send(Ping(3))
        assert await ref.ask(Pong(4), timeout=WAIT) == Pong(4)
        stats = a.statistics()
        assert stats.connections == 1
        assert stats.messages_sent == 4


async def test_messages_from_one_sender_arrive_in_order_with_asks_interleaved() -> None:
    async with pair() as (a, b):
        await b.system.spawn(Reporter, name="rec")
        ref = a.ref(f"{b.address}/user/rec")
        pending = []
        for n in range(2000):
            if n % 100 == 0:
                pending.append(asyncio.ensure_future(ref.ask(Ping(n), timeout=WAIT)))
                await asyncio.sleep(0)  # the ask task takes its place in the send buffer
            else:
                ref.tell(Ping(n))
        await asyncio.gather(*pending)
        seen = await ref.ask(Pong(), timeout=WAIT)
        assert seen == Seen(list(range(2000)))


async def test_asks_are_written_at_once_and_a_burst_in_one_turn_in_one_write() -> None:
    async with pair() as (a, b):
        await b.system.spawn(Reporter, name="rec")
        ref = a.ref(f"{b.address}/user/rec")
        assert await ref.ask(Pong(), timeout=WAIT) == Seen([])  # connected
        sent, answered = a.statistics().writes, b.statistics().writes
        for _ in range(20):
            await ref.ask(Pong(), timeout=WAIT)  # each ask and each answer: one write
        assert a.statistics().writes - sent == 20
        assert b.statistics().writes - answered == 20
        sent = a.statistics().writes
        for n in range(500):
            ref.tell(Ping(n))
        assert await ref.ask(Pong(), timeout=WAIT) == Seen(list(range(500)))
        assert a.statistics().writes - sent <= 2  # the first at once, the rest at the turn's end


async def test_asks_in_sequence_after_a_burst_are_written_at_once_again() -> None:
    async with pair() as (a, b):
        await b.system.spawn(Reporter, name="rec")
        ref = a.ref(f"{b.address}/user/rec")
        assert await ref.ask(Pong(), timeout=WAIT) == Seen([])  # connected
        for n in range(500):
            ref.tell(Ping(n))  # a burst: batched at the turn's end
        assert await ref.ask(Pong(), timeout=WAIT) == Seen(list(range(500)))
        await ref.ask(Pong(), timeout=WAIT)  # a turn with one message ends the batching
        for _ in range(3):
            sent = a.statistics().bytes_sent
            ask = asyncio.ensure_future(ref.ask(Pong(), timeout=WAIT))
            await asyncio.sleep(0)  # the ask's task runs before this one resumes
            assert a.statistics().bytes_sent > sent  # written at once, not a turn later
            await ask


async def test_one_connection_per_node_pair_is_reused_both_ways() -> None:
    async with pair() as (a, b):
        await a.system.spawn(Echo, name="echo")
        await b.system.spawn(Echo, name="echo")
        to_b = a.ref(f"{b.address}/user/echo")
        to_a = b.ref(f"{a.address}/user/echo")
        await asyncio.gather(to_b.ask(Ping(1), timeout=WAIT), to_a.ask(Ping(2), timeout=WAIT))
        for _ in range(3):
            await asyncio.gather(to_b.ask(Ping(1), timeout=WAIT), to_a.ask(Ping(2), timeout=WAIT))
        assert a.statistics().connections == 1
        assert b.statistics().connections == 1
        assert a.statistics().connections_opened == 1


async def test_remote_exception_arrives_as_remote_actor_error_without_traceback() -> None:
    """By default only the type and message cross: the server's traceback, with its
    file paths and source lines, stays on the server."""
    async with pair() as (a, b):
        await b.system.spawn(Echo, name="echo")
        ref = a.ref(f"{b.address}/user/echo")
        with pytest.raises(RemoteActorError) as info:
            await ref.ask(Boom("kaput"), timeout=WAIT)
        assert info.value.type_name == "RuntimeError"
        assert info.value.remote_message == "kaput"
        assert info.value.traceback_text == ""
        assert ".py" not in str(info.value)
        assert await ref.ask(Ping(5), timeout=WAIT) == Ping(5)  # restarted, still served


async def test_remote_traceback_is_sent_when_the_node_opts_in() -> None:
    async with pair(RemoteConfig(include_traceback=True)) as (a, b):
        await b.system.spawn(Echo, name="echo")
        with pytest.raises(RemoteActorError) as info:
            await a.ref(f"{b.address}/user/echo").ask(Boom("kaput"), timeout=WAIT)
        assert "RuntimeError: kaput" in info.value.traceback_text


async def test_ask_to_a_missing_remote_actor_raises_actor_stopped() -> None:
    async with pair() as (a, b):
        ref = a.ref(f"{b.address}/user/nobody")
        with pytest.raises(ActorStopped, match="nobody"):
            await ref.ask(Ping(1), timeout=WAIT)
        ref.tell(Ping(2))  # a tell goes to the remote dead letters
        await wait_until(lambda: b.system.dead_letters.count >= 1)


async def test_none_replies_travel_and_non_message_replies_fail_clearly() -> None:
    class Odd(Actor[Message]):
        async def receive(self, message: Message) -> Any:
            return 42 if isinstance(message, Pong) else None

    async with pair() as (a, b):
        await b.system.spawn(Odd, name="odd")
        ref = a.ref(f"{b.address}/user/odd")
        assert await ref.ask(Ping(), timeout=WAIT) is None
        with pytest.raises(RemoteActorError, match="not a protocol Message"):
            await ref.ask(Pong(), timeout=WAIT)


async def test_ask_times_out_and_an_expired_ask_is_never_delivered() -> None:
    gate = asyncio.Event()

    class Gated(Reporter):
        async def receive(self, message: Message) -> Any:
            if isinstance(message, Pong) and message.n == 0:
                await gate.wait()
                return None
            return await super().receive(message)

    async with pair() as (a, b):
        await b.system.spawn(Gated, name="g")
        ref = a.ref(f"{b.address}/user/g")
        blocker = asyncio.ensure_future(ref.ask(Pong(0), timeout=WAIT))
        await wait_until(lambda: b.statistics().asks_in_flight == 1)
        with pytest.raises(AskTimeout):
            await ref.ask(Ping(1), timeout=0.2)  # waits behind the blocker, then expires
        # The receiver's deadline runs from when the ask arrived, so it ends after the
        # sender's; the sender's CANCEL withdraws it: open the gate once it has arrived.
        await wait_until(lambda: b.statistics().asks_cancelled >= 1)
        gate.set()
        await blocker
        assert await ref.ask(Pong(1), timeout=WAIT) == Seen([])  # Ping(1) never delivered


async def test_deadline_already_past_is_not_sent() -> None:
    async with pair() as (a, b):
        await b.system.spawn(Reporter, name="r")
        ref = a.ref(f"{b.address}/user/r")
        with pytest.raises(AskTimeout):
            await ref.ask(Ping(1), timeout=0.0)
        assert await ref.ask(Pong(), timeout=WAIT) == Seen([])


async def test_pending_asks_fail_with_connection_lost_when_the_peer_dies() -> None:
    hang = asyncio.Event()

    class Hang(Actor[Message]):
        async def receive(self, message: Message) -> Any:
            await hang.wait()

    async with (
        ActorSystem("alpha") as sa,
        RemoteNode(sa, secret=SECRET) as a,
        ActorSystem("beta") as sb,
    ):
        b = await RemoteNode(sb, secret=SECRET).__aenter__()
        await sb.spawn(Hang, name="hang")
        ref = a.ref(f"{b.address}/user/hang")
        asks = [asyncio.ensure_future(ref.ask(Ping(n))) for n in range(3)]
        await wait_until(lambda: a.statistics().asks_pending == 3)
        await b.__aexit__(None, None, None)  # the peer's node goes away mid-ask
        for ask in asks:
            with pytest.raises(ConnectionLost, match="lost"):
                await asyncio.wait_for(ask, WAIT)
        hang.set()


async def test_reconnects_after_the_connection_drops() -> None:
    async with pair() as (a, b):
        await b.system.spawn(Echo, name="echo")
        ref = a.ref(f"{b.address}/user/echo")
        assert await ref.ask(Ping(1), timeout=WAIT) == Ping(1)
        for conn in list(b._conns):
            conn.close("test_drop")
        await wait_until(lambda: a.statistics().connections == 0)
        assert await ref.ask(Ping(2), timeout=WAIT) == Ping(2)
        assert a.statistics().connections_opened == 2


async def test_unreachable_node_fails_asks_and_backs_off_with_seeded_jitter() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens after the with
    sleeps: list[float] = []

    class Recording:
        def __init__(self) -> None:
            from actors import LoopClock

            self._inner = LoopClock()

        def now(self) -> float:
            return self._inner.now()

        def wall(self) -> float:
            return self._inner.wall()

        async def sleep(self, delay: float) -> None:
            sleeps.append(delay)
            await self._inner.sleep(0)

        def call_later(self, delay: float, cb: Any) -> Any:
            return self._inner.call_later(delay, cb)

    backoff = ReconnectBackoff(base=0.1, cap=1.0, jitter=0.2)
    config = RemoteConfig(backoff=backoff)
    async with (
        ActorSystem("alpha", clock=Recording(), seed=7) as sa,
        RemoteNode(sa, secret=SECRET, config=config) as a,
    ):
        ref = a.ref(f"tadpole://ghost@127.0.0.1:{port}/user/x")
        for _ in range(3):
            with pytest.raises(NodeUnreachable, match="ghost"):
                await ref.ask(Ping(1), timeout=WAIT)
        await wait_until(lambda: len(sleeps) >= 3)
    import random

    rng = random.Random(7)
    assert sleeps[:3] == pytest.approx([backoff.delay(n, rng) for n in (1, 2, 3)])
    assert 0.08 <= sleeps[0] <= 0.12
    assert 0.16 <= sleeps[1] <= 0.24


async def send_until_stalled(
    ref: ActorRef[Any], messages: Iterable[Message]
) -> tuple[asyncio.Future[None], Callable[[], int]]:
    """``ref.send`` each message in a task until the sends stop making progress
    (no send completed for 50 ms); the task, and how many were sent so far."""
    sent = 0

    async def sender() -> None:
        nonlocal sent
        for message in messages:
            await ref.send(message)
            sent += 1

    task = asyncio.ensure_future(sender())
    stalled_at = -1
    with anyio.fail_after(WAIT):
        while stalled_at != sent:
            stalled_at = sent
            await asyncio.sleep(0.05)
    return task, lambda: sent


async def test_a_slow_remote_mailbox_applies_backpressure_to_the_sender() -> None:
    gate = asyncio.Event()
    total = 20_000

    class Chunk(Message, tag="test.remote.chunk"):
        n: int
        data: bytes

    class Slow(Actor[Message]):
        mailbox = MailboxConfig(capacity=4)

        def __init__(self) -> None:
            self.count = 0

        async def receive(self, message: Message) -> Any:
            await gate.wait()
            self.count += 1
            return Ping(self.count)

    config = RemoteConfig(send_buffer=8, overflow=Overflow.FAIL)
    async with pair(config) as (a, b):
        await b.system.spawn(Slow, name="slow")
        ref = a.ref(f"{b.address}/user/slow")
        # The sender stalls: the mailbox, the sockets' buffers and the send buffer fill.
        task, sent = await send_until_stalled(ref, (Chunk(n, bytes(1024)) for n in range(total)))
        assert sent() < total
        assert a.statistics().send_buffered == 8
        with pytest.raises(SendBufferFull, match="full"):
            ref.tell(Ping(-1))
        gate.set()
        with anyio.fail_after(30):
            await task
            assert await ref.ask(Pong(), timeout=WAIT) == Ping(total + 1)


async def test_send_on_a_full_connection_waits_for_it_to_drain_not_in_the_send_buffer() -> None:
    gate = asyncio.Event()
    total = 20_000

    class Chunk(Message, tag="test.remote.drain_chunk"):
        n: int
        data: bytes

    class Slow(Actor[Message]):
        mailbox = MailboxConfig(capacity=4)

        def __init__(self) -> None:
            self.seen: list[int] = []

        async def receive(self, message: Message) -> Any:
            if isinstance(message, Chunk):
                await gate.wait()
                self.seen.append(message.n)
                return None
            return Seen(self.seen)

    async with pair(RemoteConfig(send_buffer=10_000)) as (a, b):
        await b.system.spawn(Slow, name="slow")
        ref = a.ref(f"{b.address}/user/slow")
        assert await ref.ask(Pong(), timeout=WAIT) == Seen([])  # connected
        task, sent = await send_until_stalled(ref, (Chunk(n, bytes(1024)) for n in range(total)))
        assert sent() < total  # the sockets and the transport are full: send waits
        assert a.statistics().send_buffered == 0  # ...without filling the send buffer
        gate.set()
        with anyio.fail_after(30):
            await task
            assert await ref.ask(Pong(), timeout=WAIT) == Seen(list(range(total)))


async def test_tell_overflow_policy_drop_newest_counts_drops() -> None:
    config = RemoteConfig(send_buffer=2, overflow=Overflow.DROP_NEWEST)
    async with pair(config) as (a, b):
        await b.system.spawn(Reporter, name="r")
        ref = a.ref(f"{b.address}/user/r")
        for n in range(10):  # no connection yet: the buffer holds 2
            ref.tell(Ping(n))
        assert a.statistics().dropped == 8
        assert await ref.ask(Pong(), timeout=WAIT) == Seen([0, 1])


async def test_addresses_are_validated_and_local_addresses_resolve_locally() -> None:
    async with pair() as (a, _b):
        local = await a.system.spawn(Echo, name="echo")
        assert a.ref(f"{a.address}/user/echo") == local
        assert a.address_of(local) == f"{a.address}/user/echo"
        for bad in ["http://x/user/a", "tadpole://b/user/x", "tadpole://b@h:99999/user/x"]:
            with pytest.raises(InvalidAddress):
                a.ref(bad)


async def test_oversized_message_fails_the_call_and_keeps_the_connection() -> None:
    class Blob(Message, tag="test.remote.blob"):
        data: bytes

    async with pair(RemoteConfig(max_frame_size=1024)) as (a, b):
        await b.system.spawn(Echo, name="echo")
        ref = a.ref(f"{b.address}/user/echo")
        with pytest.raises(MessageTooLarge):
            ref.tell(Blob(b"x" * 2000))  # no connection yet: it would be queued
        assert await ref.ask(Blob(b"x" * 100), timeout=WAIT) == Blob(b"x" * 100)
        with pytest.raises(MessageTooLarge):
            ref.tell(Blob(b"x" * 2000))  # connected: it would be written at once
        with pytest.raises(MessageTooLarge):
            await ref.ask(Blob(b"x" * 2000), timeout=WAIT)
        assert await ref.ask(Blob(b"x" * 100), timeout=WAIT) == Blob(b"x" * 100)
        assert a.statistics().asks_pending == 0


async def test_a_message_that_cannot_be_encoded_fails_only_its_call() -> None:
    class Anything(Message, tag="test.remote.anything"):
        value: Any

    async with pair() as (a, b):
        await b.system.spawn(Reporter, name="rec")
        ref = a.ref(f"{b.address}/user/rec")
        assert await ref.ask(Pong(), timeout=WAIT) == Seen([])  # connected
        ref.tell(Ping(1))
        with pytest.raises(TypeError):
            ref.tell(Anything(object()))
        with pytest.raises(TypeError):
            await ref.ask(Anything(object()), timeout=WAIT)
        ref.tell(Ping(2))
        assert await ref.ask(Pong(), timeout=WAIT) == Seen([1, 2])
        assert a.statistics().asks_pending == 0


async def test_messages_past_a_full_write_buffer_go_out_a_batch_at_a_time_in_order() -> None:
    # A tiny batch: every few messages fill the write buffer, which is written
    # whole in the middle of the turn (the transport takes it), asks among them.
    async with pair(RemoteConfig(batch_bytes=64)) as (a, b):
        await b.system.spawn(Reporter, name="rec")
        ref = a.ref(f"{b.address}/user/rec")
        assert await ref.ask(Pong(), timeout=WAIT) == Seen([])  # connected
        before = a.statistics()
        asks = []
        for n in range(1000):
            if n % 100 == 50:
                asks.append(asyncio.ensure_future(ref.ask(Ping(n), timeout=WAIT)))
                await asyncio.sleep(0)  # the ask task takes its place
            elif n % 2:
                ref.tell(Ping(n))
            else:
                await ref.send(Ping(n))
        stats = a.statistics()
        assert stats.messages_sent - before.messages_sent == 1000  # none left waiting
        assert stats.writes - before.writes >= 100  # a write per batch, not per turn
        assert stats.send_buffered == 0
        await asyncio.gather(*asks)
        assert await ref.ask(Pong(), timeout=WAIT) == Seen(list(range(1000)))


async def test_an_expired_ask_is_not_sent_on_an_open_connection() -> None:
    async with pair() as (a, b):
        await b.system.spawn(Reporter, name="rec")
        ref = a.ref(f"{b.address}/user/rec")
        assert await ref.ask(Pong(), timeout=WAIT) == Seen([])  # connected
        sent = a.statistics().messages_sent
        with pytest.raises(AskTimeout):
            await ref.ask(Ping(1), timeout=0.0)
        assert await ref.ask(Pong(), timeout=WAIT) == Seen([])
        assert a.statistics().messages_sent == sent + 1


async def test_asks_reach_the_actor_that_took_a_stopped_ones_path() -> None:
    async with pair() as (a, b):
        first = await b.system.spawn(Echo, name="echo")
        ref = a.ref(f"{b.address}/user/echo")
        assert await ref.ask(Ping(1), timeout=WAIT) == Ping(1)
        await b.system.stop(first)
        with pytest.raises(ActorStopped):
            await ref.ask(Ping(2), timeout=WAIT)
        await b.system.spawn(Echo, name="echo")
        assert await ref.ask(Ping(3), timeout=WAIT) == Ping(3)


async def test_tells_just_before_the_node_stops_are_still_written() -> None:
    async with (
        ActorSystem("alpha") as sa,
        ActorSystem("beta") as sb,
        RemoteNode(sb, secret=SECRET) as b,
    ):
        local = await sb.spawn(Reporter, name="rec")
        async with RemoteNode(sa, secret=SECRET) as a:
            ref = a.ref(f"{b.address}/user/rec")
            assert await ref.ask(Pong(), timeout=WAIT) == Seen([])  # connected
            for n in range(100):
                ref.tell(Ping(n))
        await wait_until(lambda: b.statistics().messages_received >= 101)
        assert await local.ask(Pong(), timeout=WAIT) == Seen(list(range(100)))


async def test_graceful_drain_lets_in_flight_asks_finish_then_refuses() -> None:
    release = asyncio.Event()

    class Slow(Actor[Message]):
        async def receive(self, message: Message) -> Any:
            await release.wait()
            return message

    async with pair() as (a, b):
        await b.system.spawn(Slow, name="slow")
        ref = a.ref(f"{b.address}/user/slow")
        inflight = asyncio.ensure_future(ref.ask(Ping(1), timeout=WAIT))
        await wait_until(lambda: b.statistics().asks_in_flight == 1)
        drained = asyncio.ensure_future(b.drain(WAIT))
        await asyncio.sleep(0)
        release.set()
        assert await drained is True
        assert await inflight == Ping(1)
        with pytest.raises(ActorStopped, match="shutting down"):
            await ref.ask(Ping(2), timeout=WAIT)


async def test_wrong_secret_is_refused_and_logged() -> None:
    async with (
        ActorSystem("alpha") as sa,
        ActorSystem("beta") as sb,
        RemoteNode(sa, secret=SECRET) as a,
        RemoteNode(sb, secret=OTHER_SECRET) as b,
    ):
        with capture_logs() as logs, pytest.raises(NodeUnreachable):
            await a.ref(f"{b.address}/user/x").ask(Ping(), timeout=WAIT)
        assert b.statistics().close_reasons == {"AuthenticationFailed": 1}
        assert any(
            e["event"] == "connection_rejected" and e["reason"] == "AuthenticationFailed"
            for e in logs
        )


def _make_cert(directory: Path) -> tuple[Path, Path]:
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
    return cert, key


async def test_tls_transport_carries_asks(tmp_path: Path) -> None:
    cert, key = _make_cert(tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cert))
    transport = TcpTransport(server_ssl=server, client_ssl=client)
    async with pair(transport=transport) as (a, b):
        await b.system.spawn(Echo, name="echo")
        ref = a.ref(f"{b.address}/user/echo")
        assert await ref.ask(Ping(9), timeout=WAIT) == Ping(9)
        conn = next(iter(a._conns))
        assert conn.stream.extra(anyio.streams.tls.TLSAttribute.cipher) is not None
    # A plain-TCP node cannot talk to a TLS node: the TLS side rejects it.
    slow = RemoteConfig(handshake_timeout=1.0)
    async with (
        ActorSystem("alpha") as sa,
        ActorSystem("beta") as sb,
        RemoteNode(sa, secret=SECRET) as plain,
        RemoteNode(sb, secret=SECRET, transport=transport, config=slow) as tls,
    ):
        with pytest.raises(NodeUnreachable):
            await plain.ref(f"{tls.address}/user/echo").ask(Ping(), timeout=WAIT)
        await wait_until(lambda: bool(tls.statistics().close_reasons))
