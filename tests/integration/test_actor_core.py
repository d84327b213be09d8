"""The in-process core: spawn, tell/send/ask, refs, lookup, stop, dead letters."""

from __future__ import annotations

import asyncio
import gc
import runpy
from pathlib import Path
from typing import Any

import anyio
import pytest

from actors import (
    Actor,
    ActorNameTaken,
    ActorNotFound,
    ActorStopped,
    ActorSystem,
    AskDeadlock,
    AskTimeout,
    MailboxConfig,
    MailboxFull,
    Overflow,
    SystemNotRunning,
)
from actors._cell import ActorCell
from protocol import Message
from tests.helpers import WAIT, Boom, Echo, Ping, Pong

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]


def test_readme_example_runs_as_written() -> None:
    runpy.run_path(str(ROOT / "examples" / "readme_example.py"), run_name="__main__")


def test_readme_starts_with_the_readme_example() -> None:
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / "examples" / "readme_example.py").read_text()
    body = example.split('"""', 2)[2].strip().replace("        print(total)\n", "")
    assert body.replace("\n", "") in readme.replace("\n", "")


class Counter(Actor[Message]):
    def __init__(self, start: int = 0) -> None:
        self.total = start

    async def receive(self, message: Message) -> Any:
        match message:
            case Ping(n=n):
                self.total += n
            case Pong():
                return self.total
        return None


async def test_tell_is_processed_in_order_and_ask_sees_the_result() -> None:
    async with ActorSystem("t") as system:
        counter = await system.spawn(Counter, 10, name="counter")
        for n in range(1, 101):
            counter.tell(Ping(n))
        assert await counter.ask(Pong(), timeout=WAIT) == 10 + sum(range(1, 101))


async def test_send_waits_for_room_instead_of_failing() -> None:
    gate = asyncio.Event()

    class Slow(Actor[Message]):
        def __init__(self) -> None:
            self.seen: list[int] = []

        async def receive(self, message: Message) -> Any:
            if isinstance(message, Ping):
                await gate.wait()
                self.seen.append(message.n)
                return None
            return list(self.seen)

    async with ActorSystem("t") as system:
        ref = await system.spawn(Slow, mailbox=MailboxConfig(capacity=2))
        sender_done = asyncio.Event()

        async def sender() -> None:
            for n in range(10):
                await ref.send(Ping(n))
            sender_done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(sender)
            await asyncio.sleep(0)
            assert not sender_done.is_set()  # blocked on a full mailbox
            gate.set()
            with anyio.fail_after(WAIT):
                await sender_done.wait()
        assert await ref.ask(Pong(), timeout=WAIT) == list(range(10))


async def test_tell_to_a_full_mailbox_fails_fast_by_default() -> None:
    async with ActorSystem("t") as system:
        ref = await system.spawn(Echo, mailbox=MailboxConfig(capacity=3))
        for n in range(3):
            ref.tell(Ping(n))
        with pytest.raises(MailboxFull, match="mailbox of /user/\\$1 is full"):
            ref.tell(Ping(99))


class Gated(Actor[Message]):
    """Records Pings after its gate opens; any other message asks for the record."""

    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate
        self.seen: list[int] = []

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Ping):
            await self.gate.wait()
            self.seen.append(message.n)
            return None
        return self.seen


async def test_drop_oldest_counts_drops_and_dead_letters_them() -> None:
    gate = asyncio.Event()

    async with ActorSystem("t") as system:
        ref = await system.spawn(
            Gated, gate, mailbox=MailboxConfig(capacity=3, overflow=Overflow.DROP_OLDEST)
        )
        ref.tell(Ping(0))
        await asyncio.sleep(0)  # the actor takes Ping(0) and blocks on the gate
        for n in range(1, 8):
            ref.tell(Ping(n))
        gate.set()
        assert await ref.ask(Pong(), timeout=WAIT) == [0, 5, 6, 7]
        dropped = [letter.message for letter in system.dead_letters.recent()]
        assert dropped == [Ping(1), Ping(2), Ping(3), Ping(4)]


async def test_drop_newest_keeps_the_queued_messages() -> None:
    gate = asyncio.Event()

    async with ActorSystem("t") as system:
        ref = await system.spawn(
            Gated, gate, mailbox=MailboxConfig(capacity=2, overflow=Overflow.DROP_NEWEST)
        )
        ref.tell(Ping(0))
        await asyncio.sleep(0)
        for n in range(1, 6):
            ref.tell(Ping(n))
        gate.set()
        assert await ref.ask(Pong(), timeout=WAIT) == [0, 1, 2]
        assert system.dead_letters.count == 3


async def test_ask_times_out_when_actor_never_replies() -> None:
    never = asyncio.Event()

    class Silent(Actor[Message]):
        async def receive(self, message: Message) -> Any:
            await never.wait()

    async with ActorSystem("t") as system:
        ref = await system.spawn(Silent, name="silent", shutdown=0.01)
        with pytest.raises(AskTimeout) as info:
            await ref.ask(Ping(), timeout=0.01)
        assert isinstance(info.value, TimeoutError)
        assert "/user/silent" in str(info.value)
        assert "Ping" in str(info.value)


async def test_ask_whose_timeout_passed_before_delivery_is_not_delivered() -> None:
    gate = asyncio.Event()
    handled: list[int] = []

    class Gated(Actor[Message]):
        async def receive(self, message: Message) -> Any:
            if isinstance(message, Ping) and message.n == 0:
                await gate.wait()
            handled.append(getattr(message, "n", -1))
            return None

    async with ActorSystem("t") as system:
        ref = await system.spawn(Gated)
        ref.tell(Ping(0))
        with pytest.raises(AskTimeout):
            await ref.ask(Ping(1), timeout=0.01)
        gate.set()
        await ref.ask(Ping(2), timeout=WAIT)
        assert handled == [0, 2]


async def test_exception_in_handler_reaches_the_asker() -> None:
    async with ActorSystem("t") as system:
        ref = await system.spawn(Echo)
        with pytest.raises(RuntimeError, match="kaput"):
            await ref.ask(Boom("kaput"), timeout=WAIT)
        # The default supervisor restarted it: it answers again.
        assert await ref.ask(Ping(3), timeout=WAIT) == Ping(3)


async def test_asking_yourself_fails_at_once_instead_of_deadlocking() -> None:
    class Narcissus(Actor[Message]):
        async def receive(self, message: Message) -> Any:
            if isinstance(message, Ping):
                try:
                    await self.self_ref.ask(Pong(), timeout=WAIT)
                except AskDeadlock as exc:
                    return str(exc)
            return "pong"

    async with ActorSystem("t") as system:
        ref = await system.spawn(Narcissus, name="n")
        answer = await ref.ask(Ping(), timeout=WAIT)
        assert "asked itself" in answer


async def test_a_cycle_of_asks_fails_at_once() -> None:
    class Asker(Actor[Message]):
        def __init__(self) -> None:
            self.other: Any = None

        async def receive(self, message: Message) -> Any:
            if isinstance(message, Ping) and message.n == 0:
                return await self.other.ask(Ping(1), timeout=WAIT)
            if isinstance(message, Ping) and message.n == 1:
                return await self.other.ask(Ping(2), timeout=WAIT)
            return "leaf"

    async with ActorSystem("t") as system:
        a = await system.spawn(Asker, name="a")
        b = await system.spawn(Asker, name="b")
        a_cell = system.lookup("/user/a")
        # Wire the cycle a -> b -> a through their instances.
        a._cell.instance.other = b  # type: ignore[attr-defined]
        b._cell.instance.other = a_cell  # type: ignore[attr-defined]
        with pytest.raises(AskDeadlock, match="cycle of asks"):
            await a.ask(Ping(0), timeout=WAIT)


async def test_refs_are_hashable_comparable_and_printable() -> None:
    async with ActorSystem("demo") as system:
        ref = await system.spawn(Echo, name="echo")
        same = system.lookup("/user/echo")
        other = await system.spawn(Echo, name="other")
        assert ref == same
        assert hash(ref) == hash(same)
        assert ref != other
        assert len({ref, same, other}) == 2
        assert str(ref) == "tadpole://demo/user/echo"
        assert repr(ref) == "ActorRef('tadpole://demo/user/echo')"
        assert ref.path == "/user/echo"


async def test_children_have_hierarchical_paths_and_are_found_by_path() -> None:
    class Parent(Actor[Message]):
        async def on_start(self) -> None:
            await self.context.spawn(Echo, name="kid")

        async def receive(self, message: Message) -> Any:
            return [child.path for child in self.context.children]

    async with ActorSystem("t") as system:
        parent = await system.spawn(Parent, name="parent")
        assert await parent.ask(Ping(), timeout=WAIT) == ["/user/parent/kid"]
        kid = system.lookup("/user/parent/kid")
        assert await kid.ask(Ping(7), timeout=WAIT) == Ping(7)
        with pytest.raises(ActorNotFound, match="/user/nobody"):
            system.lookup("/user/nobody")


async def test_spawning_a_taken_name_is_refused() -> None:
    async with ActorSystem("t") as system:
        await system.spawn(Echo, name="x")
        with pytest.raises(ActorNameTaken, match="/user/x"):
            await system.spawn(Echo, name="x")


async def test_restart_builds_a_fresh_instance_from_the_spawn_arguments() -> None:
    class FragileCounter(Counter):
        async def receive(self, message: Message) -> Any:
            if isinstance(message, Boom):
                raise RuntimeError("boom")
            return await super().receive(message)

    async with ActorSystem("t") as system:
        ref = await system.spawn(FragileCounter, 5)
        ref.tell(Ping(10))
        assert await ref.ask(Pong(), timeout=WAIT) == 15
        with pytest.raises(RuntimeError, match="boom"):
            await ref.ask(Boom(), timeout=WAIT)
        assert await ref.ask(Pong(), timeout=WAIT) == 5


async def test_message_to_a_stopped_actor_goes_to_dead_letters() -> None:
    async with ActorSystem("t") as system:
        ref = await system.spawn(Echo, name="gone")
        seen: list[Any] = []
        system.dead_letters.subscribe(seen.append)
        await system.stop(ref)
        ref.tell(Ping(1))
        await ref.send(Ping(2))
        with pytest.raises(ActorStopped):
            await ref.ask(Ping(3), timeout=WAIT)
        assert [letter.message for letter in seen] == [Ping(1), Ping(2), Ping(3)]
        assert all(letter.recipient == "/user/gone" for letter in seen)
        assert system.dead_letters.count == 3


async def test_a_new_actor_at_a_stopped_path_does_not_get_the_old_refs_messages() -> None:
    async with ActorSystem("t") as system:
        old = await system.spawn(Counter, name="c")
        await system.stop(old)
        new = await system.spawn(Counter, name="c")
        old.tell(Ping(5))
        assert old != new
        assert await new.ask(Pong(), timeout=WAIT) == 0


async def test_stop_lets_the_current_message_finish() -> None:
    started = asyncio.Event()
    finish = asyncio.Event()
    finished: list[bool] = []

    class Busy(Actor[Message]):
        async def receive(self, message: Message) -> Any:
            started.set()
            await finish.wait()
            finished.append(True)

    async with ActorSystem("t") as system:
        ref = await system.spawn(Busy)
        ref.tell(Ping())
        with anyio.fail_after(WAIT):
            await started.wait()
        async with anyio.create_task_group() as tg:
            tg.start_soon(system.stop, ref)
            await asyncio.sleep(0)
            finish.set()
        assert finished == [True]


async def test_stop_cancels_a_handler_that_overruns_its_shutdown_timeout() -> None:
    never = asyncio.Event()
    cancelled: list[bool] = []

    class Stuck(Actor[Message]):
        async def receive(self, message: Message) -> Any:
            try:
                await never.wait()
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

    async with ActorSystem("t") as system:
        ref = await system.spawn(Stuck, shutdown=0.01)
        ref.tell(Ping())
        await asyncio.sleep(0)
        await system.stop(ref)
        assert cancelled == [True]


async def test_spawning_outside_a_running_system_is_refused() -> None:
    system = ActorSystem("t")
    with pytest.raises(SystemNotRunning, match="not running"):
        await system.spawn(Echo)
    async with system:
        pass
    with pytest.raises(SystemNotRunning):
        await system.spawn(Echo)


async def test_factory_errors_are_raised_to_the_spawner() -> None:
    class Picky(Actor[Message]):
        def __init__(self, value: int) -> None:
            if value < 0:
                raise ValueError(f"value must be >= 0, got {value}")

    async with ActorSystem("t") as system:
        with pytest.raises(ValueError, match="got -1"):
            await system.spawn(Picky, -1, name="picky")
        # The name is free again.
        await system.spawn(Picky, 1, name="picky")


async def test_spawn_refuses_a_factory_that_is_not_an_actor() -> None:
    async with ActorSystem("t") as system:
        with pytest.raises(TypeError, match="not an Actor"):
            await system.spawn(dict)  # type: ignore[arg-type]


async def test_context_is_not_available_in_init() -> None:
    class Early(Actor[Message]):
        def __init__(self) -> None:
            self.context.path  # noqa: B018 - the access itself must fail

    async with ActorSystem("t") as system:
        with pytest.raises(RuntimeError, match="not in __init__"):
            await system.spawn(Early)


async def test_statistics_count_actors_and_processed_messages() -> None:
    async with ActorSystem("t") as system:
        ref = await system.spawn(Echo)
        for n in range(5):
            await ref.ask(Ping(n), timeout=WAIT)
        stats = system.statistics()
        assert stats.actors == 1
        assert stats.messages_processed == 5
        assert stats.running
    assert not system.statistics().running


def test_supervised_pool_example_finishes_every_job_and_restarts_the_crashed_worker() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "supervised_pool.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "400/400 jobs done" in result.stdout
    assert "restarts: 1" in result.stdout
    assert "actor_restarted" in result.stdout + result.stderr


async def test_an_actor_without_hooks_holds_no_task_until_its_first_message() -> None:
    before = len(asyncio.all_tasks())
    async with ActorSystem("t") as system:
        refs = [await system.spawn(Echo) for _ in range(50)]
        assert len(asyncio.all_tasks()) == before
        assert await refs[7].ask(Ping(7), timeout=WAIT) == Ping(7)
        assert len(asyncio.all_tasks()) == before + 1
        assert system.statistics().actors == 50


async def test_an_idle_actor_costs_the_garbage_collector_two_objects() -> None:
    # The cell (which is also the mailbox) and the actor instance; refs are made
    # on demand. Every tracked object is work for each full collection.
    async with ActorSystem("t") as system:
        await system.spawn(Echo)  # warm caches (loggers, specs) before counting
        gc.collect()
        gc.disable()
        try:
            before = len(gc.get_objects())
            for _ in range(1000):
                await system.spawn(Echo)
            per_actor = (len(gc.get_objects()) - before) / 1000
        finally:
            gc.enable()
        assert per_actor <= 2.05
        assert system.statistics().actors == 1001


async def test_stopped_actors_are_freed_without_the_cyclic_collector() -> None:
    class Parent(Actor[Message]):
        async def on_start(self) -> None:
            await self.context.spawn(Echo)

        async def receive(self, message: Message) -> Any:
            return message

    def cells() -> int:
        return sum(1 for o in gc.get_objects() if isinstance(o, ActorCell))

    gc.collect()
    gc.disable()
    try:
        before = cells()
        async with ActorSystem("t") as system:
            refs = [await system.spawn(Echo) for _ in range(20)]
            refs += [await system.spawn(Parent) for _ in range(5)]
            for ref in refs:
                assert await ref.ask(Ping(1), timeout=WAIT) == Ping(1)
            stopped = refs.pop(0)
            await system.stop(stopped)
            del stopped
            assert cells() == before + 29  # 25 actors and 5 children, one stopped
        del refs, ref
        await asyncio.sleep(0)  # the shutdown's own tasks finish
        assert cells() == before
    finally:
        gc.enable()


async def test_refs_made_on_demand_are_one_identity() -> None:
    async with ActorSystem("t") as system:
        ref = await system.spawn(Echo, name="e")
        again = system.lookup("/user/e")
        assert again is not ref
        assert again == ref
        assert hash(again) == hash(ref)
        assert {ref: 1}[again] == 1
        assert await again.ask(Ping(3), timeout=WAIT) == Ping(3)


async def test_an_actor_with_on_start_runs_it_before_any_message() -> None:
    order: list[str] = []

    class Hooked(Actor[Message]):
        async def on_start(self) -> None:
            order.append("start")

        async def receive(self, message: Message) -> Any:
            order.append("receive")

    async with ActorSystem("t") as system:
        ref = await system.spawn(Hooked)
        ref.tell(Ping())
        await ref.ask(Ping(), timeout=WAIT)
    assert order == ["start", "receive", "receive"]
