"""Hypothesis: asks with any timeouts, on virtual time, expire exactly when due.

A system's asks share one timer (``AskDeadlines``): asks are kept in lanes
by timeout value, the timer is armed for the earliest deadline and re-armed
after each firing. Whatever mix of timeouts, start times and answers, each
ask that is not answered raises :class:`~actors.AskTimeout` at its deadline
(never before it, and no later than the loop's next step), with its own
timeout in the error, and each ask answered before its deadline gets its
reply. Runs on :class:`~actors.testing.VirtualEventLoop`, so hours of
timeouts take no real time.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from actors import Actor, ActorSystem, AskTimeout
from actors.testing import VirtualEventLoop
from protocol import Message


class Hold(Message, tag="t.deadlines.hold"):
    """Answered after ``delay`` seconds (never, if ``None``)."""

    delay: float | None


class Answerer(Actor[Message]):
    """Answers a :class:`Hold` after its delay, in a task of its own (so that asks
    held for ever do not keep the others from being answered)."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()

    async def receive(self, message: Message) -> Any:
        assert isinstance(message, Hold)
        if message.delay is None:
            await asyncio.Event().wait()  # never answers
        else:
            await asyncio.sleep(message.delay)
        return message


timeouts = st.one_of(
    st.sampled_from([0.5, 1.0, 2.5, 30.0]),  # shared timeouts: many asks in one lane
    st.floats(min_value=1e-3, max_value=1e4, allow_nan=False, allow_infinity=False),
)

asks = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=50.0),  # when the ask starts
        timeouts,
        st.one_of(st.none(), st.floats(min_value=0.0, max_value=100.0)),  # answer delay
    ),
    min_size=1,
    max_size=25,
)


async def scenario(plan: list[tuple[float, float, float | None]]) -> None:
    loop = asyncio.get_running_loop()
    async with ActorSystem("deadlines") as system:
        # One answerer per ask: each handles one message at a time, so a held
        # ask would otherwise delay the delivery of the next.
        refs = [await system.spawn(Answerer) for _ in plan]

        async def one(index: int, start: float, timeout: float, delay: float | None) -> None:
            await asyncio.sleep(start)
            asked = loop.time()
            due = asked + timeout
            message = Hold(delay)
            try:
                reply = await refs[index].ask(message, timeout)
            except AskTimeout as error:
                expired = (loop.time(), error.timeout)
            else:
                expired = None
            if expired is not None:
                now, reported = expired
                assert now >= due, f"expired early: at {now}, due at {due}"
                # The clock takes a delay (call_later), not a time: the timer is due
                # at now + (deadline - now), which may round a few ulps off.
                assert now <= due + 4 * math.ulp(due), f"expired late: at {now}, due at {due}"
                assert reported == timeout
                # Only an ask whose answer would come at or after its deadline.
                assert delay is None or asked + delay >= due
            else:
                assert reply == message
                assert delay is not None
                assert loop.time() == asked + delay
                assert loop.time() <= due, "answered after its deadline"

        async with asyncio.TaskGroup() as group:
            for index, (start, timeout, delay) in enumerate(plan):
                group.create_task(one(index, start, timeout, delay))
        deadlines = system._ask_deadlines
        assert deadlines is None or deadlines.pending() == 0


@settings(max_examples=60, deadline=None)
@given(asks)
def test_asks_expire_exactly_when_due_never_early(
    plan: list[tuple[float, float, float | None]],
) -> None:
    loop = VirtualEventLoop()
    try:
        loop.run_until_complete(scenario(plan))
    finally:
        loop.close()
