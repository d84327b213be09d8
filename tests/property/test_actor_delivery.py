"""Hypothesis invariants of in-process delivery: order per sender, nothing lost."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from tests.helpers import WAIT, Pong

from actors import Actor, ActorSystem, MailboxConfig, MailboxFull, Overflow
from actors._mailbox import Mailbox
from protocol import Message


class Tagged(Message, tag="prop.tagged"):
    sender: int
    seq: int


class Collector(Actor[Message]):
    def __init__(self, fail_on: frozenset[int]) -> None:
        self.fail_on = fail_on

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Tagged):
            SEEN.append((message.sender, message.seq))
            if message.seq in self.fail_on and message.sender == 0:
                raise RuntimeError("induced failure")
            return None
        return len(SEEN)


SEEN: list[tuple[int, int]] = []


@settings(max_examples=40, deadline=None)
@given(
    plan=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=200),
    capacity=st.integers(min_value=1, max_value=64),
    fail_on=st.frozensets(st.integers(min_value=0, max_value=50), max_size=3),
)
def test_messages_from_each_sender_arrive_in_order_and_none_is_lost(
    plan: list[int], capacity: int, fail_on: frozenset[int]
) -> None:
    """Senders interleave `send`s; failures restart the actor; nothing goes missing."""
    SEEN.clear()

    async def scenario() -> None:
        async with ActorSystem("prop") as system:
            ref = await system.spawn(Collector, fail_on, mailbox=MailboxConfig(capacity=capacity))
            counters = [0, 0, 0, 0]

            async def sender(who: int) -> None:
                for step in plan:
                    if step == who:
                        await ref.send(Tagged(who, counters[who]))
                        counters[who] += 1
                        await asyncio.sleep(0)

            async with anyio.create_task_group() as tg:
                for who in range(4):
                    tg.start_soon(sender, who)
            await ref.ask(Pong(), timeout=WAIT)

    anyio.run(scenario)
    for who in range(4):
        received = [seq for sender, seq in SEEN if sender == who]
        assert received == list(range(plan.count(who)))


class MailboxModel(RuleBasedStateMachine):
    """The mailbox against a list model, for every overflow policy."""

    def __init__(self) -> None:
        super().__init__()
        self.capacity = 3
        self.policy = Overflow.DROP_OLDEST
        self.mailbox: Mailbox | None = None
        self.model: list[int] = []
        self.dropped: list[int] = []
        self.next = 0

    @precondition(lambda self: self.mailbox is None)
    @rule(
        capacity=st.integers(min_value=1, max_value=5),
        policy=st.sampled_from(list(Overflow)),
    )
    def create(self, capacity: int, policy: Overflow) -> None:
        self.capacity, self.policy = capacity, policy
        self.mailbox = Mailbox("/m", MailboxConfig(capacity=capacity, overflow=policy))

    @precondition(lambda self: self.mailbox is not None)
    @rule()
    def put(self) -> None:
        assert self.mailbox is not None
        item = self.next
        self.next += 1
        full = len(self.model) >= self.capacity
        if full and self.policy is Overflow.FAIL:
            try:
                self.mailbox.put_nowait(item)
            except MailboxFull:
                return
            raise AssertionError("a full FAIL mailbox accepted an item")
        dropped = self.mailbox.put_nowait(item)
        if not full:
            assert dropped is None
            self.model.append(item)
        elif self.policy is Overflow.DROP_NEWEST:
            assert dropped == item
            self.dropped.append(item)
        else:
            assert dropped == self.model.pop(0)
            self.dropped.append(dropped)
            self.model.append(item)

    @precondition(lambda self: self.mailbox is not None and self.model)
    @rule()
    def get(self) -> None:
        assert self.mailbox is not None
        assert self.mailbox.get_nowait() == self.model.pop(0)

    @invariant()
    def sizes_and_counters_agree(self) -> None:
        if self.mailbox is None:
            return
        stats = self.mailbox.statistics()
        assert stats.size == len(self.model) <= self.capacity
        assert stats.dropped_newest + stats.dropped_oldest == len(self.dropped)


TestMailboxModel = MailboxModel.TestCase
TestMailboxModel.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
