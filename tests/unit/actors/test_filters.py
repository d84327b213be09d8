"""Delivery filters: each message is screened once, before it is enqueued, and a
refusal reaches the sender (or dead letters when the sender cannot be told)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from actors import (
    Actor,
    ActorStopped,
    ActorSystem,
    DeadLetter,
    DeliveryRefused,
    MailboxConfig,
    Overflow,
    lowlevel,
)
from actors._cell import ActorCell
from actors._filters import FilteredCell
from tests.helpers import WAIT, wait_until

pytestmark = pytest.mark.anyio


class Odd(DeliveryRefused):
    """The test filters' refusal."""


def refuse_odd(message: Any) -> Exception | None:
    if isinstance(message, int) and message % 2:
        return Odd("/user/r", f"{message} is odd")
    return None


class Recorder(Actor[Any]):
    def __init__(self, seen: list[object]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        self.seen.append(message)
        return message


async def test_a_refused_tell_raises_to_the_sender_and_never_reaches_receive() -> None:
    seen: list[object] = []
    async with ActorSystem("t") as system:
        ref = await system.spawn(Recorder, seen, name="r")
        lowlevel.add_delivery_filter(ref, refuse_odd)
        ref.tell(2)
        with pytest.raises(Odd, match="3 is odd"):
            ref.tell(3)
        ref.tell(4)
        assert await ref.ask("done", timeout=WAIT) == "done"
        assert seen == [2, 4, "done"]
        assert lowlevel.filter_statistics(ref) == lowlevel.FilterStatistics(filters=1, refused=1)
        assert system.dead_letters.count == 0  # the sender was told: nothing to dead-letter


async def test_a_refused_send_raises_and_a_refused_ask_fails_with_the_refusal() -> None:
    seen: list[object] = []
    async with ActorSystem("t") as system:
        ref = await system.spawn(Recorder, seen, name="r")
        lowlevel.add_delivery_filter(ref, refuse_odd)
        with pytest.raises(Odd):
            await ref.send(5)
        with pytest.raises(Odd):
            await ref.ask(7, timeout=WAIT)
        with pytest.raises(Odd):
            await ref.ask(9)  # without a timer too
        assert await ref.ask(8, timeout=WAIT) == 8
        assert seen == [8]
        assert lowlevel.filter_statistics(ref).refused == 3


async def test_a_send_waiting_for_room_is_screened_when_it_gets_in() -> None:
    seen: list[object] = []
    gate = anyio.Event()

    class Slow(Recorder):
        async def receive(self, message: Any) -> Any:
            if message == "block":
                await gate.wait()
            return await super().receive(message)

    async with ActorSystem("t") as system:
        ref = await system.spawn(Slow, seen, name="r", mailbox=MailboxConfig(capacity=1))
        ref.tell("block")
        await wait_until(lambda: lowlevel.cell_at(system, "/user/r") is not None)
        cell = lowlevel.cell_at(system, "/user/r")
        assert cell is not None
        await wait_until(lambda: len(cell.mailbox) == 0)
        ref.tell("fill")  # the mailbox is full now
        lowlevel.add_delivery_filter(ref, refuse_odd)
        outcome: list[BaseException | None] = []

        async def send_odd() -> None:
            try:
                await ref.send(3)
            except Odd as exc:
                outcome.append(exc)
            else:
                outcome.append(None)

        async with anyio.create_task_group() as tg:
            tg.start_soon(send_odd)
            await wait_until(lambda: cell.statistics().waiting_senders == 1)
            assert lowlevel.filter_statistics(ref).refused == 0  # not screened while waiting
            gate.set()
        assert isinstance(outcome[0], Odd)
        assert await ref.ask("done", timeout=WAIT) == "done"
        assert seen == ["block", "fill", "done"]


async def test_a_refused_tell_to_a_full_mailbox_is_refused_not_dropped() -> None:
    """The filter runs before the overflow policy: a refused message is never dropped."""
    seen: list[object] = []
    gate = anyio.Event()

    class Slow(Recorder):
        async def receive(self, message: Any) -> Any:
            await gate.wait()
            return await super().receive(message)

    config = MailboxConfig(capacity=1, overflow=Overflow.DROP_NEWEST)
    async with ActorSystem("t") as system:
        ref = await system.spawn(Slow, seen, name="r", mailbox=config)
        ref.tell(0)
        cell = lowlevel.cell_of(ref)
        await wait_until(lambda: len(cell.mailbox) == 0)  # 0 is being handled
        ref.tell(2)  # the mailbox is full now
        lowlevel.add_delivery_filter(ref, refuse_odd)
        with pytest.raises(Odd):
            ref.tell(1)
        gate.set()
        assert await ref.ask(4, timeout=WAIT) == 4
        assert seen == [0, 2, 4]
        assert system.dead_letters.count == 0


async def test_removing_the_filter_restores_delivery_and_the_plain_cell() -> None:
    seen: list[object] = []
    async with ActorSystem("t") as system:
        ref = await system.spawn(Recorder, seen, name="r")
        cell = lowlevel.cell_of(ref)
        assert type(cell) is ActorCell
        remove = lowlevel.add_delivery_filter(ref, refuse_odd)
        assert type(cell) is FilteredCell
        with pytest.raises(Odd):
            ref.tell(1)
        remove()
        remove()  # harmless
        assert type(cell) is ActorCell  # no filter: no cost
        ref.tell(1)
        assert await ref.ask(3, timeout=WAIT) == 3
        assert seen == [1, 3]
        assert lowlevel.filter_statistics(ref) == lowlevel.FilterStatistics(filters=0, refused=1)


async def test_filters_run_in_order_and_the_first_refusal_wins() -> None:
    calls: list[str] = []

    def first(message: Any) -> Exception | None:
        calls.append(f"first {message}")
        return DeliveryRefused("/user/r", "first") if message == "a" else None

    def second(message: Any) -> Exception | None:
        calls.append(f"second {message}")
        return DeliveryRefused("/user/r", "second") if message in ("a", "b") else None

    seen: list[object] = []
    async with ActorSystem("t") as system:
        ref = await system.spawn(Recorder, seen, name="r")
        remove_first = lowlevel.add_delivery_filter(ref, first)
        lowlevel.add_delivery_filter(ref, second)
        assert lowlevel.delivery_filters(ref) == (first, second)
        with pytest.raises(DeliveryRefused, match="first"):
            ref.tell("a")
        with pytest.raises(DeliveryRefused, match="second"):
            ref.tell("b")
        ref.tell("c")
        assert calls == ["first a", "first b", "second b", "first c", "second c"]
        remove_first()
        assert lowlevel.delivery_filters(ref) == (second,)
        with pytest.raises(DeliveryRefused, match="second"):
            ref.tell("a")
        assert await ref.ask("d", timeout=WAIT) == "d"
        assert seen == ["c", "d"]


async def test_the_same_filter_installed_twice_is_removed_one_installation_at_a_time() -> None:
    async with ActorSystem("t") as system:
        ref = await system.spawn(Recorder, [], name="r")
        one = lowlevel.add_delivery_filter(ref, refuse_odd)
        two = lowlevel.add_delivery_filter(ref, refuse_odd)
        one()
        one()
        assert lowlevel.delivery_filters(ref) == (refuse_odd,)
        two()
        assert lowlevel.delivery_filters(ref) == ()


async def test_a_filter_that_raises_refuses_with_what_it_raised() -> None:
    """Filters fail closed: a broken check must not let a message through."""

    def broken(message: Any) -> Exception | None:
        raise KeyError(message)

    seen: list[object] = []
    async with ActorSystem("t") as system:
        ref = await system.spawn(Recorder, seen, name="r")
        lowlevel.add_delivery_filter(ref, broken)
        with pytest.raises(KeyError):
            ref.tell("x")
        with pytest.raises(KeyError):
            await ref.ask("y", timeout=WAIT)
        assert lowlevel.filter_statistics(ref).refused == 2
        assert seen == []


async def test_a_filter_returning_neither_none_nor_an_exception_refuses_with_type_error() -> None:
    def sloppy(message: Any) -> Any:
        return False  # meant "do not refuse", but a filter must return None

    async with ActorSystem("t") as system:
        ref = await system.spawn(Recorder, [], name="r")
        lowlevel.add_delivery_filter(ref, sloppy)
        with pytest.raises(TypeError, match="returned False"):
            ref.tell("x")


async def test_a_filter_is_installed_on_local_actors_only() -> None:
    async with ActorSystem("t") as system:
        ref = await system.spawn(Recorder, [], name="r")
        with pytest.raises(TypeError, match="callable"):
            lowlevel.add_delivery_filter(ref, "not a function")  # type: ignore[arg-type]
        virtual = system.virtual(Recorder, "k")
        with pytest.raises(TypeError, match="local actor ref or cell"):
            lowlevel.add_delivery_filter(virtual, refuse_odd)
        assert lowlevel.delivery_filters(ref) == ()


async def test_the_filter_stays_across_restarts() -> None:
    seen: list[object] = []

    class Fragile(Recorder):
        async def receive(self, message: Any) -> Any:
            if message == "crash":
                raise RuntimeError("crash")
            return await super().receive(message)

    async with ActorSystem("t") as system:
        ref = await system.spawn(Fragile, seen, name="r")
        lowlevel.add_delivery_filter(ref, refuse_odd)
        with pytest.raises(RuntimeError):
            await ref.ask("crash", timeout=WAIT)
        await wait_until(lambda: lowlevel.cell_of(ref).restart_count == 1)
        with pytest.raises(Odd):
            ref.tell(1)
        assert await ref.ask(2, timeout=WAIT) == 2


async def test_refusals_for_senders_that_cannot_be_told_go_to_dead_letters() -> None:
    """Runtime deliveries (timers, watch notices) and topic publishes are dead-lettered."""
    seen: list[object] = []
    letters: list[DeadLetter] = []
    async with ActorSystem("t") as system:
        system.dead_letters.subscribe(letters.append)
        ref = await system.spawn(Recorder, seen, name="r")
        lowlevel.add_delivery_filter(ref, refuse_odd)
        cell = lowlevel.cell_of(ref)
        cell.deliver_quietly(1)  # as a timer or a watch notice would
        system.topics.subscribe("numbers", ref)
        assert system.topics.publish("numbers", 3) == 0
        assert system.topics.publish("numbers", 4) == 1
        await cell.deliver_wait_quietly(5)  # as a tell from another node that waited
        assert await ref.ask("done", timeout=WAIT) == "done"
        assert seen == [4, "done"]
        assert [letter.message for letter in letters] == [1, 3, 5]
        assert all("Odd" in letter.reason for letter in letters)
        assert "refused by a delivery filter" in letters[0].reason
        assert system.topics.statistics().undelivered == 1


async def test_offered_messages_are_consumed_when_refused() -> None:
    """``offer``/``offer_many`` are for senders that cannot be told (another node)."""
    seen: list[object] = []
    letters: list[DeadLetter] = []
    async with ActorSystem("t") as system:
        system.dead_letters.subscribe(letters.append)
        ref = await system.spawn(Recorder, seen, name="r", mailbox=MailboxConfig(capacity=3))
        lowlevel.add_delivery_filter(ref, refuse_odd)
        cell = lowlevel.cell_of(ref)
        assert cell.offer(1)  # consumed: dead-lettered
        batch: list[Any] = [0, 2, 3, 4, 6, 8]
        taken = cell.offer_many(batch, 1)
        assert taken == 4  # 2, 3 (refused), 4, 6; then the mailbox is full
        assert [letter.message for letter in letters] == [1, 3]
        assert cell.offer_many(batch, 5) == 0
        await wait_until(lambda: seen == [2, 4, 6])
        assert cell.offer_many(batch, 5) == 1
        await wait_until(lambda: seen == [2, 4, 6, 8])


async def test_a_refused_send_passes_its_room_on_to_the_next_waiting_sender() -> None:
    """Two senders wait for room; the first one woken is refused: the second gets in."""
    seen: list[object] = []
    gate = anyio.Event()

    class Slow(Recorder):
        async def receive(self, message: Any) -> Any:
            if message == "block":
                await gate.wait()
            return await super().receive(message)

    async with ActorSystem("t") as system:
        ref = await system.spawn(Slow, seen, name="r", mailbox=MailboxConfig(capacity=1))
        cell = lowlevel.cell_of(ref)
        ref.tell("block")
        await wait_until(lambda: len(cell.mailbox) == 0)
        ref.tell("fill")
        lowlevel.add_delivery_filter(ref, refuse_odd)
        outcomes: dict[int, str] = {}

        async def send(n: int) -> None:
            try:
                await ref.send(n)
            except Odd:
                outcomes[n] = "refused"
            else:
                outcomes[n] = "sent"

        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(send, 1)
                await wait_until(lambda: cell.statistics().waiting_senders == 1)
                tg.start_soon(send, 2)
                await wait_until(lambda: cell.statistics().waiting_senders == 2)
                gate.set()
        assert outcomes == {1: "refused", 2: "sent"}
        assert await ref.ask("done", timeout=WAIT) == "done"
        assert seen == ["block", "fill", 2, "done"]


async def test_a_stopped_actors_filters_go_with_it() -> None:
    async with ActorSystem("t") as system:
        ref = await system.spawn(Recorder, [], name="r")
        lowlevel.add_delivery_filter(ref, refuse_odd)
        with pytest.raises(Odd):
            ref.tell(1)
        await system.stop(ref)
        assert lowlevel.filter_statistics(ref) == lowlevel.FilterStatistics(filters=0, refused=0)
        assert not system._delivery_filters  # nothing of the stopped actor is kept
        ref.tell(3)  # a stopped actor: dead letters, as without filters
        assert system.dead_letters.count == 1
        with pytest.raises(ActorStopped):
            lowlevel.add_delivery_filter(ref, refuse_odd)
