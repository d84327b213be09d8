"""Death watch, links and timers owned by an actor."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import anyio
import pytest

from actors import (
    Actor,
    ActorRef,
    ActorSystem,
    Backoff,
    LinkExited,
    Restart,
    SupervisorFlags,
    Terminated,
)
from actors.testing import Probe
from protocol import Message
from tests.helpers import WAIT, Boom, Echo, ManualClock, Ping, Pong, wait_until

pytestmark = pytest.mark.anyio

NO_BACKOFF = SupervisorFlags(backoff=Backoff(initial=0.0, jitter=0.0))


class Watch(Message, tag="test.watch"):
    path: str


class WatchRef(Message, tag="test.watchref"):
    ref: Any  # Any: an in-process ActorRef, never encoded


class Watcher(Actor[Message]):
    """Watches what it is told to, forwards Terminated to a probe."""

    def __init__(self, probe: ActorRef[Any]) -> None:
        self.probe = probe

    async def receive(self, message: Message) -> Any:
        if isinstance(message, WatchRef):
            self.context.watch(message.ref)
        elif isinstance(message, Watch):
            self.context.watch(self.context.system.lookup(message.path))
        elif isinstance(message, Terminated | LinkExited):
            self.probe.tell(message)
        return None


async def test_watcher_receives_terminated_when_the_watched_actor_stops() -> None:
    async with ActorSystem("t") as system:
        probe = await Probe.start(system)
        watcher = await system.spawn(Watcher, probe.ref)
        target = await system.spawn(Echo, name="target")
        await watcher.ask(Watch(target.path), timeout=WAIT)
        await system.stop(target)
        terminated = await probe.expect(Terminated, timeout=WAIT)
        assert terminated == Terminated(path="/user/target", reason="stopped", failed=False)


async def test_watcher_learns_the_failure_reason_of_a_temporary_actor() -> None:
    async with ActorSystem("t") as system:
        probe = await Probe.start(system)
        watcher = await system.spawn(Watcher, probe.ref)
        target = await system.spawn(Echo, name="fragile", restart=Restart.TEMPORARY)
        await watcher.ask(Watch(target.path), timeout=WAIT)
        with pytest.raises(RuntimeError):
            await target.ask(Boom("disk on fire"), timeout=WAIT)
        terminated = await probe.expect(Terminated, timeout=WAIT)
        assert terminated.failed
        assert "disk on fire" in terminated.reason


async def test_a_restart_is_not_a_termination() -> None:
    async with ActorSystem("t", guardian_flags=NO_BACKOFF) as system:
        probe = await Probe.start(system)
        watcher = await system.spawn(Watcher, probe.ref)
        target = await system.spawn(Echo, name="phoenix")
        await watcher.ask(Watch(target.path), timeout=WAIT)
        with pytest.raises(RuntimeError):
            await target.ask(Boom(), timeout=WAIT)
        assert await target.ask(Ping(1), timeout=WAIT) == Ping(1)
        await watcher.ask(Ping(), timeout=WAIT)
        probe.expect_no_message()


async def test_watching_an_already_stopped_actor_delivers_terminated_at_once() -> None:
    async with ActorSystem("t") as system:
        probe = await Probe.start(system)
        watcher = await system.spawn(Watcher, probe.ref)
        target = await system.spawn(Echo, name="late")
        await system.stop(target)
        await watcher.ask(WatchRef(target), timeout=WAIT)
        terminated = await probe.expect(Terminated, timeout=WAIT)
        assert terminated.path == "/user/late"
        assert terminated.reason == "already stopped"


class Linked(Actor[Message]):
    trap_exits: ClassVar[bool] = False

    def __init__(self, probe: ActorRef[Any], label: str) -> None:
        self.probe = probe
        self.label = label

    async def on_start(self) -> None:
        self.probe.tell(Ping(1 if self.label == "a" else 2))

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Watch):
            self.context.link(self.context.system.lookup(message.path))
            return None
        if isinstance(message, Boom):
            raise RuntimeError(message.reason)
        if isinstance(message, LinkExited):
            self.probe.tell(message)
        return self.label


class TrappingLinked(Linked):
    trap_exits: ClassVar[bool] = True


async def test_a_link_propagates_failure_to_the_other_actor() -> None:
    async with ActorSystem("t", guardian_flags=NO_BACKOFF) as system:
        probe = await Probe.start(system)
        a = await system.spawn(Linked, probe.ref, "a", name="a")
        b = await system.spawn(Linked, probe.ref, "b", name="b")
        assert {(await probe.expect(Ping)).n for _ in range(2)} == {1, 2}
        await a.ask(Watch(b.path), timeout=WAIT)
        with pytest.raises(RuntimeError):
            await a.ask(Boom(), timeout=WAIT)
        # Both restart: a because it failed, b because it was linked to a.
        assert {(await probe.expect(Ping, timeout=WAIT)).n for _ in range(2)} == {1, 2}
        assert system.lookup("/user/b")._cell.restart_count == 1  # type: ignore[attr-defined]


async def test_an_actor_that_traps_exits_gets_a_message_instead_of_failing() -> None:
    async with ActorSystem("t", guardian_flags=NO_BACKOFF) as system:
        probe = await Probe.start(system)
        a = await system.spawn(Linked, probe.ref, "a", name="a")
        b = await system.spawn(TrappingLinked, probe.ref, "b", name="b")
        await probe.expect(Ping)
        await probe.expect(Ping)
        await a.ask(Watch(b.path), timeout=WAIT)
        with pytest.raises(RuntimeError):
            await a.ask(Boom("linked crash"), timeout=WAIT)
        exited = await probe.expect(LinkExited, timeout=WAIT)
        assert exited.path == "/user/a"
        assert "linked crash" in exited.reason
        assert system.lookup("/user/b")._cell.restart_count == 0  # type: ignore[attr-defined]


async def test_a_normal_stop_does_not_propagate_over_a_link() -> None:
    async with ActorSystem("t") as system:
        probe = await Probe.start(system)
        a = await system.spawn(Linked, probe.ref, "a", name="a")
        b = await system.spawn(Linked, probe.ref, "b", name="b")
        await a.ask(Watch(b.path), timeout=WAIT)
        await system.stop(a)
        assert await b.ask(Pong(), timeout=WAIT) == "b"
        assert system.lookup("/user/b")._cell.restart_count == 0  # type: ignore[attr-defined]


class Ticker(Actor[Message]):
    """Starts a periodic timer and a one-shot on start; counts ticks."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.ticks = 0
        self.once = 0

    async def on_start(self) -> None:
        self.context.timers.send_periodically(self.interval, Ping(1), key="tick")
        self.context.timers.send_after(self.interval * 2.5, Ping(2), key="once")

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Ping):
            if message.n == 1:
                self.ticks += 1
            else:
                self.once += 1
            return None
        if isinstance(message, Boom):
            raise RuntimeError("tick boom")
        return (self.ticks, self.once)


async def ask(ref: ActorRef[Any], message: Message) -> Any:
    """An ask for the tests on a ManualClock, guarded by the loop's real time.

    An ask's own timeout runs on the system's clock, which here moves only when
    a test advances it, and its deadline would be one more timer among those
    the tests count (the system's shared ask timer, not the actor's).
    """
    with anyio.fail_after(WAIT):
        return await ref.ask(message)


async def test_periodic_and_one_shot_timers_fire_on_the_injected_clock() -> None:
    clock = ManualClock()
    async with ActorSystem("t", clock=clock) as system:
        ref = await system.spawn(Ticker, 10.0)
        assert await ask(ref, Pong()) == (0, 0)
        assert clock.advance(100.0) == 11  # ten ticks and the one-shot
        assert await ask(ref, Pong()) == (10, 1)
        clock.advance(5.0)
        assert await ask(ref, Pong()) == (10, 1)
        clock.advance(5.0)
        assert await ask(ref, Pong()) == (11, 1)


async def test_timers_are_cancelled_when_the_actor_stops() -> None:
    clock = ManualClock()
    async with ActorSystem("t", clock=clock) as system:
        ref = await system.spawn(Ticker, 1.0)
        await ask(ref, Pong())
        assert clock.pending == 2
        await system.stop(ref)
        assert clock.pending == 0
        clock.advance(10.0)
        assert system.dead_letters.count == 0


async def test_timers_belong_to_one_incarnation() -> None:
    clock = ManualClock()
    async with ActorSystem("t", clock=clock, guardian_flags=NO_BACKOFF) as system:
        ref = await system.spawn(Ticker, 1.0)
        await ask(ref, Pong())
        with pytest.raises(RuntimeError):
            await ask(ref, Boom())
        await wait_until(lambda: ref._cell.restart_count == 1)  # type: ignore[attr-defined]
        await ask(ref, Pong())
        # The old incarnation's two timers were cancelled; the new one started two.
        assert clock.pending == 2
        clock.advance(3.0)
        assert await ask(ref, Pong()) == (3, 1)


async def test_timer_key_replaces_the_previous_timer() -> None:
    clock = ManualClock()

    class Rearm(Actor[Message]):
        def __init__(self) -> None:
            self.fired = 0

        async def receive(self, message: Message) -> Any:
            if isinstance(message, Pong):
                self.context.timers.send_after(5.0, Ping(), key="k")
                return None
            if isinstance(message, Ping):
                self.fired += 1
                return None
            return self.fired

    async with ActorSystem("t", clock=clock) as system:
        ref = await system.spawn(Rearm)
        for _ in range(3):
            await ask(ref, Pong())
            clock.advance(4.0)
        clock.advance(1.0)
        assert await ask(ref, Watch("")) == 1


async def test_ask_timeout_runs_on_the_injected_clock() -> None:
    clock = ManualClock()
    never = asyncio.Event()

    class Silent(Actor[Message]):
        async def receive(self, message: Message) -> Any:
            await never.wait()

    async with ActorSystem("t", clock=clock) as system:
        ref = await system.spawn(Silent, shutdown=0.0)
        outcome: list[BaseException] = []

        async def asker() -> None:
            try:
                await ref.ask(Ping(), timeout=30.0)
            except Exception as exc:
                outcome.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(asker)
            await wait_until(lambda: clock.pending == 1)
            assert not outcome
            clock.advance(29.0)
            await asyncio.sleep(0)
            assert not outcome
            clock.advance(1.0)
        assert type(outcome[0]).__name__ == "AskTimeout"
