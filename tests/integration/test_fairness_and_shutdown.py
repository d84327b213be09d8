"""Fairness between actors on one loop, and leaving a system cleanly."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from actors import Actor, ActorStopped, ActorSystem, SystemShutdown
from protocol import Message
from tests.helpers import WAIT, Echo, Ping, Pong

pytestmark = pytest.mark.anyio


async def test_an_actor_flooding_itself_does_not_starve_the_loop() -> None:
    class Perpetual(Actor[Message]):
        def __init__(self) -> None:
            self.count = 0

        async def receive(self, message: Message) -> Any:
            self.count += 1
            self.self_ref.tell(message)

    async with ActorSystem("t") as system:
        busy = await system.spawn(Perpetual)
        other = await system.spawn(Echo)
        busy.tell(Ping())
        assert await other.ask(Pong(), timeout=WAIT) == Pong()


class Recorder(Actor[Message]):
    def __init__(self, order: list[str], children: int = 0) -> None:
        self.order = order
        self.children = children

    async def on_start(self) -> None:
        for n in range(self.children):
            await self.context.spawn(Recorder, self.order, name=f"c{n}")

    async def on_stop(self) -> None:
        self.order.append(self.context.path)

    async def receive(self, message: Message) -> Any:
        return None


async def test_leaving_the_system_stops_actors_in_reverse_spawn_order_children_first() -> None:
    order: list[str] = []
    async with ActorSystem("t") as system:
        for name in ("a", "b", "c"):
            ref = await system.spawn(Recorder, order, 2, name=name)
            await ref.ask(Ping(), timeout=WAIT)  # on_start (and its spawns) done
    assert order == [
        "/user/c/c1",
        "/user/c/c0",
        "/user/c",
        "/user/b/c1",
        "/user/b/c0",
        "/user/b",
        "/user/a/c1",
        "/user/a/c0",
        "/user/a",
    ]


async def test_pending_asks_fail_with_a_clear_error_on_shutdown() -> None:
    started = asyncio.Event()
    never = asyncio.Event()

    class Stuck(Actor[Message]):
        async def receive(self, message: Message) -> Any:
            started.set()
            await never.wait()

    outcomes: list[BaseException] = []

    async def ask(ref: Any, n: int) -> None:
        try:
            await ref.ask(Ping(n), timeout=WAIT)
        except Exception as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as tg, ActorSystem("t") as system:
        ref = await system.spawn(Stuck, shutdown=0.0)
        for n in range(3):
            tg.start_soon(ask, ref, n)
        with anyio.fail_after(WAIT):
            await started.wait()
        await asyncio.sleep(0)
    # The ask being handled (its handler killed after the shutdown timeout) and
    # the two still queued all fail at once with the same clear error.
    assert len(outcomes) == 3
    assert all(isinstance(exc, SystemShutdown) for exc in outcomes)
    assert all(isinstance(exc, ActorStopped) for exc in outcomes)
    assert all("the actor system is shutting down" in str(exc) for exc in outcomes)


async def test_leaving_the_system_leaks_no_task() -> None:
    before = asyncio.all_tasks()

    class Busy(Actor[Message]):
        async def on_start(self) -> None:
            await self.context.spawn(Echo, name="kid")
            self.context.timers.send_periodically(0.001, Ping())

        async def receive(self, message: Message) -> Any:
            return None

    async with ActorSystem("t") as system:
        for _ in range(20):
            ref = await system.spawn(Busy)
            await ref.ask(Pong(), timeout=WAIT)
        assert len(asyncio.all_tasks()) > len(before)
    assert asyncio.all_tasks() == before


async def test_system_lifecycle_is_logged() -> None:
    with capture_logs() as logs:
        async with ActorSystem("logged") as system:
            ref = await system.spawn(Echo, name="e")
            await ref.ask(Ping(), timeout=WAIT)
    events = [entry["event"] for entry in logs]
    assert events[0] == "system_started"
    assert events[-1] == "system_stopped"
    started = next(entry for entry in logs if entry["event"] == "actor_started")
    assert started == {
        "event": "actor_started",
        "actor": "/user/e",
        "actor_type": "Echo",
        "log_level": "info",
    }


async def test_per_message_debug_events_carry_actor_type_and_correlation_id() -> None:
    with capture_logs() as logs:
        async with ActorSystem("t", trace_messages=True) as system:
            ref = await system.spawn(Echo, name="e")
            ref.tell(Ping(1))
            await ref.ask(Pong(), timeout=WAIT)
    received = [entry for entry in logs if entry["event"] == "message_received"]
    assert [entry["msg_type"] for entry in received] == ["Ping", "Pong"]
    assert received[0]["correlation_id"] is None
    assert isinstance(received[1]["correlation_id"], int)
    assert all(entry["log_level"] == "debug" for entry in received)
    assert all(entry["actor"] == "/user/e" for entry in received)
