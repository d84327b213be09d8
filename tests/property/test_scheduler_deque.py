"""The work-stealing deque against a sequential model (hypothesis state machine)."""

from __future__ import annotations

import collections

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from scheduler import EMPTY, WorkStealingDeque

INITIAL_CAPACITY = 2


class DequeAgainstModel(RuleBasedStateMachine):
    """Owner at the right end of the model, thieves at the left."""

    def __init__(self) -> None:
        super().__init__()
        self.deque: WorkStealingDeque[object] = WorkStealingDeque(INITIAL_CAPACITY)
        self.model: collections.deque[object] = collections.deque()
        self.pushes = self.pops = self.steals = self.failed_steals = 0

    @rule(item=st.integers() | st.none() | st.text(max_size=3))
    def push(self, item: object) -> None:
        self.deque.push(item)
        self.model.append(item)
        self.pushes += 1

    @rule(items=st.lists(st.integers(), min_size=1, max_size=40))
    def push_burst(self, items: list[int]) -> None:
        for item in items:
            self.push(item)

    @rule()
    def pop(self) -> None:
        expected = self.model.pop() if self.model else EMPTY
        self.pops += expected is not EMPTY
        assert self.deque.pop() == expected

    @rule()
    def pop_oldest(self) -> None:
        expected = self.model.popleft() if self.model else EMPTY
        self.pops += expected is not EMPTY
        assert self.deque.pop_oldest() == expected

    @rule()
    def steal(self) -> None:
        if self.model:
            expected = self.model.popleft()
            self.steals += 1
        else:
            expected = EMPTY
            self.failed_steals += 1
        assert self.deque.steal() == expected

    @precondition(lambda self: len(self.model) > 0)
    @rule(data=st.data())
    def drain_mixed(self, data: st.DataObject) -> None:
        while self.model:
            if data.draw(st.booleans()):
                self.pop()
            else:
                self.steal()

    @invariant()
    def size_and_counters_match_the_model(self) -> None:
        stats = self.deque.statistics()
        assert stats.size == len(self.deque) == len(self.model)
        assert (stats.pushes, stats.pops, stats.steals, stats.failed_steals) == (
            self.pushes,
            self.pops,
            self.steals,
            self.failed_steals,
        )

    @invariant()
    def ring_is_a_power_of_two_that_holds_every_item(self) -> None:
        capacity = self.deque.capacity
        assert capacity & (capacity - 1) == 0
        assert capacity >= len(self.model)
        if not self.model:
            assert capacity == INITIAL_CAPACITY


TestDequeAgainstModel = DequeAgainstModel.TestCase
TestDequeAgainstModel.settings = settings(max_examples=100, stateful_step_count=50, deadline=None)
