"""Generated histories replay to identical digests, whatever the store and starting point."""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.ledger import MemoryStore, Record, Reducers, open_ledger, state_digest

if TYPE_CHECKING:
    from collections.abc import Callable

KINDS = ("job.started", "job.finished", "lease.granted", "lease.released", "note")
values = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.text(max_size=6),
    st.booleans(),
    st.none(),
    st.lists(st.integers(0, 9), max_size=3),
)
events = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, 5),
        st.dictionaries(st.sampled_from(["x", "y", "zz"]), values, max_size=3),
        st.booleans(),  # start a new epoch before this event
    ),
    max_size=30,
)


class Clock:
    """Deterministic wall time, so two ledgers of the same events are identical."""

    def __init__(self) -> None:
        self.ticks = 0

    def now(self) -> float:
        return float(self.ticks)

    def wall(self) -> float:
        self.ticks += 1
        return 1_700_000_000.0 + self.ticks / 8

    async def sleep(self, delay: float) -> None:  # pragma: no cover - unused by the ledger
        await anyio.sleep(delay)

    def call_later(self, delay: float, callback: Callable[[], object]) -> Any:
        return _NoTimer()


class _NoTimer:
    def cancel(self) -> None:
        pass


def fold(state: dict[str, Any], kind: str, job: int, extra: dict[str, Any], seq: int) -> None:
    """The model: what the reducers below must compute, written without the ledger."""
    key = str(job)
    if kind == "job.started":
        state["jobs"][key] = {"running": True, "extra": extra}
    elif kind == "job.finished":
        if key in state["jobs"]:
            state["jobs"][key]["running"] = False
        else:
            state["orphans"] += 1
    elif kind == "lease.granted":
        state["leases"][key] = seq
    elif kind == "lease.released":
        state["leases"].pop(key, None)
    else:
        state["notes"] += 1


def initial() -> dict[str, Any]:
    return {"jobs": {}, "leases": {}, "orphans": 0, "notes": 0}


def reducers() -> Reducers[dict[str, Any]]:
    def reduce(state: dict[str, Any], record: Record) -> dict[str, Any]:
        payload = record.value()
        fold(state, record.kind, payload["job"], payload["extra"], record.seq)
        return state

    return Reducers("model", initial, fallback=reduce)


async def write(target: Any, history: list[Any], checkpoint_at: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with open_ledger(target, clock=Clock(), reducers=reducers()) as ledger:
        for index, (kind, job, extra, new_epoch) in enumerate(history):
            if index == checkpoint_at:
                await ledger.checkpoint()
            if new_epoch:
                ledger.start_epoch()
            await ledger.append(kind, {"job": job, "extra": extra})
        out["first"] = await ledger.replay()
        out["again"] = await ledger.replay()
        out["full"] = await ledger.replay(from_checkpoint=False)
        out["head"] = ledger.head_hash
        epochs = sorted({r.epoch for r in await ledger.records()})
        out["epochs"] = [await ledger.replay_epoch(epoch) for epoch in epochs]
    return out


@settings(max_examples=40, deadline=None)
@given(events, st.integers(0, 30))
def test_generated_histories_replay_to_identical_digests(
    history: list[Any], checkpoint_at: int
) -> None:
    expected = initial()
    for seq, (kind, job, extra, _) in enumerate(history, start=1):
        fold(expected, kind, job, extra, seq)

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "ledger.db")
        memory = anyio.run(write, MemoryStore(), history, checkpoint_at)
        on_disk = anyio.run(write, path, history, checkpoint_at)

    for result in (memory, on_disk):
        assert result["first"].encoded == result["again"].encoded == result["full"].encoded
        assert result["first"].digest == state_digest(expected)
        assert result["first"].state == expected
    assert memory["head"] == on_disk["head"]
    assert [r.digest for r in memory["epochs"]] == [r.digest for r in on_disk["epochs"]]
    assert sum(r.records for r in memory["epochs"]) == len(history)
