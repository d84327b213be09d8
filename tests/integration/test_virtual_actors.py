"""Actors by key: activated on their first message, passivated when idle."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors import Actor, ActorSystem
from protocol import Message
from tests.helpers import WAIT, Boom, ManualClock, Ping, Pong, wait_until

pytestmark = pytest.mark.anyio

LIFECYCLE: list[str] = []


class Conversation(Actor[Message]):
    def __init__(self, key: str) -> None:
        self.key = key
        self.turns = 0

    async def on_start(self) -> None:
        LIFECYCLE.append(f"start {self.key}")

    async def on_stop(self) -> None:
        LIFECYCLE.append(f"stop {self.key}")

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Boom):
            raise RuntimeError("conversation crashed")
        if isinstance(message, Ping):
            self.turns += 1
            return None
        return (self.key, self.turns)


@pytest.fixture(autouse=True)
def _clear() -> None:
    LIFECYCLE.clear()


async def test_the_first_message_activates_the_actor_for_its_key() -> None:
    async with ActorSystem("t") as system:
        alice = system.virtual(Conversation, "alice")
        assert not system._virtual.is_active(Conversation, "alice")
        alice.tell(Ping())
        assert await alice.ask(Pong(), timeout=WAIT) == ("alice", 1)
        assert await system.virtual(Conversation, "bob").ask(Pong(), timeout=WAIT) == ("bob", 0)
        assert system.virtual_statistics().active == 2
        assert alice.path == "/virtual/Conversation:alice"
        assert system.virtual(Conversation, "alice") == alice


async def test_an_idle_actor_is_passivated_and_reactivated_fresh() -> None:
    clock = ManualClock()
    async with ActorSystem("t", clock=clock) as system:
        ref = system.virtual(Conversation, "c1", idle_after=60.0)
        ref.tell(Ping())
        assert await ref.ask(Pong(), timeout=WAIT) == ("c1", 1)
        clock.advance(59.0)
        assert system.virtual_statistics().active == 1
        clock.advance(1.0)
        await wait_until(lambda: system.virtual_statistics().passivations == 1)
        assert system.virtual_statistics().active == 0
        assert LIFECYCLE == ["start c1", "stop c1"]
        assert await ref.ask(Pong(), timeout=WAIT) == ("c1", 0)
        assert LIFECYCLE == ["start c1", "stop c1", "start c1"]


async def test_one_sweep_passivates_each_actor_exactly_at_its_own_deadline() -> None:
    # Many actors, one timer between them: each still goes exactly idle_after
    # after its last message, whatever the others' deadlines.
    # The asks carry no timeout: a timed ask would arm the system's ask timer on
    # this clock too; asyncio.wait_for bounds them on the loop's own time.
    clock = ManualClock()
    async with ActorSystem("t", clock=clock) as system:
        refs = [system.virtual(Conversation, f"c{n}", idle_after=10.0 * n) for n in (3, 1, 2)]
        for ref in refs:
            await asyncio.wait_for(ref.ask(Ping()), WAIT)
        pending = [t for t in clock._timers if not t[3].cancelled]
        assert len(pending) == 1  # the sweep's, at the earliest deadline
        clock.advance(5.0)
        await asyncio.wait_for(refs[2].ask(Ping()), WAIT)  # c2 used again at 5 s: due at 25 s now
        for deadline, passivated in ((9.0, 0), (10.0, 1), (24.0, 1), (25.0, 2), (30.0, 3)):
            clock.advance(deadline - (clock.time - 1000.0))
            await wait_until(lambda n=passivated: system.virtual_statistics().passivations == n)
            assert system.virtual_statistics().active == 3 - passivated
        assert LIFECYCLE == [
            "start c3", "start c1", "start c2", "stop c1", "stop c2", "stop c3"
        ]  # fmt: skip


class Leave(Message):
    pass


class Leaving(Conversation):
    async def receive(self, message: Message) -> Any:
        if isinstance(message, Leave):
            self.context.stop()
            return None
        return await super().receive(message)


async def test_an_activation_that_stops_itself_is_deactivated_not_restarted() -> None:
    async with ActorSystem("t") as system:
        ref = system.virtual(Leaving, "l1")
        ref.tell(Ping())
        assert await ref.ask(Pong(), timeout=WAIT) == ("l1", 1)
        ref.tell(Leave())
        await wait_until(lambda: LIFECYCLE == ["start l1", "stop l1"])
        assert await ref.ask(Pong(), timeout=WAIT) == ("l1", 0)
        assert LIFECYCLE == ["start l1", "stop l1", "start l1"]
        assert system.virtual_statistics().activations == 2


async def test_activity_postpones_passivation() -> None:
    clock = ManualClock()
    async with ActorSystem("t", clock=clock) as system:
        ref = system.virtual(Conversation, "busy", idle_after=10.0)
        for _ in range(5):
            await ref.ask(Ping(), timeout=WAIT)
            clock.advance(6.0)
        assert system.virtual_statistics().passivations == 0
        assert await ref.ask(Pong(), timeout=WAIT) == ("busy", 5)


async def test_messages_arriving_during_passivation_reach_the_next_activation() -> None:
    clock = ManualClock()
    stop_gate = asyncio.Event()

    class Slow(Conversation):
        async def on_stop(self) -> None:
            await stop_gate.wait()
            await super().on_stop()

    async with ActorSystem("t", clock=clock) as system:
        ref = system.virtual(Slow, "s", idle_after=5.0)
        await ref.ask(Ping(), timeout=WAIT)
        clock.advance(5.0)
        for _ in range(3):
            ref.tell(Ping())  # arrives while the old activation is stopping
        entry = system._virtual._entries[(Slow, "s")]
        assert entry.passivating is not None
        assert len(entry.pending) == 3
        stop_gate.set()
        await wait_until(lambda: system.virtual_statistics().passivations == 1)
        assert await ref.ask(Pong(), timeout=WAIT) == ("s", 3)
        assert system.dead_letters.count == 0


async def test_a_failing_activation_is_restarted_under_the_virtual_root() -> None:
    async with ActorSystem("t") as system:
        ref = system.virtual(Conversation, "f")
        with pytest.raises(RuntimeError, match="crashed"):
            await ref.ask(Boom(), timeout=WAIT)
        assert await ref.ask(Pong(), timeout=WAIT) == ("f", 0)


async def test_keys_with_slashes_stay_one_path_segment() -> None:
    async with ActorSystem("t") as system:
        ref = system.virtual(Conversation, "team/alpha")
        assert await ref.ask(Pong(), timeout=WAIT) == ("team/alpha", 0)
        assert ref.path == "/virtual/Conversation:team%2Falpha"


async def test_shutdown_stops_the_activations() -> None:
    async with ActorSystem("t") as system:
        for key in ("a", "b"):
            await system.virtual(Conversation, key).ask(Ping(), timeout=WAIT)
    assert sorted(LIFECYCLE) == ["start a", "start b", "stop a", "stop b"]


def test_keys_must_be_non_empty_strings() -> None:
    system = ActorSystem("t")
    with pytest.raises(ValueError, match="non-empty string"):
        system.virtual(Conversation, "")
