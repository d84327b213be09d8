"""Many askers on one actor: each gets its own replies, in order, exactly once;
a cancelled asker is skipped; an ask outlives neither its system nor its loop."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors import Actor, ActorStopped, ActorSystem
from protocol import Message
from tests.helpers import WAIT, Echo, Ping


class Asked(Message, tag="test.concurrent.asked"):
    sender: int
    seq: int


class Recorder(Actor[Message]):
    """Replies with what it was asked; records what it handled; a ``Ping`` holds it
    until ``gate`` opens."""

    def __init__(self, handled: list[Any], gate: asyncio.Event) -> None:
        self.handled = handled
        self.gate = gate

    async def receive(self, message: Message) -> Any:
        if type(message) is Ping:
            await self.gate.wait()
        self.handled.append(message)
        return message


@pytest.mark.anyio
async def test_many_concurrent_askers_each_get_their_own_replies_in_order() -> None:
    handled: list[Any] = []
    gate = asyncio.Event()
    gate.set()
    replies: dict[int, list[Any]] = {}

    async def asker(ref: Any, sender: int) -> None:
        replies[sender] = [await ref.ask(Asked(sender, seq)) for seq in range(20)]

    async with ActorSystem("t") as system:
        ref = await system.spawn(Recorder, handled, gate)
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                for sender in range(300):
                    tg.start_soon(asker, ref, sender)
    assert replies == {s: [Asked(s, q) for q in range(20)] for s in range(300)}
    assert len(handled) == 300 * 20
    for sender in range(300):  # per sender, handled in the order asked
        assert [m.seq for m in handled if m.sender == sender] == list(range(20))


@pytest.mark.anyio
async def test_an_ask_cancelled_while_queued_is_not_handled_and_the_actor_carries_on() -> None:
    handled: list[Any] = []
    gate = asyncio.Event()
    async with ActorSystem("t") as system:
        ref = await system.spawn(Recorder, handled, gate)
        ref.tell(Ping(0))  # holds the actor until the gate opens
        queued = asyncio.create_task(ref.ask(Asked(1, 0)))
        later = asyncio.create_task(ref.ask(Asked(2, 0)))
        await asyncio.sleep(0)  # both asks are queued behind the Ping
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        gate.set()
        with anyio.fail_after(WAIT):
            assert await later == Asked(2, 0)
            assert await ref.ask(Asked(3, 0)) == Asked(3, 0)
        assert handled == [Ping(0), Asked(2, 0), Asked(3, 0)]
        assert system.statistics().failures == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=st.lists(
        st.tuples(st.integers(1, 8), st.sets(st.integers(0, 7), max_size=3)),
        min_size=1,
        max_size=12,
    )
)
def test_concurrent_askers_with_cancellations_lose_and_duplicate_nothing(
    plan: list[tuple[int, set[int]]],
) -> None:
    """Askers each ask a few times while the actor is held; some of their asks are
    cancelled while queued. Every ask not cancelled is answered with its own
    message, exactly once, and handled in its sender's order; no cancelled ask
    is handled."""

    async def run() -> None:
        handled: list[Any] = []
        gate = asyncio.Event()
        async with ActorSystem("t") as system:
            ref = await system.spawn(Recorder, handled, gate)
            ref.tell(Ping(0))
            tasks = {
                (sender, seq): asyncio.create_task(ref.ask(Asked(sender, seq)))
                for sender, (count, _) in enumerate(plan)
                for seq in range(count)
            }
            await asyncio.sleep(0)  # every ask queued behind the Ping
            cancelled = {
                (sender, seq)
                for sender, (count, cancels) in enumerate(plan)
                for seq in cancels
                if seq < count
            }
            for key in cancelled:
                tasks[key].cancel()
            gate.set()
            with anyio.fail_after(WAIT):
                await asyncio.wait(tasks.values())
            for key, task in tasks.items():
                if key in cancelled:
                    assert task.cancelled()
                else:
                    assert task.result() == Asked(*key)
            expected = [Ping(0)] + [
                Asked(sender, seq)
                for seq in range(8)
                for sender, (count, _) in enumerate(plan)
                if seq < count and (sender, seq) not in cancelled
            ]
            assert sorted(handled[1:], key=repr) == sorted(expected[1:], key=repr)
            for sender in range(len(plan)):
                order = [m.seq for m in handled[1:] if m.sender == sender]
                assert order == sorted(order)
            assert system.statistics().failures == 0

    asyncio.run(run())


def test_an_ask_after_the_system_shut_down_fails_on_a_new_loop() -> None:
    """The system keeps its loop only while it runs: an ask made later, from another
    loop, fails as a stopped actor's ask does (not with a future of a closed loop)."""

    async def start() -> Any:
        async with ActorSystem("t") as system:
            ref = await system.spawn(Echo)
            assert await ref.ask(Ping(1), timeout=WAIT) == Ping(1)
        return ref

    ref = asyncio.run(start())

    async def ask_again() -> None:
        with pytest.raises(ActorStopped):
            await ref.ask(Ping(2), timeout=WAIT)
        with pytest.raises(ActorStopped):
            await ref.ask(Ping(3))

    asyncio.run(ask_again())
