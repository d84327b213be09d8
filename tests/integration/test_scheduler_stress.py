"""Exactly-once under forced interleavings: the deque with thieves, the pool end to end."""

from __future__ import annotations

import collections
import sys
import threading

import pytest

from scheduler import EMPTY, WorkStealingDeque, WorkStealingPool

TIMEOUT = 30.0


@pytest.fixture
def tiny_switch_interval() -> collections.abc.Iterator[None]:
    """Make the interpreter switch threads every few microseconds."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@pytest.mark.usefixtures("tiny_switch_interval")
def test_every_item_is_taken_exactly_once_by_the_owner_or_one_thief() -> None:
    items = 100_000
    thieves = 3
    deque: WorkStealingDeque[int] = WorkStealingDeque(capacity=2)  # grows under contention
    taken: list[list[int]] = [[] for _ in range(thieves + 1)]
    owner_done = threading.Event()
    start = threading.Barrier(thieves + 1, timeout=TIMEOUT)

    def thief(out: list[int]) -> None:
        start.wait()
        steal = deque.steal
        while len(out) <= items:  # more than every item: duplicates; stop and fail below
            item = steal()
            if item is not EMPTY:
                out.append(item)
            elif owner_done.is_set():
                # The owner pushes nothing more: one last empty answer is final.
                item = steal()
                if item is EMPTY:
                    return
                out.append(item)

    threads = [
        threading.Thread(target=thief, args=(taken[k],), name=f"thief-{k}") for k in range(thieves)
    ]
    for t in threads:
        t.start()
    own = taken[thieves]
    start.wait()
    push, pop = deque.push, deque.pop
    for i in range(items):
        push(i)
        if i % 3 == 0:  # the owner takes some of its own work back, newest first
            item = pop()
            if item is not EMPTY:
                own.append(item)
    for _ in range(items + 1):  # bounded, so that a broken deque fails instead of hanging
        item = pop()
        if item is EMPTY:
            break
        own.append(item)
    owner_done.set()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive()

    everything = [item for part in taken for item in part]
    assert len(everything) == items  # nothing duplicated ...
    assert set(everything) == set(range(items))  # ... and nothing lost
    stats = deque.statistics()
    assert stats.pushes == items
    assert stats.pops + stats.steals == items
    assert stats.steals == sum(len(part) for part in taken[:thieves])
    assert stats.steals > 0  # the thieves did take part


@pytest.mark.usefixtures("tiny_switch_interval")
def test_pool_runs_every_job_exactly_once_with_outside_and_local_submissions() -> None:
    outside = 2_000
    fanout = 20
    runs = collections.Counter[tuple[str, int, int]]()
    lock = threading.Lock()

    def record(key: tuple[str, int, int]) -> None:
        with lock:
            runs[key] += 1

    with WorkStealingPool(4, seed=7) as pool:

        def parent(i: int) -> None:
            record(("parent", i, 0))
            for j in range(fanout):
                pool.submit(record, ("child", i, j))

        futures = [pool.submit(parent, i) for i in range(outside)]
        for f in futures:
            f.result(TIMEOUT)
    # Leaving the pool drained the children that were still queued.
    expected = outside * (1 + fanout)
    assert len(runs) == expected
    assert set(runs.values()) == {1}
    stats = pool.statistics()
    assert stats.submitted == stats.completed == expected
    assert stats.failed == stats.cancelled == 0
