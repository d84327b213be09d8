"""Deadlines: every ask's timeout on one clock timer."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest

from actors import LoopClock
from actors._deadlines import Deadlines, clock_reader
from tests.helpers import ManualClock

BASE_TIME = asyncio.BaseEventLoop.time

if TYPE_CHECKING:
    from collections.abc import Iterator


class _Ask:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.future: asyncio.Future[None] = loop.create_future()
        self.expired = 0

    def expire(self) -> None:
        self.expired += 1
        if not self.future.done():
            self.future.set_result(None)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_asks_expire_at_their_deadlines_in_order_on_one_timer(
    loop: asyncio.AbstractEventLoop,
) -> None:
    clock = ManualClock()
    deadlines = Deadlines(clock, clock.now)
    late, early = _Ask(loop), _Ask(loop)
    assert deadlines.add(late, 2.0) == clock.time + 2.0
    deadlines.add(early, 1.0)  # earlier than the armed timer: re-armed
    assert clock.pending == 1
    clock.advance(1.0)
    assert (early.expired, late.expired) == (1, 0)
    clock.advance(1.0)
    assert late.expired == 1
    assert clock.pending == 0


def test_an_answered_ask_is_not_expired(loop: asyncio.AbstractEventLoop) -> None:
    clock = ManualClock()
    deadlines = Deadlines(clock, clock.now)
    answered, waiting = _Ask(loop), _Ask(loop)
    deadlines.add(answered, 1.0)
    deadlines.add(waiting, 3.0)
    answered.future.set_result(None)
    clock.advance(1.0)  # nothing due is pending: the timer moves on to the next
    assert (answered.expired, waiting.expired) == (0, 0)
    assert clock.pending == 1
    clock.advance(2.0)
    assert waiting.expired == 1


def test_answered_asks_do_not_pile_up_before_their_deadlines(
    loop: asyncio.AbstractEventLoop,
) -> None:
    clock = ManualClock()
    deadlines = Deadlines(clock, clock.now)
    for _ in range(10_000):
        ask = _Ask(loop)
        deadlines.add(ask, 30.0)
        ask.future.set_result(None)  # answered long before its deadline
    assert len(deadlines._heap) <= 128
    assert clock.pending == 1


def test_close_forgets_every_ask_and_stops_the_timer(loop: asyncio.AbstractEventLoop) -> None:
    clock = ManualClock()
    deadlines = Deadlines(clock, clock.now)
    ask = _Ask(loop)
    deadlines.add(ask, 1.0)
    deadlines.close()
    assert clock.pending == 0
    clock.advance(2.0)
    assert ask.expired == 0


def test_the_clock_is_read_through_the_loop_only_for_a_plain_loop_clock(
    loop: asyncio.AbstractEventLoop,
) -> None:
    reader = clock_reader(LoopClock(), loop)
    # asyncio's own loops read time.monotonic(): the same clock, one call less.
    assert reader == loop.time or (reader is time.monotonic and type(loop).time is BASE_TIME)
    assert abs(reader() - loop.time()) < 1.0
    manual = ManualClock()
    assert clock_reader(manual, loop) == manual.now
