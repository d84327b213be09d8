"""The async ledger API on the in-memory store: append, extend, epochs, lifetime."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from actors.ledger import (
    EpochError,
    InvalidPayload,
    Ledger,
    LedgerClosed,
    LedgerConflict,
    LedgerFull,
    MemoryStore,
    open_ledger,
)

if TYPE_CHECKING:
    from pathlib import Path

    from .conftest import StepClock

pytestmark = pytest.mark.anyio


async def test_append_chains_records_with_clock_timestamps(clock: StepClock) -> None:
    async with open_ledger(clock=clock) as ledger:
        first = await ledger.append("job.started", {"job": 1})
        second = await ledger.append("job.finished", {"job": 1})

    assert (first.seq, second.seq) == (1, 2)
    assert second.prev_hash == first.hash
    assert (first.timestamp, second.timestamp) == (1_700_000_001.0, 1_700_000_002.0)
    assert second.value() == {"job": 1}


async def test_append_nowait_returns_the_chained_record_at_once() -> None:
    async with open_ledger() as ledger:
        records = [ledger.append_nowait("tick", {"n": n}) for n in range(3)]
        assert [r.seq for r in records] == [1, 2, 3]
        assert await ledger.flush() == 3
        assert ledger.committed_seq == 3


async def test_extend_appends_all_or_nothing() -> None:
    async with open_ledger() as ledger:
        await ledger.append("a", {})
        with pytest.raises(InvalidPayload, match="entry 1"):
            await ledger.extend([("b", {"ok": 1}), ("b", {"bad": object()})])
        assert ledger.head_seq == 1
        records = await ledger.extend([("b", {"n": 1}), ("b", {"n": 2})])
        assert [r.seq for r in records] == [2, 3]


async def test_invalid_payload_or_kind_takes_no_sequence_number() -> None:
    async with open_ledger() as ledger:
        with pytest.raises(InvalidPayload):
            ledger.append_nowait("k", {1, object()})
        with pytest.raises(InvalidPayload, match="kind"):
            await ledger.append("", {})
        record = await ledger.append("k", {})
        assert record.seq == 1
        assert (await ledger.verify()).ok


async def test_appending_outside_the_context_raises_ledger_closed() -> None:
    ledger = open_ledger()
    with pytest.raises(LedgerClosed):
        ledger.append_nowait("k", {})
    async with ledger:
        pass
    with pytest.raises(LedgerClosed):
        await ledger.append("k", {})
    with pytest.raises(LedgerClosed):
        async with ledger:
            pass


async def test_reopening_a_memory_store_continues_the_chain() -> None:
    store = MemoryStore()
    async with open_ledger(store) as ledger:
        last = await ledger.append("k", {"n": 1})
    async with open_ledger(store) as ledger:
        record = await ledger.append("k", {"n": 2})
        assert record.prev_hash == last.hash
        assert (await ledger.verify()).records == 2


async def test_two_writers_on_one_store_conflict() -> None:
    store = MemoryStore()
    async with open_ledger(store) as first:
        with pytest.raises(LedgerConflict):
            async with open_ledger(store):
                pass
        await first.append("k", {})
        with pytest.raises(LedgerConflict):  # the refused writer did not close the store
            async with open_ledger(store):
                pass


async def test_epochs_start_explicitly_and_never_go_back() -> None:
    store = MemoryStore()
    async with open_ledger(store) as ledger:
        await ledger.append("k", {})
        assert ledger.start_epoch() == 1
        record = await ledger.append("k", {})
        assert record.epoch == 1
        with pytest.raises(EpochError):
            ledger.start_epoch(0)
    async with open_ledger(store) as ledger:
        assert ledger.epoch == 1
    with pytest.raises(EpochError):
        async with open_ledger(store, epoch=0):
            pass
    async with open_ledger(store, epoch=5) as ledger:
        assert (await ledger.append("k", {})).epoch == 5


async def test_statistics_count_committed_records() -> None:
    async with open_ledger() as ledger:
        for n in range(4):
            await ledger.append("k", {"n": n})
        stats = ledger.statistics()
    assert (stats.head_seq, stats.committed_seq, stats.records_committed) == (4, 4, 4)
    assert stats.pending == 0


async def test_lifecycle_is_logged() -> None:
    with capture_logs() as logs:
        async with open_ledger() as ledger:
            await ledger.append("k", {})
    events = [entry["event"] for entry in logs]
    assert events == ["ledger_opened", "ledger_closed"]
    assert logs[1]["head_seq"] == 1


async def test_cancelled_append_still_commits_its_record(tmp_path: anyio.Path) -> None:
    async with open_ledger(tmp_path / "l.db") as ledger:
        with anyio.move_on_after(0):
            await ledger.append("k", {"n": 1})
        assert await ledger.flush() == 1
        assert [r.value() for r in await ledger.records()] == [{"n": 1}]


async def test_append_nowait_refuses_beyond_max_pending(tmp_path: anyio.Path) -> None:
    async with open_ledger(tmp_path / "l.db", max_pending=3) as ledger:
        for n in range(3):
            ledger.append_nowait("k", {"n": n})
        with pytest.raises(LedgerFull):
            ledger.append_nowait("k", {"n": 3})
        # append waits for room instead.
        record = await ledger.append("k", {"n": 3})
        assert record.seq == 4


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="durability"):
        Ledger(durability="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sync_interval"):
        Ledger(sync_interval=0)
    with pytest.raises(ValueError, match="keep_records"):
        Ledger(keep_records=-1)


async def test_append_chains_at_the_call_and_resolves_to_the_record(
    tmp_path: anyio.Path,
) -> None:
    # append is a plain method returning an awaitable: the record is chained
    # (seq final) by the call itself, and awaiting yields it once committed.
    async with open_ledger(tmp_path / "l.db") as ledger:
        first, second = ledger.append("k", {"n": 1}), ledger.append("k", {"n": 2})
        assert ledger.head_seq == 2
        assert ledger.committed_seq == 0
        assert [(await first).seq, (await second).seq] == [1, 2]
        assert ledger.committed_seq == 2
        with pytest.raises(InvalidPayload):
            ledger.append("k", {1j})
        assert ledger.head_seq == 2
    with pytest.raises(LedgerClosed):
        ledger.append("k", {})


async def test_append_waiting_for_room_resolves_to_its_record(tmp_path: anyio.Path) -> None:
    async with open_ledger(tmp_path / "l.db", max_pending=2) as ledger:
        waiters = [ledger.append("k", {"n": n}) for n in range(5)]
        records = [await waiter for waiter in waiters]
        assert [r.seq for r in records] == [1, 2, 3, 4, 5]
        assert [r.value() for r in await ledger.records()] == [{"n": n} for n in range(5)]


@pytest.mark.parametrize("on_file", [False, True], ids=["memory", "sqlite"])
async def test_the_ledger_reads_what_a_reader_reads_on_every_store(
    on_file: bool, tmp_path: Path
) -> None:
    from actors.ledger import LedgerReader

    target = tmp_path / "one.ledger" if on_file else MemoryStore()
    async with open_ledger(target) as ledger:
        for i in range(7):
            ledger.append_nowait("tick", {"i": i})
        await ledger.extend([("pair", 1), ("pair", 2)])
        ledger.start_epoch()
        ledger.append_nowait("tock", {"i": 7})
        # Every read commits what was appended first, then reads it.
        records = await ledger.records()
        tail = await ledger.tail(3)
        replayed = await ledger.replay()
        epoch_one = await ledger.replay_epoch(1)
        report = await ledger.verify()
        store = ledger.store
        assert ledger.committed_seq == 10
        with LedgerReader(target if on_file else store) as reader:
            assert records == list(reader.records())
            assert tail == reader.tail(3)
            assert replayed.state == reader.replay().state
            assert epoch_one.state == reader.replay_epoch(1).state
            assert report == reader.verify()
    assert [r.seq for r in records] == list(range(1, 11))
    assert [r.seq for r in tail] == [8, 9, 10]
    assert report.ok


async def test_open_ledger_is_the_ledger_itself() -> None:
    assert open_ledger is Ledger
    ledger = open_ledger(max_pending=3)
    assert isinstance(ledger, Ledger)
    with pytest.raises(ValueError, match="max_pending"):
        open_ledger(max_pending=0)


async def test_reads_of_a_closed_ledger_are_refused() -> None:
    ledger = open_ledger()
    async with ledger:
        ledger.append_nowait("tick", 1)
    for read in (ledger.records(), ledger.tail(), ledger.replay(), ledger.verify()):
        with pytest.raises(LedgerClosed):
            await read


_ledgers = itertools.count()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kinds=st.lists(st.sampled_from(["roles.job", "roles", "roles.", "rolesx", "tickets.t", "é.x"])),
    prefix=st.sampled_from(["roles.", "roles", "r", "é.", "tickets.t", "none."]),
    window=st.tuples(st.integers(0, 12), st.none() | st.integers(0, 12)),
    on_disk=st.booleans(),
)
async def test_a_kind_prefix_read_is_the_unfiltered_read_filtered(
    tmp_path: anyio.Path,
    kinds: list[str],
    prefix: str,
    window: tuple[int, int | None],
    on_disk: bool,
) -> None:
    """The same records in the same order, in memory and in SQLite, in any seq window."""
    after, upto = window
    path = tmp_path / f"prefix-{next(_ledgers)}.db" if on_disk else None
    async with open_ledger(path) as ledger:
        for n, kind in enumerate(kinds):
            ledger.append_nowait(kind, {"n": n})
        every = await ledger.records(after, upto)
        chosen = await ledger.records(after, upto, kind_prefix=prefix)
        assert chosen == [record for record in every if record.kind.startswith(prefix)]
