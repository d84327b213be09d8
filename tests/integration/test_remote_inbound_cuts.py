"""The receiving side of a cut: nothing a connection received whole vanishes.

A connection that ends abruptly (the connection is lost, this node closes it)
while its reader waits for room in a full mailbox still holds frames it
received whole: the tell it was delivering, the rest of the decoded batch, the
frames still in its splitter. Each such tell is dead-lettered on the receiving
node with the reason and counted in ``RemoteStatistics.tells_undelivered``;
none is lost without a trace, none is both delivered and dead-lettered.

The receiver's transport records every tell of every whole frame it handed to
the connection, so the check is exact.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from actors import Actor, ActorSystem, DeadLetter, MailboxConfig
from actors.remote import MemoryNetwork, RemoteNode
from actors.remote._memory import MemoryTransport
from protocol import (
    EnvelopeCodec,
    FrameReader,
    Message,
    MessageKind,
    RemoteProtocolError,
    encode_frame,
)
from tests.helpers import SECRET, WAIT, wait_until

if TYPE_CHECKING:
    from anyio.abc import ByteStream

pytestmark = pytest.mark.anyio

TELLS = 3000


class Numbered(Message, tag="test.inbound_cuts.numbered"):
    seq: int


class Report(Message, tag="test.inbound_cuts.report"):
    pass


class Received(Message, tag="test.inbound_cuts.received"):
    seqs: list[int]


class Held(Actor[Message]):
    """Takes one message, then waits for the gate: its small mailbox fills."""

    mailbox = MailboxConfig(capacity=8)

    def __init__(self, gate: asyncio.Event, entered: asyncio.Event) -> None:
        self.gate, self.entered = gate, entered
        self.seqs: list[int] = []

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Report):
            return Received(self.seqs)
        assert isinstance(message, Numbered)
        self.entered.set()
        await self.gate.wait()
        self.seqs.append(message.seq)
        return None


def tells_in(frame: bytes, envelopes: EnvelopeCodec) -> list[int]:
    try:
        envelope = envelopes.decode(frame)
    except RemoteProtocolError:
        return []  # a handshake frame
    if envelope.kind is MessageKind.TELL:
        messages = [envelopes.decode_payload(envelope)]
    elif envelope.kind is MessageKind.TELLS:
        messages = envelopes.decode_payloads(envelope)
    else:
        return []
    return [m.seq for m in messages if isinstance(m, Numbered)]


class ReceivingRecorder:
    """A stream that notes the tells of every whole frame its reader received."""

    def __init__(self, inner: ByteStream, received: list[int]) -> None:
        self._inner = inner
        self._received = received
        self._reader = FrameReader(max_frame_size=1 << 24)
        self._envelopes = EnvelopeCodec()

    async def receive(self, max_bytes: int = 65536) -> bytes:
        chunk = await self._inner.receive(max_bytes)
        self._reader.feed(chunk)
        while (frame := self._reader.next_frame()) is not None:
            self._received += tells_in(frame, self._envelopes)
        return chunk

    async def send(self, item: bytes) -> None:
        await self._inner.send(item)

    async def send_eof(self) -> None:
        await self._inner.send_eof()

    async def aclose(self) -> None:
        await self._inner.aclose()


class ReceivingTransport(MemoryTransport):
    def __init__(self, network: MemoryNetwork, host: str, received: list[int]) -> None:
        super().__init__(network, host)
        self.received = received

    async def secure(self, stream: ByteStream) -> ByteStream:
        return ReceivingRecorder(stream, self.received)  # type: ignore[return-value]


class SendingTransport(MemoryTransport):
    """Keeps the streams it dialled, so a test can write its own bytes into one."""

    def __init__(self, network: MemoryNetwork, host: str) -> None:
        super().__init__(network, host)
        self.streams: list[ByteStream] = []

    async def connect(self, host: str, port: int) -> ByteStream:
        stream = await super().connect(host, port)
        self.streams.append(stream)
        return stream


def bad_then_tells(first: int, count: int) -> bytes:
    """A frame that is no envelope, then ``count`` whole tell frames: one chunk."""
    envelopes = EnvelopeCodec()
    frames = [encode_frame(b"\xc1")]  # 0xc1: never valid msgpack
    for seq in range(first, first + count):
        envelope = envelopes.tell(Numbered(seq), target="/user/held")
        frames.append(encode_frame(envelopes.encode(envelope)))
    return b"".join(frames)


@pytest.mark.parametrize("ending", ["closed", "bad_input"])
async def test_tells_received_whole_are_delivered_or_dead_lettered_when_a_connection_ends(
    ending: str,
) -> None:
    network = MemoryNetwork()
    received: list[int] = []
    sender = SendingTransport(network, "a")
    async with AsyncExitStack() as stack:
        sa = await stack.enter_async_context(ActorSystem("a"))
        sb = await stack.enter_async_context(ActorSystem("b"))
        a = await stack.enter_async_context(
            RemoteNode(sa, secret=SECRET, transport=sender, host="a")
        )
        b = await stack.enter_async_context(
            RemoteNode(
                sb, secret=SECRET, transport=ReceivingTransport(network, "b", received), host="b"
            )
        )
        letters: list[DeadLetter] = []
        sb.dead_letters.subscribe(letters.append)
        gate, entered = asyncio.Event(), asyncio.Event()
        local = await sb.spawn(Held, gate, entered, name="held")
        ref = a.ref(f"{b.address}/user/held")
        with anyio.fail_after(WAIT * 2):
            for seq in range(TELLS):
                ref.tell(Numbered(seq))
                if seq % 100 == 99:
                    await asyncio.sleep(0)  # a write now and then
            await entered.wait()
            # The reader is blocked on the full mailbox, frames waiting behind it.
            await wait_until(lambda: len(received) > 100)
            if ending == "closed":
                conn = b._peers["a"].conn
                assert conn is not None
                conn.close("cut")
                await wait_until(lambda: b.statistics().connections_closed >= 1)
                gate.set()
            else:
                # Whole frames after a bad one, in the same chunk: received, then cut off.
                await sender.streams[0].send(bad_then_tells(TELLS, 200))
                gate.set()
                await wait_until(lambda: b.statistics().connections_closed >= 1)
            undelivered = b.statistics().tells_undelivered
            report = await local.ask(Report(), timeout=WAIT)
        assert isinstance(report, Received)
    delivered = set(report.seqs)
    dead = {
        letter.message.seq
        for letter in letters
        if isinstance(letter.message, Numbered)
        and "connection from a ended before delivery" in letter.reason
    }
    # Left in the mailbox when the system stopped: delivered, and dead-lettered by the stop.
    stopped = {
        letter.message.seq
        for letter in letters
        if isinstance(letter.message, Numbered) and letter.reason == "actor stopped"
    }
    assert len(report.seqs) == len(delivered), "a tell was delivered twice"
    assert not dead & (delivered | stopped), "dead-lettered and delivered"
    vanished = set(received) - delivered - stopped - dead
    assert not vanished, f"{len(vanished)} received tells vanished: {sorted(vanished)[:10]}"
    assert undelivered == len(dead) > 0
    assert all(letter.recipient == "/user/held" for letter in letters)


async def test_a_tcp_connection_lost_while_delivery_waits_dead_letters_the_rest_in_order() -> None:
    """Push mode (plain TCP): the transport reports the loss at once, while the reader
    waits for room. Whatever the connection received is delivered, in order, up to
    the cut, and the rest of it is dead-lettered on the receiver, in order after
    that: the two together are the sent tells from the first on, with no gap."""
    async with AsyncExitStack() as stack:
        sa = await stack.enter_async_context(ActorSystem("a"))
        sb = await stack.enter_async_context(ActorSystem("b"))
        a = await stack.enter_async_context(RemoteNode(sa, secret=SECRET))
        b = await stack.enter_async_context(RemoteNode(sb, secret=SECRET))
        letters: list[DeadLetter] = []
        sb.dead_letters.subscribe(letters.append)
        gate, entered = asyncio.Event(), asyncio.Event()
        local = await sb.spawn(Held, gate, entered, name="held")
        ref = a.ref(f"{b.address}/user/held")
        with anyio.fail_after(WAIT * 2):
            for seq in range(2000):
                ref.tell(Numbered(seq))
                if seq % 100 == 99:
                    await asyncio.sleep(0)
            await entered.wait()
            await wait_until(lambda: not a.statistics().send_buffered)  # all written
            await wait_until(lambda: b.statistics().bytes_received > 4096)
            conn = b._peers["a"].conn
            assert conn is not None
            conn.stream._lost(ConnectionResetError("reset by the test"))  # type: ignore[attr-defined]
            await wait_until(lambda: b.statistics().connections_closed >= 1)
            undelivered = b.statistics().tells_undelivered
            gate.set()
            report = await local.ask(Report(), timeout=WAIT)
        assert isinstance(report, Received)
    dead = [
        letter.message.seq
        for letter in letters
        if isinstance(letter.message, Numbered)
        and "connection from a ended before delivery (connection_lost)" in letter.reason
    ]
    assert undelivered == len(dead) > 0
    assert report.seqs + dead == list(range(len(report.seqs) + len(dead)))
