"""Hypothesis: with delivery filters coming and going, every message is either
delivered to ``receive`` or refused to its sender, never both and never neither."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import WAIT

from actors import Actor, ActorSystem, DeliveryRefused, MailboxConfig, MailboxFull, lowlevel

VERDICTS = ("accept", "refuse", "raise")

# One step: how to send (tell, send, ask), what the filter says about this message,
# and whether to install or remove a filter first.
steps = st.tuples(
    st.sampled_from(("tell", "send", "ask")),
    st.sampled_from(VERDICTS),
    st.sampled_from(("keep", "install", "remove")),
)


class Seen(Actor[Any]):
    def __init__(self, seen: list[int]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        if isinstance(message, int):
            self.seen.append(message)
        return message


@settings(max_examples=60, deadline=None)
@given(
    plan=st.lists(steps, min_size=1, max_size=80),
    capacity=st.integers(min_value=1, max_value=8),
    senders=st.integers(min_value=1, max_value=3),
)
def test_every_message_is_delivered_or_refused_to_its_sender(
    plan: list[tuple[str, str, str]], capacity: int, senders: int
) -> None:
    verdict_of = {n: verdict for n, (_, verdict, _) in enumerate(plan)}
    delivered: list[int] = []
    refused: list[int] = []  # by a filter, to the sender
    full: list[int] = []  # by a full mailbox, to the sender
    reasons: dict[int, str] = {}

    def screen(message: Any) -> Exception | None:
        if not isinstance(message, int):
            return None
        verdict = verdict_of[message]
        if verdict == "raise":
            raise ValueError(f"filter broke on {message}")
        if verdict == "refuse":
            return DeliveryRefused("/user/s", str(message))
        return None

    async def scenario() -> None:
        async with ActorSystem("prop") as system:
            ref = await system.spawn(
                Seen, delivered, name="s", mailbox=MailboxConfig(capacity=capacity)
            )
            removers: list[Any] = []

            async def one(n: int, how: str) -> None:
                try:
                    if how == "tell":
                        ref.tell(n)  # the mailbox may be full: then it is refused too
                    elif how == "send":
                        await ref.send(n)
                    else:
                        assert await ref.ask(n, timeout=WAIT) == n
                except (DeliveryRefused, ValueError) as exc:
                    refused.append(n)
                    reasons[n] = str(exc)
                except MailboxFull:  # a tell to a full mailbox: refused by it, and told too
                    full.append(n)

            async def sender(who: int) -> None:
                for n, (how, _, change) in enumerate(plan):
                    if n % senders != who:
                        continue
                    if change == "install":
                        removers.append(lowlevel.add_delivery_filter(ref, screen))
                    elif change == "remove" and removers:
                        removers.pop()()
                    await one(n, how)
                    await asyncio.sleep(0)  # let the senders interleave

            async with anyio.create_task_group() as tg:
                for who in range(senders):
                    tg.start_soon(sender, who)
            assert await ref.ask("done", timeout=WAIT) == "done"

    anyio.run(scenario)
    told = refused + full
    assert len(set(delivered)) == len(delivered), "a message was delivered twice"
    assert len(set(told)) == len(told), "a message was refused twice"
    assert not set(delivered) & set(told), "a message was delivered and refused"
    assert set(delivered) | set(told) == set(range(len(plan))), "a message went missing"
    for n in refused:
        assert verdict_of[n] != "accept", "a message the filter accepted was refused"
        assert str(n) in reasons[n], "the sender got another message's refusal"
