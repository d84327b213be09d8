"""Hypothesis picks simulation seeds: invariants hold for every seed, and every seed replays.

A relay of actors passes numbered tokens along; hops fail at random (drawn
from the system's seeded stream) and are restarted with jittered backoff;
a periodic timer re-sends what was lost. Whatever the seed: every token
arrives (at least once), and running the seed again gives the same trace.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import pytest
from hypothesis import Phase, given, settings

from actors import Actor, ActorRef, Backoff, SupervisorFlags
from actors.testing import Simulation, seeds, simulate
from protocol import Message


class Token(Message, tag="prop.sim.token"):
    n: int


class Resend(Message, tag="prop.sim.resend"):
    pass


class Hop(Actor[Any]):
    """Forwards tokens to the next hop; fails on a fifth of them."""

    def __init__(self, next_hop: ActorRef[Any]) -> None:
        self.next_hop = next_hop

    async def receive(self, message: Any) -> Any:
        system = self.context.system
        await system.clock.sleep(system.random.uniform(0.0, 0.2))
        if system.random.random() < 0.2:
            raise RuntimeError(f"dropped token {message.n}")
        self.next_hop.tell(message)
        return None


class Sender(Actor[Any]):
    """Sends tokens into the relay and re-sends unacknowledged ones every second."""

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self.acked: set[int] = set()
        self.arrivals: list[int] = []
        self.first_hop: ActorRef[Any] | None = None

    async def receive(self, message: Any) -> Any:
        if isinstance(message, ActorRef):
            self.first_hop = message
            for n in range(self.tokens):
                message.tell(Token(n))
            self.context.timers.send_periodically(1.0, Resend(), key="resend")
        elif isinstance(message, Token):
            self.arrivals.append(message.n)
            self.acked.add(message.n)
        elif isinstance(message, Resend):
            assert self.first_hop is not None
            for n in range(self.tokens):
                if n not in self.acked:
                    self.first_hop.tell(Token(n))
            if len(self.acked) == self.tokens:
                self.context.cancel_timer("resend")
        else:
            return len(self.acked) == self.tokens, list(self.arrivals)
        return None


class Relay(Actor[Any]):
    """Supervises three hops in a line ending at the sender."""

    supervisor_flags: ClassVar[SupervisorFlags] = SupervisorFlags(
        intensity=10_000, backoff=Backoff(initial=0.05, jitter=0.5)
    )

    def __init__(self, sender: ActorRef[Any]) -> None:
        self.sender = sender

    async def on_start(self) -> None:
        target = self.sender
        for i in reversed(range(3)):
            target = await self.context.spawn(Hop, target, name=f"hop{i}")
        self.first = target

    async def receive(self, message: Any) -> Any:
        return self.first


async def relay(sim: Simulation) -> tuple[int, bool, list[int]]:
    async with sim.system("relay") as system:
        tokens = sim.random.randint(1, 8)
        sender = await system.spawn(Sender, tokens, name="sender")
        chain = await system.spawn(Relay, sender, name="relay")
        sender.tell(await chain.ask("first hop", timeout=1.0))
        await sim.sleep(120.0)
        complete, arrivals = await sender.ask("report", timeout=1.0)
        return tokens, complete, arrivals


@settings(max_examples=15, deadline=None)
@given(seed=seeds())
def test_every_token_arrives_and_every_seed_replays(seed: int) -> None:
    result = simulate(relay, seed=seed)
    tokens, complete, arrivals = result.value
    assert complete
    assert set(arrivals) == set(range(tokens))
    assert simulate(relay, seed=seed).digest == result.digest


async def fails_for_half_the_seeds(sim: Simulation) -> None:
    async with sim.system("coin") as system:
        coin = await system.spawn(Coin)
        assert await coin.ask("flip", timeout=1.0) == "heads", "tails"


class Coin(Actor[Any]):
    async def receive(self, message: Any) -> Any:
        return "heads" if self.context.system.random.random() < 0.5 else "tails"


def test_hypothesis_finds_a_failing_seed_and_the_note_replays_it() -> None:
    @settings(max_examples=50, deadline=None, database=None, phases=[Phase.generate, Phase.shrink])
    @given(seed=seeds())
    def property_that_fails(seed: int) -> None:
        simulate(fails_for_half_the_seeds, seed=seed)

    with pytest.raises(AssertionError, match="tails") as caught:
        property_that_fails()
    (note,) = [n for n in caught.value.__notes__ if n.startswith("simulation seed=")]
    match = re.match(r"simulation seed=(\d+)", note)
    assert match is not None
    with pytest.raises(AssertionError, match="tails"):
        simulate(fails_for_half_the_seeds, seed=int(match.group(1)))
