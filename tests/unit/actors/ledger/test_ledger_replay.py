"""Reducers, replay from checkpoints, replay of one epoch, the state digest, retention."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from actors.ledger import (
    CheckpointNotFound,
    EpochNotFound,
    FaultKind,
    LedgerCorrupted,
    MemoryStore,
    Record,
    Reducers,
    ReplayError,
    open_ledger,
    state_digest,
    summary_reducers,
)

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio


def jobs() -> Reducers[dict[str, Any]]:
    reducers: Reducers[dict[str, Any]] = Reducers("jobs", dict)

    @reducers.on("job.started")
    def started(state: dict[str, Any], record: Record) -> dict[str, Any]:
        job = record.value()
        state[str(job["id"])] = {"worker": job["worker"], "done": False}
        return state

    @reducers.on("job.finished")
    def finished(state: dict[str, Any], record: Record) -> dict[str, Any]:
        state[str(record.value()["id"])]["done"] = True
        return state

    return reducers


class Table(msgspec.Struct):
    started: int = 0
    finished: int = 0


def table() -> Reducers[Table]:
    reducers: Reducers[Table] = Reducers("table", Table, state_type=Table)

    @reducers.on("job.started")
    def started(state: Table, record: Record) -> Table:
        state.started += 1
        return state

    @reducers.on("job.finished")
    def finished(state: Table, record: Record) -> Table:
        state.finished += 1
        return state

    return reducers


async def fill(ledger: Any, jobs_count: int, *, first: int = 0) -> None:
    for n in range(first, first + jobs_count):
        await ledger.append("job.started", {"id": n, "worker": f"w{n % 3}"})
        await ledger.append("heartbeat", {"id": n})
        await ledger.append("job.finished", {"id": n})


def test_a_kind_has_one_reducer() -> None:
    reducers = jobs()
    with pytest.raises(ValueError, match="already"):
        reducers.add("job.started", lambda state, record: state)
    assert reducers.kinds == {"job.started", "job.finished"}


async def test_replay_rebuilds_the_state_and_twice_gives_identical_bytes() -> None:
    async with open_ledger(reducers=jobs()) as ledger:
        await fill(ledger, 3)
        first = await ledger.replay()
        second = await ledger.replay()
    assert first.state == {
        "0": {"worker": "w0", "done": True},
        "1": {"worker": "w1", "done": True},
        "2": {"worker": "w2", "done": True},
    }
    assert first.encoded == second.encoded
    assert first.digest == second.digest == state_digest(first.state)
    assert (first.records, first.last_seq, first.checkpoint) == (9, 9, None)


async def test_replay_from_a_checkpoint_equals_replay_from_the_start() -> None:
    async with open_ledger(reducers=jobs()) as ledger:
        await fill(ledger, 2)
        checkpoint = await ledger.checkpoint()
        await fill(ledger, 2, first=2)
        resumed = await ledger.replay()
        full = await ledger.replay(from_checkpoint=False)
    assert checkpoint.seq == 6
    assert (resumed.checkpoint, resumed.records) == (6, 6)
    assert resumed.encoded == full.encoded


async def test_struct_state_survives_a_checkpoint() -> None:
    async with open_ledger(reducers=table()) as ledger:
        await fill(ledger, 2)
        await ledger.checkpoint()
        await fill(ledger, 1, first=2)
        result = await ledger.replay()
    assert result.state == Table(started=3, finished=3)
    assert result.checkpoint == 6


async def test_pruned_records_replay_from_the_anchoring_checkpoint(ledger_path: Path) -> None:
    async with open_ledger(ledger_path, reducers=jobs()) as ledger:
        await fill(ledger, 3)
        full = await ledger.replay()
        await ledger.checkpoint()
        assert await ledger.prune() == 9
        await fill(ledger, 1, first=3)
        report = await ledger.verify()
        after = await ledger.replay()
    assert report.ok
    assert (report.base_seq, report.records) == (9, 3)
    assert after.state == {**full.state, "3": {"worker": "w0", "done": True}}
    async with open_ledger(ledger_path, reducers=jobs()) as ledger:
        assert (await ledger.replay()).encoded == after.encoded
        with pytest.raises(ReplayError, match="pruned"):
            await ledger.replay(from_checkpoint=False)
        with pytest.raises(ReplayError, match="table"):
            await ledger.replay(table())


async def test_prune_needs_a_checkpoint() -> None:
    async with open_ledger() as ledger:
        await ledger.append("k", {})
        with pytest.raises(CheckpointNotFound):
            await ledger.prune()
        checkpoint = await ledger.checkpoint()
        with pytest.raises(CheckpointNotFound):
            await ledger.prune(checkpoint.seq + 5)


async def test_retention_prunes_behind_the_newest_checkpoint_it_allows() -> None:
    async with open_ledger(keep_records=4) as ledger:
        for n in range(6):
            await ledger.append("k", {"n": n})
        first = await ledger.checkpoint()  # seq 6; 6 - 4 = 2 < 6: nothing to prune
        for n in range(6):
            await ledger.append("k", {"n": n})
        await ledger.checkpoint()  # seq 12: prunes up to the checkpoint at 6
        stats = ledger.statistics()
        report = await ledger.verify()
    assert first.seq == 6
    assert stats.base_seq == 6
    assert report.ok
    assert report.records == 6


async def test_a_failing_reducer_names_the_record() -> None:
    reducers: Reducers[int] = Reducers("boom", int)

    @reducers.on("bad")
    def explode(state: int, record: Record) -> int:
        raise KeyError("missing")

    async with open_ledger(reducers=reducers) as ledger:
        await ledger.append("ok", {})
        await ledger.append("bad", {})
        with pytest.raises(ReplayError, match="'bad' failed on seq 2: KeyError"):
            await ledger.replay()


async def test_replay_refuses_a_tampered_chain() -> None:
    store = MemoryStore()
    async with open_ledger(store) as ledger:
        for n in range(4):
            await ledger.append("k", {"n": n})
        store.stored[2] = msgspec.structs.replace(store.stored[2], payload=b"\x01")
        with pytest.raises(LedgerCorrupted) as caught:
            await ledger.replay()
    assert (caught.value.fault.seq, caught.value.fault.kind) == (3, FaultKind.HASH_MISMATCH)


async def test_replay_epoch_folds_only_that_epoch() -> None:
    async with open_ledger(reducers=jobs()) as ledger:
        await fill(ledger, 1)
        ledger.start_epoch()
        await fill(ledger, 2, first=1)
        ledger.start_epoch()
        await fill(ledger, 1, first=3)
        middle = await ledger.replay_epoch(1)
        with pytest.raises(EpochNotFound):
            await ledger.replay_epoch(7)
    assert middle.state == {
        "1": {"worker": "w1", "done": True},
        "2": {"worker": "w2", "done": True},
    }
    assert (middle.epoch, middle.records, middle.start_seq, middle.last_seq) == (1, 6, 3, 9)


async def test_replay_epoch_refuses_an_epoch_that_was_pruned() -> None:
    async with open_ledger() as ledger:
        await ledger.append("k", {})
        await ledger.append("k", {})
        await ledger.checkpoint()
        await ledger.prune()
        ledger.start_epoch()
        await ledger.append("k", {})
        with pytest.raises(ReplayError, match="pruned"):
            await ledger.replay_epoch(0)
        assert (await ledger.replay_epoch(1)).records == 1


async def test_replay_upto_stops_at_that_record() -> None:
    async with open_ledger(reducers=summary_reducers()) as ledger:
        for n in range(5):
            await ledger.append("k", {"n": n})
        result = await ledger.replay(upto=3)
    assert result.state["records"] == 3
    assert result.last_seq == 3


def test_state_digest_ignores_dict_order() -> None:
    assert state_digest({"a": 1, "b": [1, 2]}) == state_digest({"b": [1, 2], "a": 1})
    assert state_digest({"a": 1}) != state_digest({"a": 2})
