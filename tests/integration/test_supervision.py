"""Supervision trees: strategies, intensity, backoff, escalation, hooks."""

from __future__ import annotations

import asyncio
import random
from typing import Any, ClassVar

import anyio
import pytest
from structlog.testing import capture_logs

from actors import (
    Actor,
    ActorSystem,
    Backoff,
    Restart,
    RestartIntensityExceeded,
    Strategy,
    SupervisorFlags,
)
from protocol import Message
from tests.helpers import WAIT, Boom, Ping, RecordingClock, wait_until

pytestmark = pytest.mark.anyio

NO_BACKOFF = Backoff(initial=0.0, jitter=0.0)


class Journal:
    """What happened to which child, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.changed = asyncio.Event()

    def add(self, who: str, what: str) -> None:
        self.events.append((who, what))
        self.changed.set()

    def of(self, what: str) -> list[str]:
        return [who for who, kind in self.events if kind == what]


class Child(Actor[Message]):
    def __init__(self, journal: Journal, label: str) -> None:
        self.journal = journal
        self.label = label

    async def on_start(self) -> None:
        self.journal.add(self.label, "start")

    async def on_stop(self) -> None:
        self.journal.add(self.label, "stop")

    async def on_restart(self, reason: BaseException) -> None:
        self.journal.add(self.label, f"restart:{reason}")

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Boom):
            raise RuntimeError(message.reason)
        return self.label


def parent_with(
    flags: SupervisorFlags, journal: Journal, labels: list[str]
) -> type[Actor[Message]]:
    class Parent(Actor[Message]):
        supervisor_flags: ClassVar[SupervisorFlags] = flags

        async def on_start(self) -> None:
            for label in labels:
                await self.context.spawn(Child, journal, label, name=label)

        async def receive(self, message: Message) -> Any:
            return None

    return Parent


async def run_strategy(strategy: Strategy) -> list[tuple[str, str]]:
    journal = Journal()
    flags = SupervisorFlags(strategy=strategy, backoff=NO_BACKOFF)
    async with ActorSystem("t") as system:
        await system.spawn(parent_with(flags, journal, ["a", "b", "c"]), name="p")
        await wait_until(lambda: len(journal.of("start")) == 3)
        b = system.lookup("/user/p/b")
        journal.events.clear()
        with pytest.raises(RuntimeError):
            await b.ask(Boom("b-broke"), timeout=WAIT)
        expected_restarts = {Strategy.ONE_FOR_ONE: 1, Strategy.ONE_FOR_ALL: 3}.get(strategy, 2)
        await wait_until(lambda: len(journal.of("start")) == expected_restarts)
        # Every child answers again after the restart.
        for label in ("a", "b", "c"):
            assert await system.lookup(f"/user/p/{label}").ask(Ping(), timeout=WAIT) == label
        return list(journal.events)


async def test_one_for_one_restarts_only_the_failed_child() -> None:
    events = await run_strategy(Strategy.ONE_FOR_ONE)
    assert events == [("b", "stop"), ("b", "restart:b-broke"), ("b", "start")]


async def test_one_for_all_restarts_every_child_stopping_newest_first() -> None:
    events = await run_strategy(Strategy.ONE_FOR_ALL)
    stops = [who for who, what in events if what == "stop"]
    starts = [who for who, what in events if what == "start"]
    # b stopped when it failed; then the others newest first; all start oldest first.
    assert stops == ["b", "c", "a"]
    assert starts == ["a", "b", "c"]


async def test_rest_for_one_restarts_the_failed_child_and_those_started_after_it() -> None:
    events = await run_strategy(Strategy.REST_FOR_ONE)
    stops = [who for who, what in events if what == "stop"]
    starts = [who for who, what in events if what == "start"]
    assert stops == ["b", "c"]
    assert starts == ["b", "c"]


async def test_mailbox_survives_a_restart_so_queued_messages_are_not_lost() -> None:
    journal = Journal()
    async with ActorSystem("t") as system:
        ref = await system.spawn(Child, journal, "x")
        ref.tell(Boom())
        for _ in range(5):
            ref.tell(Ping())
        answers = [await ref.ask(Ping(), timeout=WAIT) for _ in range(3)]
        assert answers == ["x", "x", "x"]
        assert system.lookup(ref.path).path == ref.path
        cell = ref._cell  # type: ignore[attr-defined]
        assert cell.processed == 8  # 5 queued pings + 3 asks survived the restart


async def test_restart_intensity_exceeded_escalates_to_the_parent() -> None:
    journal = Journal()
    flags = SupervisorFlags(intensity=2, period=60.0, backoff=NO_BACKOFF)
    parent_flags = SupervisorFlags(intensity=0, period=60.0, backoff=NO_BACKOFF)
    parent_cls = parent_with(flags, journal, ["a"])

    class Grandparent(Actor[Message]):
        supervisor_flags: ClassVar[SupervisorFlags] = parent_flags

        async def on_start(self) -> None:
            await self.context.spawn(parent_cls, name="p")

        async def receive(self, message: Message) -> Any:
            return None

    async with ActorSystem("t", guardian_flags=SupervisorFlags(intensity=0)) as system:
        with capture_logs() as logs:
            await system.spawn(Grandparent, name="g")
            await wait_until(lambda: journal.of("start") == ["a"])
            for attempt in range(3):
                a = system.lookup("/user/g/p/a")
                with pytest.raises(RuntimeError):
                    await a.ask(Boom(f"fail {attempt}"), timeout=WAIT)
                if attempt < 2:
                    await wait_until(lambda n=attempt: len(journal.of("start")) == n + 2)
            # p gave up, failed with RestartIntensityExceeded; g (intensity 0) gave up too,
            # and the guardian stopped g for good.
            await wait_until(lambda: not system.statistics().actors)
        gave_up = [entry for entry in logs if entry["event"] == "supervisor_gave_up"]
        assert [entry["actor"] for entry in gave_up] == ["/user/g/p", "/user/g", "/user"]
        failed = [entry for entry in logs if entry["event"] == "actor_failed"]
        assert any(
            entry["actor"] == "/user/g/p" and "RestartIntensityExceeded" in entry["error"]
            for entry in failed
        )


async def test_restart_intensity_window_forgets_old_restarts() -> None:
    clock = RecordingClock()
    journal = Journal()
    flags = SupervisorFlags(intensity=1, period=5.0, backoff=NO_BACKOFF)
    async with ActorSystem("t", clock=clock, guardian_flags=flags) as system:
        ref = await system.spawn(Child, journal, "x", name="x")
        base = clock.now()
        times = iter([base, base + 10.0, base + 20.0])
        clock.now = lambda: next(times)  # type: ignore[method-assign]
        for n in range(3):
            with pytest.raises(RuntimeError):
                await ref.ask(Boom(), timeout=WAIT)
            await wait_until(lambda n=n: len(journal.of("start")) == n + 2)
        assert system.statistics().actors == 1


async def test_backoff_delays_grow_exponentially_with_seeded_jitter() -> None:
    backoff = Backoff(initial=0.1, maximum=0.5, factor=2.0, jitter=0.25)
    expected_rng = random.Random(42)
    expected = [backoff.delay(n, expected_rng) for n in (1, 2, 3, 4)]
    clock = RecordingClock()
    journal = Journal()
    flags = SupervisorFlags(intensity=10, period=60.0, backoff=backoff)
    async with ActorSystem("t", clock=clock, seed=42, guardian_flags=flags) as system:
        ref = await system.spawn(Child, journal, "x")
        for n in range(4):
            with pytest.raises(RuntimeError):
                await ref.ask(Boom(), timeout=WAIT)
            await wait_until(lambda n=n: len(journal.of("start")) == n + 2)
    assert clock.sleeps == pytest.approx(expected)
    assert 0.075 <= clock.sleeps[0] <= 0.125
    assert clock.sleeps[3] <= 0.5 * 1.25


async def test_temporary_child_is_not_restarted() -> None:
    journal = Journal()
    async with ActorSystem("t") as system:
        ref = await system.spawn(Child, journal, "t", restart=Restart.TEMPORARY)
        with pytest.raises(RuntimeError):
            await ref.ask(Boom(), timeout=WAIT)
        await wait_until(lambda: system.statistics().actors == 0)
        assert journal.of("start") == ["t"]


async def test_failure_in_on_start_is_supervised_like_any_failure() -> None:
    attempts: list[int] = []
    started = asyncio.Event()

    class ShakyStart(Actor[Message]):
        async def on_start(self) -> None:
            attempts.append(1)
            if len(attempts) < 3:
                raise RuntimeError("not yet")
            started.set()

        async def receive(self, message: Message) -> Any:
            return "up"

    flags = SupervisorFlags(intensity=5, backoff=NO_BACKOFF)
    async with ActorSystem("t", guardian_flags=flags) as system:
        ref = await system.spawn(ShakyStart)
        with anyio.fail_after(WAIT):
            await started.wait()
        assert await ref.ask(Ping(), timeout=WAIT) == "up"
        assert len(attempts) == 3


async def test_restarting_a_parent_stops_its_children_and_recreates_them() -> None:
    journal = Journal()
    flags = SupervisorFlags(backoff=NO_BACKOFF)

    class Parent(Actor[Message]):
        async def on_start(self) -> None:
            await self.context.spawn(Child, journal, "kid", name="kid")

        async def receive(self, message: Message) -> Any:
            raise RuntimeError("parent broke")

    async with ActorSystem("t", guardian_flags=flags) as system:
        parent = await system.spawn(Parent, name="p")
        await wait_until(lambda: journal.of("start") == ["kid"])
        with pytest.raises(RuntimeError):
            await parent.ask(Ping(), timeout=WAIT)
        await wait_until(lambda: journal.of("start") == ["kid", "kid"])
        assert journal.of("stop") == ["kid"]
        assert await system.lookup("/user/p/kid").ask(Ping(), timeout=WAIT) == "kid"


async def test_restart_is_logged_with_restart_count() -> None:
    journal = Journal()
    async with ActorSystem("t", guardian_flags=SupervisorFlags(backoff=NO_BACKOFF)) as system:
        with capture_logs() as logs:
            ref = await system.spawn(Child, journal, "x", name="x")
            with pytest.raises(RuntimeError):
                await ref.ask(Boom(), timeout=WAIT)
            await wait_until(lambda: len(journal.of("start")) == 2)
    restarted = [entry for entry in logs if entry["event"] == "actor_restarted"]
    assert restarted[0]["actor"] == "/user/x"
    assert restarted[0]["restart_count"] == 1
    assert restarted[0]["log_level"] == "warning"
    failed = [entry for entry in logs if entry["event"] == "actor_failed"]
    assert failed[0]["msg_type"] == "Boom"
    assert failed[0]["correlation_id"] is not None


async def test_restart_intensity_error_names_the_supervisor() -> None:
    error = RestartIntensityExceeded("/user/p", "too many")
    assert error.actor == "/user/p"
    assert "/user/p failed: too many" in str(error)
