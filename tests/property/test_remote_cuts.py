"""Invariant over repeated connection cuts: no accepted tell vanishes.

A tell the sender accepted is, in the end, either delivered to its target or
in the sender's dead letters, unless its bytes had already been handed to the
transport when the connection was cut: what the transport took and then lost
cannot be known (see "What a cut loses" in docs/cluster.md). The test's own
transport records what it took, so the invariant is checked exactly: every
accepted tell is delivered, dead-lettered, or was taken by the transport;
none is both delivered and dead-lettered, nor dead-lettered after the
transport took it.

On the receiving side, every tell of a frame its transport handed over whole is
delivered or in the receiver's dead letters (a connection that ends abruptly
dead-letters what it received and had not delivered), never both.

Seeded loops over the in-memory transport: the receiver is slow (a small
mailbox), so the sender's pipe, write buffer and send buffer are full when
the connection is cut, and cut again, several times per run.
"""

from __future__ import annotations

import asyncio
import random
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from tests.helpers import SECRET, WAIT, wait_until

from actors import Actor, ActorSystem, DeadLetter, MailboxConfig
from actors.remote import MemoryNetwork, RemoteConfig, RemoteNode, SendBufferFull
from actors.remote._memory import MemoryTransport
from protocol import EnvelopeCodec, FrameReader, Message, MessageKind, RemoteProtocolError

if TYPE_CHECKING:
    from anyio.abc import ByteStream

TELLS = 1500
CUTS = 5


class Numbered(Message, tag="prop.cuts.numbered"):
    seq: int
    data: bytes = b""


class Report(Message, tag="prop.cuts.report"):
    pass


class Received(Message, tag="prop.cuts.received"):
    seqs: list[int]


class Recorder(Actor[Message]):
    mailbox = MailboxConfig(capacity=8)

    def __init__(self) -> None:
        self.seqs: list[int] = []

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Report):
            return Received(self.seqs)
        assert isinstance(message, Numbered)
        self.seqs.append(message.seq)
        if message.seq % 5 == 0:
            await asyncio.sleep(0)  # slow now and then: the mailbox, then the pipe, fill
        return None


class RecordingStream:
    """A stream that notes the tells in every chunk its inner stream took."""

    def __init__(self, inner: ByteStream, taken: set[int]) -> None:
        self._inner = inner
        self._taken = taken
        self._reader = FrameReader(max_frame_size=1 << 24)
        self._envelopes = EnvelopeCodec()

    async def receive(self, max_bytes: int = 65536) -> bytes:
        return await self._inner.receive(max_bytes)

    async def send(self, item: bytes) -> None:
        await self._inner.send(item)
        self._reader.feed(bytes(item))  # taken: note its tells
        while (frame := self._reader.next_frame()) is not None:
            try:
                envelope = self._envelopes.decode(frame)
            except RemoteProtocolError:
                continue  # a handshake frame
            if envelope.kind is MessageKind.TELL:
                messages = [self._envelopes.decode_payload(envelope)]
            elif envelope.kind is MessageKind.TELLS:
                messages = self._envelopes.decode_payloads(envelope)
            else:
                continue
            self._taken.update(m.seq for m in messages if isinstance(m, Numbered))

    async def send_eof(self) -> None:
        await self._inner.send_eof()

    async def aclose(self) -> None:
        await self._inner.aclose()


class ReceivingStream:
    """A stream that notes the tells of every whole frame its reader received."""

    def __init__(self, inner: ByteStream, received: set[int]) -> None:
        self._inner = inner
        self._received = received
        self._reader = FrameReader(max_frame_size=1 << 24)
        self._envelopes = EnvelopeCodec()

    async def receive(self, max_bytes: int = 65536) -> bytes:
        chunk = await self._inner.receive(max_bytes)
        self._reader.feed(chunk)
        while (frame := self._reader.next_frame()) is not None:
            try:
                envelope = self._envelopes.decode(frame)
            except RemoteProtocolError:
                continue  # a handshake frame
            if envelope.kind is MessageKind.TELL:
                messages = [self._envelopes.decode_payload(envelope)]
            elif envelope.kind is MessageKind.TELLS:
                messages = self._envelopes.decode_payloads(envelope)
            else:
                continue
            self._received.update(m.seq for m in messages if isinstance(m, Numbered))
        return chunk

    async def send(self, item: bytes) -> None:
        await self._inner.send(item)

    async def send_eof(self) -> None:
        await self._inner.send_eof()

    async def aclose(self) -> None:
        await self._inner.aclose()


class ReceivingTransport(MemoryTransport):
    def __init__(self, network: MemoryNetwork, host: str, received: set[int]) -> None:
        super().__init__(network, host)
        self.received = received

    async def secure(self, stream: ByteStream) -> ByteStream:
        return ReceivingStream(stream, self.received)  # type: ignore[return-value]


class RecordingTransport(MemoryTransport):
    def __init__(self, network: MemoryNetwork, host: str, taken: set[int]) -> None:
        super().__init__(network, host)
        self.taken = taken

    async def connect(self, host: str, port: int) -> ByteStream:
        stream = await super().connect(host, port)
        return RecordingStream(stream, self.taken)  # type: ignore[return-value]


class Outcome:
    def __init__(self) -> None:
        self.delivered: list[int] = []
        self.accepted: set[int] = set()
        self.letters: list[DeadLetter] = []  # the sender's
        self.taken: set[int] = set()  # by the sender's transport
        self.unsent = 0
        self.received: set[int] = set()  # in whole frames, by the receiver's transport
        self.received_letters: list[DeadLetter] = []
        self.undelivered = 0


async def run(seed: int) -> Outcome:
    rng = random.Random(seed)
    network = MemoryNetwork()
    out = Outcome()
    taken = out.taken
    config = RemoteConfig(send_buffer=64, batch_bytes=2048)
    async with AsyncExitStack() as stack:
        sa = await stack.enter_async_context(ActorSystem("a"))
        sb = await stack.enter_async_context(ActorSystem("b"))
        a = await stack.enter_async_context(
            RemoteNode(
                sa, secret=SECRET, transport=RecordingTransport(network, "a", taken), config=config
            )
        )
        b = await stack.enter_async_context(
            RemoteNode(
                sb,
                secret=SECRET,
                transport=ReceivingTransport(network, "b", out.received),
                host="b",
                config=config,
            )
        )
        letters = out.letters
        sa.dead_letters.subscribe(letters.append)
        sb.dead_letters.subscribe(out.received_letters.append)
        await sb.spawn(Recorder, name="rec")
        ref = a.ref(f"{b.address}/user/rec")
        cut_at = sorted(rng.sample(range(100, TELLS), CUTS))
        accepted = out.accepted
        with anyio.fail_after(WAIT * 4):
            for seq in range(TELLS):
                if cut_at and seq == cut_at[0]:
                    cut_at.pop(0)
                    network.drop("a")
                message = Numbered(seq, bytes(rng.choice((0, 8, 300))))
                for _ in range(10_000):  # bounded: a full send buffer drains meanwhile
                    try:
                        ref.tell(message)
                    except SendBufferFull:
                        await asyncio.sleep(0)
                    else:
                        accepted.add(seq)
                        break
                if rng.random() < 0.05:
                    await asyncio.sleep(0)
            report = await ref.ask(Report(), timeout=WAIT * 2)  # after the last tell
            assert isinstance(report, Received)
            await wait_until(lambda: a.statistics().connections <= 1)  # the cut ones finished
            await wait_until(lambda: b.statistics().connections <= 1)
        out.delivered = report.seqs
        out.unsent = a.statistics().tells_unsent
        out.undelivered = b.statistics().tells_undelivered
        return out


@pytest.mark.parametrize("seed", range(6))
def test_every_accepted_tell_is_delivered_or_dead_lettered_across_cuts(seed: int) -> None:
    out = asyncio.run(run(seed))
    delivered, accepted, letters, taken, unsent = (
        out.delivered,
        out.accepted,
        out.letters,
        out.taken,
        out.unsent,
    )
    assert len(delivered) == len(set(delivered)), "a tell was delivered twice"
    dead = {
        letter.message.seq
        for letter in letters
        if isinstance(letter.message, Numbered)
        and "connection to b lost before it was sent" in letter.reason
    }
    assert all(letter.recipient.endswith("/user/rec") for letter in letters)
    assert len(dead) == unsent == len(letters)
    vanished = accepted - set(delivered) - dead - taken
    assert not vanished, f"{len(vanished)} accepted tells vanished: {sorted(vanished)[:10]}"
    assert not dead & set(delivered), "dead-lettered and delivered"
    assert not dead & taken, "dead-lettered after the transport took it"


@pytest.mark.parametrize("seed", range(6))
def test_every_tell_received_whole_is_delivered_or_dead_lettered_across_cuts(seed: int) -> None:
    out = asyncio.run(run(seed))
    delivered = set(out.delivered)
    dead = {
        letter.message.seq
        for letter in out.received_letters
        if isinstance(letter.message, Numbered)
        and "connection from a ended before delivery" in letter.reason
    }
    stopped = {  # left in the mailbox when the system stopped: delivered
        letter.message.seq
        for letter in out.received_letters
        if isinstance(letter.message, Numbered) and letter.reason == "actor stopped"
    }
    assert len(dead) == out.undelivered
    assert not dead & (delivered | stopped), "dead-lettered and delivered"
    vanished = out.received - delivered - stopped - dead
    assert not vanished, f"{len(vanished)} received tells vanished: {sorted(vanished)[:10]}"
