"""Hypothesis invariants of remote delivery: per sender order, nothing lost.

Several senders on one node talk to two actors on another, each with its own
random mix of ``tell``, ``send`` and ``ask``, targets and message sizes, all
interleaved (so runs of tells to one target open and close all the time);
the actors' mailboxes and the send buffer are small, so delivery keeps
hitting backpressure (full mailbox, full buffer, batched writes). Over the
in-memory transport and over loopback TCP, every sender's messages must
arrive exactly once each, at each actor in the order it sent them there.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import SECRET, WAIT

from actors import Actor, ActorSystem, MailboxConfig
from actors.remote import MemoryNetwork, RemoteConfig, RemoteNode, SendBufferFull, TcpTransport
from protocol import Message

if TYPE_CHECKING:
    from actors import ActorRef
    from actors.remote import Transport


class Numbered(Message, tag="prop.remote.numbered"):
    sender: int
    seq: int
    data: bytes


class Report(Message, tag="prop.remote.report"):
    pass


class Received(Message, tag="prop.remote.received"):
    pairs: list[tuple[int, int]]


class Recorder(Actor[Message]):
    mailbox = MailboxConfig(capacity=4)

    def __init__(self) -> None:
        self.pairs: list[tuple[int, int]] = []

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Report):
            return Received(self.pairs)
        assert isinstance(message, Numbered)
        self.pairs.append((message.sender, message.seq))
        if message.seq % 7 == 0:
            await asyncio.sleep(0)  # a slow handler now and then: the mailbox fills
        return None


# One sender's script: (operation, payload size, target actor) per message.
operations = st.sampled_from(["tell", "send", "ask"])
sizes = st.one_of(st.integers(0, 64), st.integers(0, 20_000))
TARGETS = 2
scripts = st.lists(
    st.tuples(operations, sizes, st.integers(0, TARGETS - 1)), min_size=1, max_size=60
)
Plan = list[tuple[str, int, int]]


async def run_senders(
    client: Transport, server: Transport, host: str, plans: list[Plan]
) -> list[list[tuple[int, int]]]:
    """What each target actor received: (sender, seq) pairs, in arrival order."""
    config = RemoteConfig(send_buffer=8, batch_bytes=4096)
    async with AsyncExitStack() as stack:
        sa = await stack.enter_async_context(ActorSystem("a"))
        sb = await stack.enter_async_context(ActorSystem("b"))
        a = await stack.enter_async_context(
            RemoteNode(sa, secret=SECRET, transport=client, host=host, config=config)
        )
        b = await stack.enter_async_context(
            RemoteNode(sb, secret=SECRET, transport=server, host=host, config=config)
        )
        refs = []
        for target in range(TARGETS):
            await sb.spawn(Recorder, name=f"rec{target}")
            refs.append(a.ref(f"{b.address}/user/rec{target}"))

        async def sender(index: int, plan: Plan) -> None:
            for seq, (op, size, target) in enumerate(plan):
                ref = refs[target]
                message = Numbered(index, seq, bytes(size))
                if op == "ask":
                    assert await ref.ask(message, timeout=WAIT) is None
                elif op == "send":
                    await ref.send(message)
                else:
                    while True:  # tell never waits: on a full buffer, let it drain
                        try:
                            ref.tell(message)
                            break
                        except SendBufferFull:
                            await asyncio.sleep(0)

        with anyio.fail_after(WAIT * 2):
            async with anyio.create_task_group() as tg:
                for index, plan in enumerate(plans):
                    tg.start_soon(sender, index, plan)
            received = []
            for ref in refs:
                report = await ref.ask(Report(), timeout=WAIT)
                assert isinstance(report, Received)
                received.append(report.pairs)
        return received


def check(plans: list[Plan], received: list[list[tuple[int, int]]]) -> None:
    for target, pairs in enumerate(received):
        for index, plan in enumerate(plans):
            seen = [seq for sender, seq in pairs if sender == index]
            sent = [seq for seq, (_, _, to) in enumerate(plan) if to == target]
            assert seen == sent, f"sender {index} to rec{target}: {seen}"
    assert sum(map(len, received)) == sum(len(plan) for plan in plans)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=st.lists(scripts, min_size=1, max_size=4))
def test_memory_transport_keeps_each_senders_order_and_loses_nothing(
    plans: list[Plan],
) -> None:
    async def main() -> list[list[tuple[int, int]]]:
        network = MemoryNetwork()
        return await run_senders(network.transport("a"), network.transport("b"), "b", plans)

    check(plans, asyncio.run(main()))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=st.lists(scripts, min_size=1, max_size=4))
def test_tcp_transport_keeps_each_senders_order_and_loses_nothing(
    plans: list[Plan],
) -> None:
    async def main() -> list[list[tuple[int, int]]]:
        return await run_senders(TcpTransport(), TcpTransport(), "127.0.0.1", plans)

    check(plans, asyncio.run(main()))


# -- asks written alone (write-through) and the frames around them ------------------


class Note(Message, tag="prop.remote.note"):
    seq: int


class Answer(Message, tag="prop.remote.answer"):
    """Ask ``tells`` notes back to the asker's node, then reply with the notes seen."""

    tells: int


class NotesSeen(Message, tag="prop.remote.notes_seen"):
    seqs: list[int]


class Noter(Actor[Message]):
    """Records notes; answers ``Answer`` after telling notes back to ``back``."""

    def __init__(self, back: ActorRef[Message] | None = None) -> None:
        self.back = back
        self.seqs: list[int] = []
        self.sent = 0

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Note):
            self.seqs.append(message.seq)
            return None
        if isinstance(message, Answer):
            for _ in range(message.tells):
                assert self.back is not None
                self.back.tell(Note(self.sent))  # written before the reply, never after
                self.sent += 1
        return NotesSeen(list(self.seqs))


# One step: tell this many notes, then ask for the answer after this many notes back.
steps = st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=25)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=steps)
def test_tcp_asks_and_answers_written_alone_never_overtake_the_tells_around_them(
    plan: list[tuple[int, int]],
) -> None:
    """Sequential asks and their answers go out alone when nothing waits, the fast path
    of a round trip; tells sent just before them in the same turn (by the asker, and
    by the answering actor before its reply) must still arrive first, in order."""

    async def main() -> None:
        async with AsyncExitStack() as stack:
            sa = await stack.enter_async_context(ActorSystem("a"))
            sb = await stack.enter_async_context(ActorSystem("b"))
            a = await stack.enter_async_context(
                RemoteNode(sa, secret=SECRET, transport=TcpTransport(), host="127.0.0.1")
            )
            b = await stack.enter_async_context(
                RemoteNode(sb, secret=SECRET, transport=TcpTransport(), host="127.0.0.1")
            )
            await sa.spawn(Noter, name="home")
            back = b.ref(f"{a.address}/user/home")
            await sb.spawn(lambda: Noter(back), name="away")
            away = a.ref(f"{b.address}/user/away")
            home = a.ref(f"{a.address}/user/home")  # resolves locally
            told = back_expected = 0
            with anyio.fail_after(WAIT * 2):
                for tells, notes_back in plan:
                    for _ in range(tells):
                        away.tell(Note(told))
                        told += 1
                    seen = await away.ask(Answer(notes_back), timeout=WAIT)
                    assert seen == NotesSeen(list(range(told)))
                    back_expected += notes_back
                    # The notes came before the reply on one connection: already delivered
                    # to home's mailbox, ahead of this ask.
                    mine = await home.ask(Answer(0), timeout=WAIT)
                    assert mine == NotesSeen(list(range(back_expected)))

    asyncio.run(main())
