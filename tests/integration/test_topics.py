"""Publish/subscribe by topic inside one system."""

from __future__ import annotations

import pytest

from actors import Actor, ActorSystem, MailboxConfig
from actors.testing import Probe
from protocol import Message
from tests.helpers import WAIT, Ping, Pong

pytestmark = pytest.mark.anyio


class _Blocked(Actor[Message]):
    """Capacity 1 and no chance to run between the publishes: its mailbox stays full."""

    async def receive(self, message: Message) -> None:
        return None


async def test_subscribers_of_a_topic_receive_what_is_published_on_it() -> None:
    async with ActorSystem("t") as system:
        jobs, other = await Probe.start(system), await Probe.start(system)
        system.topics.subscribe("control_plane.job_events", jobs.ref)
        system.topics.subscribe("control_plane.resource_updates", other.ref)
        assert system.topics.publish("control_plane.job_events", Ping(1)) == 1
        await jobs.expect_message(Ping(1), timeout=WAIT)
        await other.ref.ask(Pong(), timeout=WAIT)
        assert other.received == [Pong()]


async def test_a_prefix_subscription_receives_every_topic_below_it() -> None:
    async with ActorSystem("t") as system:
        probe = await Probe.start(system)
        system.topics.subscribe("control_plane.*", probe.ref)
        system.topics.publish("control_plane.job_events", Ping(1))
        system.topics.publish("control_plane.resource_updates", Ping(2))
        system.topics.publish("control_planet.other", Ping(3))
        await probe.expect_message(Ping(1), timeout=WAIT)
        await probe.expect_message(Ping(2), timeout=WAIT)
        await probe.ref.ask(Pong(), timeout=WAIT)
        assert probe.received == [Ping(1), Ping(2), Pong()]


async def test_a_full_subscriber_gets_a_dead_letter_and_does_not_block_others() -> None:
    async with ActorSystem("t") as system:
        slow = await system.spawn(_Blocked, mailbox=MailboxConfig(capacity=1))
        fast = await Probe.start(system)
        for ref in (slow, fast.ref):
            system.topics.subscribe("events", ref)
        for n in range(3):
            system.topics.publish("events", Ping(n))
        for n in range(3):
            await fast.expect_message(Ping(n), timeout=WAIT)
        stats = system.topics.statistics()
        assert stats.undelivered == 2
        assert system.dead_letters.count == 2


async def test_stopped_actors_are_unsubscribed() -> None:
    async with ActorSystem("t") as system:
        probe = await Probe.start(system)
        system.topics.subscribe("events", probe.ref)
        system.topics.subscribe("more.*", probe.ref)
        await system.stop(probe.ref)
        assert system.topics.subscribers("events") == ()
        assert system.topics.statistics().subscriptions == 0


def test_topic_names_are_validated() -> None:
    topics = ActorSystem("t").topics
    for bad in ("", "a..b", "*", "a.*.b", ".a"):
        with pytest.raises(ValueError, match="invalid topic name"):
            topics.subscribe(bad, None)  # type: ignore[arg-type]
