"""Hibernation (``Actor.hibernate_after``): the loop task ends, the actor stays.

The cases follow OTP's own tests of ``hibernate_after`` (gen_statem_SUITE and
gen_server_SUITE ``auto_hibernate``): not hibernating before the timeout,
hibernating after it following the start, a plain message, a cast and a
call; a timer shorter than the timeout keeps the actor awake, a longer one
wakes it from hibernation; stopping a hibernating actor works. Timed cases
run on virtual time, so no test waits on the wall clock. Beyond OTP: the
state survives, ``on_start`` is not run again, and a hypothesis property
checks that no message is lost, duplicated or reordered across any schedule
of hibernations.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors import Actor, ActorRef, ActorStopped, ActorSystem, Terminated
from actors.supervision import Backoff, Strategy, SupervisorFlags
from actors.testing import Simulation, simulate
from protocol import Message
from tests.helpers import WAIT, wait_until


class Bump(Message, tag="t.hibernate.bump"):
    n: int = 0


class Get(Message, tag="t.hibernate.get"):
    pass


class Later(Message, tag="t.hibernate.later"):
    delay: float


class Fired(Message, tag="t.hibernate.fired"):
    pass


class Fail(Message, tag="t.hibernate.fail"):
    pass


class Counter(Actor[Message]):
    """Counts bumps; records every hook it runs into a shared list."""

    hibernate_after: ClassVar[float | None] = 0.0

    def __init__(self, hooks: list[str], seen: list[int] | None = None) -> None:
        self.hooks = hooks
        self.seen = seen if seen is not None else []
        self.count = 0

    async def on_start(self) -> None:
        self.hooks.append("start")

    async def on_stop(self) -> None:
        self.hooks.append("stop")

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Bump):
            self.count += 1
            self.seen.append(message.n)
            return self.count
        if isinstance(message, Later):
            self.context.timers.send_after(message.delay, Fired())
            return None
        if isinstance(message, Fired):
            self.hooks.append("fired")
            return None
        if isinstance(message, Fail):
            raise RuntimeError("asked to fail")
        return self.count


class TimedCounter(Counter):
    hibernate_after = 1.0


def loop_tasks(ref: ActorRef[Any]) -> list[asyncio.Task[Any]]:
    """The actor's running loop task, if it has one (loop tasks are named by path)."""
    return [task for task in asyncio.all_tasks() if task.get_name() == ref.path]


def hibernating(ref: ActorRef[Any]) -> bool:
    return not loop_tasks(ref)


# -- hibernate_after = 0: hibernate as soon as the mailbox drains ----------------------


@pytest.mark.anyio
async def test_the_actor_hibernates_once_drained_and_keeps_its_state() -> None:
    hooks: list[str] = []
    async with ActorSystem("t") as system:
        ref = await system.spawn(Counter, hooks)
        assert await ref.ask(Get(), timeout=WAIT) == 0
        assert hibernating(ref)
        for expected in (1, 2, 3):
            assert await ref.ask(Bump(), timeout=WAIT) == expected
            assert hibernating(ref)
        ref.tell(Bump())
        assert not hibernating(ref)  # the tell woke it
        assert await ref.ask(Get(), timeout=WAIT) == 4
        assert hibernating(ref)
        assert hooks == ["start"]  # waking is not starting again
    assert hooks == ["start", "stop"]


@pytest.mark.anyio
async def test_a_burst_is_handled_in_order_by_one_waking() -> None:
    seen: list[int] = []
    async with ActorSystem("t") as system:
        ref = await system.spawn(Counter, [], seen)
        for n in range(500):  # more than one throughput budget (128)
            ref.tell(Bump(n))
        assert await ref.ask(Get(), timeout=WAIT) == 500
        assert seen == list(range(500))
        assert hibernating(ref)


class Watcher(Actor[Any]):
    def __init__(self, target: ActorRef[Any], terminated: asyncio.Event) -> None:
        self.target = target
        self.terminated = terminated

    async def on_start(self) -> None:
        self.context.watch(self.target)

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Terminated) and message.path == self.target.path:
            self.terminated.set()


@pytest.mark.anyio
async def test_stopping_a_hibernating_actor_runs_on_stop_once_and_notifies_watchers() -> None:
    hooks: list[str] = []
    terminated = asyncio.Event()
    async with ActorSystem("t") as system:
        ref = await system.spawn(Counter, hooks)
        await system.spawn(Watcher, ref, terminated)
        assert await ref.ask(Bump(), timeout=WAIT) == 1
        assert hibernating(ref)
        await system.stop(ref)
        assert hooks == ["start", "stop"]
        await asyncio.wait_for(terminated.wait(), WAIT)
        with pytest.raises(ActorStopped):
            await ref.ask(Get(), timeout=WAIT)


@pytest.mark.anyio
async def test_a_graceful_stop_of_a_hibernating_actor_handles_what_was_accepted() -> None:
    seen: list[int] = []
    async with ActorSystem("t") as system:
        ref = await system.spawn(Counter, [], seen)
        assert await ref.ask(Bump(0), timeout=WAIT) == 1
        for n in range(1, 20):
            ref.tell(Bump(n))
        await system.stop(ref, graceful=True)
        assert seen == list(range(20))


@pytest.mark.anyio
async def test_a_failure_after_waking_restarts_a_fresh_instance() -> None:
    hooks: list[str] = []
    async with ActorSystem("t") as system:
        ref = await system.spawn(Counter, hooks)
        assert await ref.ask(Bump(), timeout=WAIT) == 1
        assert hibernating(ref)
        with pytest.raises(RuntimeError, match="asked to fail"):
            await ref.ask(Fail(), timeout=WAIT)
        assert await ref.ask(Bump(), timeout=WAIT) == 1  # the restarted instance counts anew
        assert hooks == ["start", "stop", "start"]
        assert hibernating(ref)


@pytest.mark.anyio
async def test_a_one_for_all_restart_restarts_hibernating_siblings() -> None:
    hooks: dict[str, list[str]] = {"a": [], "b": [], "c": []}

    class Parent(Actor[Message]):
        supervisor_flags = SupervisorFlags(
            strategy=Strategy.ONE_FOR_ALL, backoff=Backoff(initial=0.0, jitter=0.0)
        )

        async def on_start(self) -> None:
            for label, log in hooks.items():
                await self.context.spawn(Counter, log, name=label)

        async def receive(self, message: Message) -> Any:
            return None

    async with ActorSystem("t") as system:
        await system.spawn(Parent, name="p")
        await wait_until(lambda: all(log == ["start"] for log in hooks.values()))
        children = {label: system.lookup(f"/user/p/{label}") for label in hooks}
        for ref in children.values():
            assert await ref.ask(Bump(), timeout=WAIT) == 1
            assert hibernating(ref)
        with pytest.raises(RuntimeError, match="asked to fail"):
            await children["b"].ask(Fail(), timeout=WAIT)
        await wait_until(lambda: all(log == ["start", "stop", "start"] for log in hooks.values()))
        for ref in children.values():
            assert await ref.ask(Get(), timeout=WAIT) == 0  # a fresh instance each
            assert hibernating(ref)


@pytest.mark.anyio
@pytest.mark.parametrize("value", [-1.0, float("inf"), float("nan")])
async def test_a_bad_hibernate_after_is_refused_at_spawn(value: float) -> None:
    class Bad(Counter):
        hibernate_after = value

    async with ActorSystem("t") as system:
        with pytest.raises(ValueError, match=r"Bad\.hibernate_after must be"):
            await system.spawn(Bad, [])


@pytest.mark.anyio
async def test_a_hibernate_after_that_is_not_a_number_is_a_type_error() -> None:
    class Bad(Counter):
        hibernate_after = "soon"  # type: ignore[assignment]

    async with ActorSystem("t") as system:
        with pytest.raises(TypeError, match=r"Bad\.hibernate_after must be a number"):
            await system.spawn(Bad, [])


@pytest.mark.anyio
async def test_without_hibernate_after_the_loop_stays_parked() -> None:
    class Plain(Counter):
        hibernate_after = None

    async with ActorSystem("t") as system:
        ref = await system.spawn(Plain, [])
        assert await ref.ask(Bump(), timeout=WAIT) == 1
        assert not hibernating(ref)


# -- hibernate_after > 0, on virtual time (OTP's auto_hibernate) ------------------------


def test_auto_hibernate_after_start_message_cast_and_call() -> None:
    async def scenario(sim: Simulation) -> None:
        hooks: list[str] = []
        async with sim.system() as system:
            ref = await system.spawn(TimedCounter, hooks)
            # After init: awake until the timeout, hibernating after it.
            await sim.sleep(0.9)
            assert not hibernating(ref)
            await sim.sleep(0.2)
            assert hibernating(ref)
            # After a plain message (OTP's info and cast cases are both a tell here).
            ref.tell(Bump())
            await sim.sleep(0.5)
            assert not hibernating(ref)
            await sim.sleep(0.6)
            assert hibernating(ref)
            # After a call.
            assert await ref.ask(Bump(), timeout=WAIT) == 2
            await sim.sleep(0.9)
            assert not hibernating(ref)
            await sim.sleep(0.2)
            assert hibernating(ref)
            assert hooks == ["start"]

    simulate(scenario, seed=1)


def test_each_message_restarts_the_idle_timeout() -> None:
    async def scenario(sim: Simulation) -> None:
        async with sim.system() as system:
            ref = await system.spawn(TimedCounter, [])
            for _ in range(5):  # 0.8 s apart: never a full second idle
                await sim.sleep(0.8)
                ref.tell(Bump())
                await sim.sleep(0)
                assert not hibernating(ref)
            await sim.sleep(1.1)
            assert hibernating(ref)
            assert await ref.ask(Get(), timeout=WAIT) == 5

    simulate(scenario, seed=2)


def test_a_timer_shorter_than_the_timeout_keeps_the_actor_awake() -> None:
    async def scenario(sim: Simulation) -> None:
        hooks: list[str] = []
        async with sim.system() as system:
            ref = await system.spawn(TimedCounter, hooks)
            await ref.ask(Later(0.5), timeout=WAIT)
            await sim.sleep(0.6)  # the timer fired at 0.5 s and restarted the timeout
            assert hooks == ["start", "fired"]
            await sim.sleep(0.8)  # 1.4 s after the call, 0.9 s after the timer
            assert not hibernating(ref)
            await sim.sleep(0.2)
            assert hibernating(ref)

    simulate(scenario, seed=3)


def test_a_timer_longer_than_the_timeout_wakes_the_hibernating_actor() -> None:
    async def scenario(sim: Simulation) -> None:
        hooks: list[str] = []
        async with sim.system() as system:
            ref = await system.spawn(TimedCounter, hooks)
            await ref.ask(Later(2.0), timeout=WAIT)
            await sim.sleep(1.1)
            assert hibernating(ref)  # hibernating with a timer pending
            await sim.sleep(1.0)
            assert hooks == ["start", "fired"]  # the timer's message woke it
            assert not hibernating(ref)
            await sim.sleep(1.1)
            assert hibernating(ref)

    simulate(scenario, seed=4)


def test_stopping_while_the_idle_timer_is_pending() -> None:
    async def scenario(sim: Simulation) -> None:
        hooks: list[str] = []
        async with sim.system() as system:
            ref = await system.spawn(TimedCounter, hooks)
            assert await ref.ask(Bump(), timeout=WAIT) == 1
            await sim.sleep(0.5)
            await system.stop(ref)
            assert hooks == ["start", "stop"]
            await sim.sleep(2.0)  # the cancelled timer does nothing
            assert hooks == ["start", "stop"]

    simulate(scenario, seed=5)


# -- the invariant: nothing lost, duplicated or reordered -------------------------------

_steps = st.lists(
    st.one_of(
        st.tuples(st.just("tell"), st.integers(1, 5)),
        st.tuples(st.just("ask"), st.just(1)),
        st.tuples(st.just("sleep"), st.sampled_from([0.0, 0.3, 0.7, 1.0, 1.5])),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(steps=_steps, after=st.sampled_from([0.0, 0.5, 1.0]))
def test_no_message_is_lost_duplicated_or_reordered_across_hibernations(
    steps: list[tuple[str, Any]], after: float
) -> None:
    class Sleepy(Counter):
        hibernate_after = after

    async def scenario(sim: Simulation) -> None:
        seen: list[int] = []
        hooks: list[str] = []
        sent = 0
        async with sim.system() as system:
            ref = await system.spawn(Sleepy, hooks, seen)
            for kind, arg in steps:
                if kind == "tell":
                    for _ in range(arg):
                        ref.tell(Bump(sent))
                        sent += 1
                elif kind == "ask":
                    assert await ref.ask(Bump(sent), timeout=WAIT) == sent + 1
                    sent += 1
                else:
                    await sim.sleep(arg)
            assert await ref.ask(Get(), timeout=WAIT) == sent
            await sim.sleep(after + 0.1)
            assert hibernating(ref)
            assert seen == list(range(sent))
            assert hooks == ["start"]

    simulate(scenario, seed=0)
