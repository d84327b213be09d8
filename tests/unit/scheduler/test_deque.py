"""The Chase-Lev deque, one thread at a time: ends, growth, references, counters."""

from __future__ import annotations

import gc
import weakref

import pytest

from scheduler import EMPTY, SchedulerConfigError, WorkStealingDeque


class Job:
    """A weak-referenceable item, standing in for a job closure."""

    def __init__(self, n: int) -> None:
        self.n = n


def test_owner_pops_newest_first() -> None:
    d: WorkStealingDeque[int] = WorkStealingDeque()
    for i in range(5):
        d.push(i)
    assert [d.pop() for _ in range(5)] == [4, 3, 2, 1, 0]
    assert d.pop() is EMPTY


def test_thief_steals_oldest_first() -> None:
    d: WorkStealingDeque[int] = WorkStealingDeque()
    for i in range(5):
        d.push(i)
    assert [d.steal() for _ in range(5)] == [0, 1, 2, 3, 4]
    assert d.steal() is EMPTY


def test_owner_and_thief_take_opposite_ends_of_the_same_deque() -> None:
    d: WorkStealingDeque[str] = WorkStealingDeque()
    for item in "abcd":
        d.push(item)
    assert d.steal() == "a"
    assert d.pop() == "d"
    assert d.steal() == "b"
    assert d.pop() == "c"
    assert d.pop() is EMPTY


def test_pop_oldest_takes_the_top_and_counts_as_the_owners_pop() -> None:
    d: WorkStealingDeque[int] = WorkStealingDeque()
    for i in range(3):
        d.push(i)
    assert d.pop_oldest() == 0
    stats = d.statistics()
    assert (stats.pops, stats.steals) == (1, 0)


def test_empty_deque_answers_empty_without_raising() -> None:
    d: WorkStealingDeque[int] = WorkStealingDeque()
    assert d.pop() is EMPTY
    assert d.pop_oldest() is EMPTY
    assert d.steal() is EMPTY
    assert repr(EMPTY) == "EMPTY"


def test_none_is_an_ordinary_item() -> None:
    d: WorkStealingDeque[None] = WorkStealingDeque()
    d.push(None)
    d.push(None)
    assert d.pop() is None
    assert d.steal() is None
    assert d.pop() is EMPTY


def test_ring_grows_when_full_and_keeps_order_across_the_wrap() -> None:
    d: WorkStealingDeque[int] = WorkStealingDeque(capacity=4)
    # Move the indices so that the live items wrap around the ring's end.
    for i in range(3):
        d.push(i)
    assert [d.steal(), d.steal()] == [0, 1]
    for i in range(3, 20):
        d.push(i)
    assert d.capacity >= 18
    assert d.steal() == 2
    assert d.pop() == 19
    assert [d.steal() for _ in range(17)] == [*range(3, 19), EMPTY]


def test_grown_ring_shrinks_back_to_initial_capacity_once_empty() -> None:
    d: WorkStealingDeque[int] = WorkStealingDeque(capacity=2)
    for i in range(100):
        d.push(i)
    assert d.capacity == 128
    while d.pop() is not EMPTY:
        pass
    assert d.capacity == 2


@pytest.mark.parametrize("take", ["pop", "pop_oldest", "steal"])
def test_taken_item_is_released_by_the_deque_at_once(take: str) -> None:
    d: WorkStealingDeque[Job] = WorkStealingDeque()
    job = Job(1)
    ref = weakref.ref(job)
    # Another item stays behind, so the deque does not empty (and reset) itself.
    if take == "pop":
        d.push(Job(0))
        d.push(job)
    else:
        d.push(job)
        d.push(Job(2))
    del job
    taken = getattr(d, take)()
    assert isinstance(taken, Job)
    assert taken.n == 1
    assert len(d) == 1
    del taken
    gc.collect()
    assert ref() is None


def test_statistics_count_every_operation_and_the_current_size() -> None:
    d: WorkStealingDeque[int] = WorkStealingDeque(capacity=2)
    for i in range(5):
        d.push(i)
    d.pop()
    d.pop_oldest()
    d.steal()
    stats = d.statistics()
    assert stats.pushes == 5
    assert stats.pops == 2
    assert stats.steals == 1
    assert stats.failed_steals == 0
    assert stats.size == 2 == len(d)
    assert stats.capacity == 8
    d.steal()
    d.steal()
    d.steal()
    stats = d.statistics()
    assert (stats.steals, stats.failed_steals, stats.size) == (3, 1, 0)


@pytest.mark.parametrize("capacity", [0, 1, 3, 6, -4])
def test_capacity_that_is_not_a_power_of_two_is_refused(capacity: int) -> None:
    with pytest.raises(SchedulerConfigError, match=repr(capacity)):
        WorkStealingDeque(capacity=capacity)


def test_repr_shows_size_and_capacity() -> None:
    d: WorkStealingDeque[int] = WorkStealingDeque(capacity=8)
    d.push(1)
    assert repr(d) == "<WorkStealingDeque size=1 capacity=8>"
