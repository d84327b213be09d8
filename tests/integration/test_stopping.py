"""Stopping an actor: immediate (what is queued goes to dead letters) or graceful
(after what is already queued, like Akka's PoisonPill or Pykka's stop())."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors import Actor, ActorStopped, ActorSystem, DeadLetter, MailboxConfig, Overflow
from actors.lowlevel import cell_at
from protocol import Message
from tests.helpers import WAIT, Ping, wait_until

pytestmark = pytest.mark.anyio


class Gated(Actor[Message]):
    """Handles Pings in order, holding the first one until ``gate`` opens."""

    def __init__(self, gate: asyncio.Event, handled: list[int], stops: list[str]) -> None:
        self.gate = gate
        self.handled = handled
        self.stops = stops

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Ping):
            await self.gate.wait()
            self.handled.append(message.n)
        return len(self.handled)

    async def on_stop(self) -> None:
        self.stops.append("stopped")


async def start_gated(
    system: ActorSystem, queued: int, mailbox: MailboxConfig | None = None
) -> tuple[Any, asyncio.Event, list[int], list[str]]:
    gate = asyncio.Event()
    handled: list[int] = []
    stops: list[str] = []
    ref = await system.spawn(Gated, gate, handled, stops, name="g", mailbox=mailbox)
    cell = cell_at(system, "/user/g")
    assert cell is not None
    ref.tell(Ping(0))
    await wait_until(lambda: len(cell) == 0)  # the first one is being handled
    for n in range(1, queued):
        ref.tell(Ping(n))
    return ref, gate, handled, stops


async def test_graceful_stop_handles_what_was_queued_and_dead_letters_what_comes_after() -> None:
    async with ActorSystem("t") as system:
        letters: list[DeadLetter] = []
        system.dead_letters.subscribe(letters.append)
        ref, gate, handled, stops = await start_gated(system, 5)
        queued_ask = asyncio.ensure_future(ref.ask(Ping(5), timeout=WAIT))
        cell = cell_at(system, "/user/g")
        assert cell is not None
        await wait_until(lambda: len(cell) == 5)
        stopping = asyncio.ensure_future(system.stop(ref, graceful=True))
        await wait_until(lambda: cell.closed)
        ref.tell(Ping(100))
        await ref.send(Ping(101))
        with pytest.raises(ActorStopped):
            await ref.ask(Ping(102), timeout=WAIT)
        assert not stopping.done()
        gate.set()
        await asyncio.wait_for(stopping, WAIT)
        assert handled == [0, 1, 2, 3, 4, 5]
        assert await queued_ask == 6
        assert stops == ["stopped"]
        assert [letter.message for letter in letters] == [Ping(100), Ping(101), Ping(102)]
        assert cell_at(system, "/user/g") is None


async def test_immediate_stop_dead_letters_what_is_queued() -> None:
    async with ActorSystem("t") as system:
        letters: list[DeadLetter] = []
        system.dead_letters.subscribe(letters.append)
        ref, gate, handled, stops = await start_gated(system, 4)
        cell = cell_at(system, "/user/g")
        assert cell is not None
        stopping = asyncio.ensure_future(system.stop(ref))
        await wait_until(lambda: cell.halt_requested)
        gate.set()
        await asyncio.wait_for(stopping, WAIT)
        assert handled == [0]  # the current message finishes
        assert [letter.message for letter in letters] == [Ping(1), Ping(2), Ping(3)]
        assert stops == ["stopped"]


async def test_graceful_stop_goes_in_even_when_the_mailbox_is_full() -> None:
    async with ActorSystem("t") as system:
        config = MailboxConfig(capacity=2, overflow=Overflow.DROP_OLDEST)
        ref, gate, handled, _ = await start_gated(system, 3, mailbox=config)
        stopping = asyncio.ensure_future(system.stop(ref, graceful=True))
        cell = cell_at(system, "/user/g")
        assert cell is not None
        await wait_until(lambda: cell.closed)
        gate.set()
        await asyncio.wait_for(stopping, WAIT)
        assert handled == [0, 1, 2]  # nothing accepted was evicted by the stop
        assert cell.statistics().dropped_oldest == 0


async def test_immediate_stop_during_a_graceful_one_takes_over() -> None:
    async with ActorSystem("t") as system:
        letters: list[DeadLetter] = []
        system.dead_letters.subscribe(letters.append)
        ref, gate, handled, stops = await start_gated(system, 3)
        graceful = asyncio.ensure_future(system.stop(ref, graceful=True))
        cell = cell_at(system, "/user/g")
        assert cell is not None
        await wait_until(lambda: cell.closed)
        immediate = asyncio.ensure_future(system.stop(ref))
        gate.set()
        await asyncio.wait_for(asyncio.gather(graceful, immediate), WAIT)
        assert handled == [0]
        assert [letter.message for letter in letters] == [Ping(1), Ping(2)]
        assert stops == ["stopped"]


async def test_graceful_stop_of_an_idle_actor_completes() -> None:
    async with ActorSystem("t") as system:
        gate = asyncio.Event()
        ref = await system.spawn(Gated, gate, [], [], name="idle")
        await asyncio.wait_for(system.stop(ref, graceful=True), WAIT)
        assert cell_at(system, "/user/idle") is None
        await asyncio.wait_for(system.stop(ref, graceful=True), WAIT)  # already stopped


async def test_graceful_stop_waits_for_a_restart_and_keeps_draining() -> None:
    handled: list[int] = []

    class FailsOnTwo(Actor[Message]):
        async def receive(self, message: Message) -> Any:
            if isinstance(message, Ping):
                if message.n == 2:
                    raise RuntimeError("two")
                handled.append(message.n)

    async with ActorSystem("t") as system:
        ref = await system.spawn(FailsOnTwo, name="f")
        for n in range(5):
            ref.tell(Ping(n))
        await asyncio.wait_for(system.stop(ref, graceful=True), WAIT)
        assert handled == [0, 1, 3, 4]


async def test_parent_can_stop_a_child_gracefully() -> None:
    handled: list[int] = []
    done = asyncio.Event()

    class Kid(Actor[Message]):
        async def receive(self, message: Message) -> Any:
            if isinstance(message, Ping):
                handled.append(message.n)

        async def on_stop(self) -> None:
            done.set()

    class Parent(Actor[Message]):
        async def on_start(self) -> None:
            self.kid = await self.context.spawn(Kid, name="kid")

        async def receive(self, message: Message) -> Any:
            for n in range(3):
                self.kid.tell(Ping(n))
            self.context.stop(self.kid, graceful=True)

    async with ActorSystem("t") as system:
        parent = await system.spawn(Parent, name="p")
        await parent.ask(Ping(), timeout=WAIT)
        await asyncio.wait_for(done.wait(), WAIT)
        assert handled == [0, 1, 2]
        await wait_until(lambda: cell_at(system, "/user/p/kid") is None)
