"""Mailbox policies and counters (no actors, no sockets, no sleeps)."""

from __future__ import annotations

import asyncio

import pytest

from actors import ActorStopped, MailboxConfig, MailboxFull, Overflow
from actors._mailbox import Mailbox

pytestmark = pytest.mark.anyio


def box(capacity: int = 2, overflow: Overflow = Overflow.FAIL) -> Mailbox:
    return Mailbox("/user/m", MailboxConfig(capacity=capacity, overflow=overflow))


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"MailboxConfig.capacity must be >= 1, got 0"):
        MailboxConfig(capacity=0)


def test_fail_policy_rejects_and_counts_without_losing_queued_items() -> None:
    mailbox = box()
    mailbox.put_nowait("a")
    mailbox.put_nowait("b")
    with pytest.raises(MailboxFull) as info:
        mailbox.put_nowait("c")
    assert info.value.capacity == 2
    assert mailbox.statistics().rejected == 1
    assert [mailbox.get_nowait(), mailbox.get_nowait()] == ["a", "b"]


def test_drop_newest_returns_the_new_item_as_dropped() -> None:
    mailbox = box(overflow=Overflow.DROP_NEWEST)
    assert mailbox.put_nowait("a") is None
    assert mailbox.put_nowait("b") is None
    assert mailbox.put_nowait("c") == "c"
    stats = mailbox.statistics()
    assert (stats.size, stats.dropped_newest, stats.enqueued) == (2, 1, 2)


def test_drop_oldest_evicts_the_head() -> None:
    mailbox = box(overflow=Overflow.DROP_OLDEST)
    mailbox.put_nowait("a")
    mailbox.put_nowait("b")
    assert mailbox.put_nowait("c") == "a"
    assert [mailbox.get_nowait(), mailbox.get_nowait()] == ["b", "c"]
    assert mailbox.statistics().dropped_oldest == 1


def test_closed_mailbox_refuses_and_returns_what_was_queued() -> None:
    mailbox = box()
    mailbox.put_nowait("a")
    assert mailbox.close() == ["a"]
    with pytest.raises(ActorStopped):
        mailbox.put_nowait("b")


async def test_put_waits_for_room_then_enqueues_in_order() -> None:
    mailbox = box(capacity=1)
    mailbox.put_nowait("a")
    waiting = asyncio.ensure_future(mailbox.put("b"))
    await asyncio.sleep(0)
    assert not waiting.done()
    assert mailbox.statistics().waiting_senders == 1
    assert mailbox.get_nowait() == "a"
    await waiting
    assert mailbox.get_nowait() == "b"


async def test_close_fails_waiting_senders() -> None:
    mailbox = box(capacity=1)
    mailbox.put_nowait("a")
    waiting = asyncio.ensure_future(mailbox.put("b"))
    await asyncio.sleep(0)
    mailbox.close()
    with pytest.raises(ActorStopped):
        await waiting


async def test_cancelled_sender_passes_its_room_on() -> None:
    mailbox = box(capacity=1)
    mailbox.put_nowait("a")
    first = asyncio.ensure_future(mailbox.put("b"))
    second = asyncio.ensure_future(mailbox.put("c"))
    await asyncio.sleep(0)
    mailbox.get_nowait()  # room for one: wakes `first`
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    await second
    assert mailbox.get_nowait() == "c"


async def test_idle_mailbox_releases_its_buffer() -> None:
    mailbox = box()
    mailbox.put_nowait("a")
    mailbox.get_nowait()
    waiter = asyncio.ensure_future(mailbox.wait())
    await asyncio.sleep(0)
    assert mailbox._items is None
    mailbox.put_nowait("b")
    await waiter
    assert mailbox.get_nowait() == "b"


async def test_offer_many_enqueues_in_order_up_to_the_room_left() -> None:
    mailbox = box(capacity=4)
    mailbox.put_nowait("a")
    assert mailbox.offer_many(["x", "b", "c", "d", "e"], 1) == 3
    assert [mailbox.get_nowait() for _ in range(4)] == ["a", "b", "c", "d"]
    assert mailbox.offer_many(["e"], 0) == 1
    assert mailbox.statistics().enqueued == 5
    mailbox.close()
    assert mailbox.offer_many(["f"], 0) == 0
