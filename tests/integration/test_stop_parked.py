"""Stopping many parked actors: no loop task outlives the stop, and the order holds.

Parked loops are halted without a wait each (``ActorCell._halt_parked_loop``)
and awaited together; what is observable must not change: ``on_stop`` newest
first (OTP's shutdown order for a supervisor's children), every loop task
ended when the stop returns.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors import Actor, ActorSystem
from protocol import Message
from tests.helpers import WAIT

pytestmark = pytest.mark.anyio


class Nudge(Message, tag="t.stop_parked.nudge"):
    pass


class Parked(Actor[Message]):
    def __init__(self, index: int, stopped: list[int]) -> None:
        self.index = index
        self.stopped = stopped

    async def receive(self, message: Message) -> Any:
        return self.index

    async def on_stop(self) -> None:
        self.stopped.append(self.index)


async def test_parked_actors_stop_newest_first_and_leave_no_task() -> None:
    stopped: list[int] = []
    async with ActorSystem("t") as system:
        refs = [await system.spawn(Parked, n, stopped) for n in range(50)]
        for n, ref in enumerate(refs):
            assert await ref.ask(Nudge(), timeout=WAIT) == n  # each loop started, then parked
        tasks = [ref._cell.task for ref in refs]  # type: ignore[attr-defined]
        assert all(task is not None and not task.done() for task in tasks)
    assert stopped == list(reversed(range(50)))
    assert all(task is not None and task.done() for task in tasks)
