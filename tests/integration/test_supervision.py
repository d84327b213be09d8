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
    MailboxConfig,
    Restart,
    RestartIntensityExceeded,
    Strategy,
    SupervisorFlags,
)
from actors.lowlevel import cell_at
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
            # Guarded by the loop's real time, not an ask timeout: an ask's
            # deadline would read the clock, whose readings are counted here.
            with pytest.raises(RuntimeError), anyio.fail_after(WAIT):
                await ref.ask(Boom())
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


# -- restart types (OTP's supervisor_SUITE: permanent/transient/temporary) -------


class Quit(Message, tag="test.sup.quit"):
    pass


class Quitter(Child):
    """A Child that stops itself (a normal exit) on ``Quit``."""

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Quit):
            self.context.stop()
            return "bye"
        return await super().receive(message)


async def test_permanent_child_that_stops_itself_is_restarted_keeping_its_mailbox() -> None:
    journal = Journal()
    async with ActorSystem("t", guardian_flags=SupervisorFlags(backoff=NO_BACKOFF)) as system:
        ref = await system.spawn(Quitter, journal, "p", name="p")
        ref.tell(Quit())
        ref.tell(Ping())  # accepted before the exit: handled by the next incarnation
        assert await ref.ask(Ping(), timeout=WAIT) == "p"
        await wait_until(lambda: journal.of("start") == ["p", "p"])
        assert journal.of("stop") == ["p"]
        assert system.lookup("/user/p") == ref
        assert ref._cell.processed == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("restart", [Restart.TRANSIENT, Restart.TEMPORARY])
async def test_transient_or_temporary_child_that_stops_itself_is_not_restarted(
    restart: Restart,
) -> None:
    journal = Journal()
    async with ActorSystem("t", guardian_flags=SupervisorFlags(backoff=NO_BACKOFF)) as system:
        ref = await system.spawn(Quitter, journal, "x", name="x", restart=restart)
        assert await ref.ask(Quit(), timeout=WAIT) == "bye"
        await wait_until(lambda: system.statistics().actors == 0)
        assert journal.of("start") == ["x"]
        assert journal.of("stop") == ["x"]


async def test_transient_child_is_restarted_after_a_failure() -> None:
    journal = Journal()
    async with ActorSystem("t", guardian_flags=SupervisorFlags(backoff=NO_BACKOFF)) as system:
        ref = await system.spawn(Child, journal, "x", restart=Restart.TRANSIENT)
        with pytest.raises(RuntimeError):
            await ref.ask(Boom(), timeout=WAIT)
        assert await ref.ask(Ping(), timeout=WAIT) == "x"
        assert journal.of("start") == ["x", "x"]


async def test_permanent_child_stopped_by_its_supervisor_or_the_system_is_not_restarted() -> None:
    journal = Journal()

    class Stopper(Actor[Message]):
        async def on_start(self) -> None:
            await self.context.spawn(Child, journal, "kid", name="kid")

        async def receive(self, message: Message) -> Any:
            self.context.stop(self.context.children[0])
            return None

    async with ActorSystem("t", guardian_flags=SupervisorFlags(backoff=NO_BACKOFF)) as system:
        parent = await system.spawn(Stopper, name="p")
        await wait_until(lambda: journal.of("start") == ["kid"])
        await parent.ask(Ping(), timeout=WAIT)
        await wait_until(lambda: cell_at(system, "/user/p/kid") is None)
        top = await system.spawn(Child, journal, "top", name="top")
        await system.stop(top)
        assert cell_at(system, "/user/top") is None
        assert journal.of("start") == ["kid", "top"]
    # Shutdown stopped p for good as well: it was never restarted.
    assert journal.of("start") == ["kid", "top"]


async def test_permanent_child_stopping_itself_counts_toward_restart_intensity() -> None:
    journal = Journal()
    flags = SupervisorFlags(intensity=1, period=60.0, backoff=NO_BACKOFF)
    async with ActorSystem("t", guardian_flags=flags) as system:
        with capture_logs() as logs:
            ref = await system.spawn(Quitter, journal, "q", name="q")
            await ref.ask(Quit(), timeout=WAIT)
            await wait_until(lambda: journal.of("start") == ["q", "q"])
            await ref.ask(Quit(), timeout=WAIT)
            await wait_until(lambda: cell_at(system, "/user/q") is None)
        assert [e["actor"] for e in logs if e["event"] == "supervisor_gave_up"] == ["/user"]


# -- temporary siblings are not restarted by one_for_all / rest_for_one ------------


def parent_with_restarts(
    flags: SupervisorFlags, journal: Journal, children: list[tuple[str, Restart]]
) -> type[Actor[Message]]:
    class Parent(Actor[Message]):
        supervisor_flags: ClassVar[SupervisorFlags] = flags

        async def on_start(self) -> None:
            for label, restart in children:
                await self.context.spawn(Child, journal, label, name=label, restart=restart)

        async def receive(self, message: Message) -> Any:
            return None

    return Parent


@pytest.mark.parametrize(
    ("strategy", "failing", "restarted"),
    [
        (Strategy.ONE_FOR_ALL, "c", ["a", "s", "c"]),
        (Strategy.REST_FOR_ONE, "a", ["a", "s", "c"]),
    ],
)
async def test_strategy_stops_temporary_siblings_for_good_and_restarts_the_others(
    strategy: Strategy, failing: str, restarted: list[str]
) -> None:
    journal = Journal()
    flags = SupervisorFlags(strategy=strategy, backoff=NO_BACKOFF)
    children = [
        ("a", Restart.PERMANENT),
        ("t", Restart.TEMPORARY),
        ("s", Restart.TRANSIENT),
        ("c", Restart.PERMANENT),
    ]
    async with ActorSystem("t") as system:
        await system.spawn(parent_with_restarts(flags, journal, children), name="p")
        await wait_until(lambda: len(journal.of("start")) == 4)
        journal.events.clear()
        with pytest.raises(RuntimeError):
            await system.lookup(f"/user/p/{failing}").ask(Boom(), timeout=WAIT)
        await wait_until(lambda: len(journal.of("start")) == len(restarted))
        assert journal.of("start") == restarted
        assert "t" in journal.of("stop")
        assert cell_at(system, "/user/p/t") is None
        parent_cell = cell_at(system, "/user/p")
        assert parent_cell is not None
        assert list(parent_cell.children) == ["a", "s", "c"]
        for label in restarted:
            assert await system.lookup(f"/user/p/{label}").ask(Ping(), timeout=WAIT) == label


# -- backoff never overflows; the engine never strands a child -----------------


class CrashOnEverything(Actor[Message]):
    received: ClassVar[list[int]] = []

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Ping):
            CrashOnEverything.received.append(message.n)
        raise RuntimeError("always")


async def test_more_restarts_than_the_float_range_of_backoff_still_handle_every_message() -> None:
    # About 1,024 restarts made factor ** n overflow: the restart died and the
    # child was stranded with its mailbox full. Capped, every tell is handled.
    CrashOnEverything.received.clear()
    clock = RecordingClock()
    flags = SupervisorFlags(intensity=100_000, period=3600.0, backoff=Backoff(initial=0.001))
    told = 1_100
    async with ActorSystem("t", clock=clock, guardian_flags=flags) as system:
        with capture_logs():
            ref = await system.spawn(
                CrashOnEverything, name="c", mailbox=MailboxConfig(capacity=told)
            )
            for n in range(told):
                ref.tell(Ping(n))
            await wait_until(lambda: len(CrashOnEverything.received) == told, timeout=60.0)
    assert CrashOnEverything.received == list(range(told))
    assert max(clock.sleeps) <= Backoff().maximum * 1.2
    assert system.dead_letters.count == 0


class BrokenClock(RecordingClock):
    async def sleep(self, delay: float) -> None:
        raise RuntimeError("clock broke")


async def test_an_error_inside_the_restart_engine_escalates_instead_of_stranding_the_child() -> (
    None
):
    journal = Journal()
    flags = SupervisorFlags(backoff=Backoff(initial=0.5, jitter=0.0))
    clock = BrokenClock()
    guardian = SupervisorFlags(backoff=NO_BACKOFF)
    async with ActorSystem("t", clock=clock, guardian_flags=guardian) as system:
        letters: list[Any] = []
        system.dead_letters.subscribe(letters.append)
        with capture_logs() as logs:
            await system.spawn(parent_with(flags, journal, ["a"]), name="p")
            await wait_until(lambda: journal.of("start") == ["a"])
            a = system.lookup("/user/p/a")
            a.tell(Boom())
            a.tell(Ping(7))  # queued behind the failure
            # p's engine breaks while restarting a: p fails, the guardian restarts p,
            # whose new incarnation starts a fresh a.
            await wait_until(lambda: journal.of("start") == ["a", "a"])
            fresh = system.lookup("/user/p/a")
            assert await fresh.ask(Ping(), timeout=WAIT) == "a"
        failed = [e for e in logs if e["event"] == "supervisor_failed"]
        assert [e["actor"] for e in failed] == ["/user/p"]
        assert "clock broke" in failed[0]["error"]
        # The old a was stopped, its queued message dead-lettered, not stranded.
        assert [letter.message for letter in letters] == [Ping(7)]
        p = cell_at(system, "/user/p")
        assert p is not None
        assert p.restart_count == 1


# -- a restarted supervisor has a fresh intensity window ------------------------


async def test_restarted_supervisor_starts_with_a_fresh_restart_intensity_window() -> None:
    journal = Journal()
    flags = SupervisorFlags(intensity=1, period=60.0, backoff=NO_BACKOFF)
    parent_cls = parent_with(flags, journal, ["a"])
    guardian = SupervisorFlags(intensity=10, period=60.0, backoff=NO_BACKOFF)
    async with ActorSystem("t", guardian_flags=guardian) as system:
        with capture_logs() as logs:
            await system.spawn(parent_cls, name="p")
            await wait_until(lambda: journal.of("start") == ["a"])
            for expected_starts in (2, 3):  # restart of a; then p gives up and restarts
                with pytest.raises(RuntimeError):
                    await system.lookup("/user/p/a").ask(Boom(), timeout=WAIT)
                await wait_until(lambda n=expected_starts: len(journal.of("start")) == n)
            p = cell_at(system, "/user/p")
            assert p is not None
            assert p.restart_count == 1
            # One failure in the new incarnation is within its intensity: a restarts.
            with pytest.raises(RuntimeError):
                await system.lookup("/user/p/a").ask(Boom(), timeout=WAIT)
            await wait_until(lambda: len(journal.of("start")) == 4)
            assert p.restart_count == 1
        gave_up = [e["actor"] for e in logs if e["event"] == "supervisor_gave_up"]
        assert gave_up == ["/user/p"]


async def test_many_crashing_children_of_one_supervisor_lose_no_accepted_tell() -> None:
    # The reported shape: one_for_one, many children crashing on every message,
    # a high intensity. The supervisor's restart count passes 1,024 in its window.
    CrashOnEverything.received.clear()
    children, per_child = 40, 30
    flags = SupervisorFlags(intensity=100_000, period=3600.0, backoff=Backoff(initial=0.001))

    class Pool(Actor[Message]):
        supervisor_flags: ClassVar[SupervisorFlags] = flags

        async def on_start(self) -> None:
            for i in range(children):
                await self.context.spawn(CrashOnEverything, name=f"c{i}")

        async def receive(self, message: Message) -> Any:
            return None

    clock = RecordingClock()
    async with ActorSystem("t", clock=clock) as system:
        with capture_logs():
            await system.spawn(Pool, name="pool")
            await wait_until(lambda: cell_at(system, f"/user/pool/c{children - 1}") is not None)
            refs = [system.lookup(f"/user/pool/c{i}") for i in range(children)]
            for n in range(per_child):
                for i, ref in enumerate(refs):
                    ref.tell(Ping(n * children + i))
            total = children * per_child
            await wait_until(lambda: len(CrashOnEverything.received) == total, timeout=60.0)
    assert sorted(CrashOnEverything.received) == list(range(total))
    assert system.dead_letters.count == 0
