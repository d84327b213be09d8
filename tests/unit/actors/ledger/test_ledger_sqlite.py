"""The SQLite store behind the ledger: persistence, group commit, durability, refusals."""

from __future__ import annotations

import sqlite3
import threading
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel
import pytest
from structlog.testing import capture_logs

from actors.ledger import (
    FaultKind,
    LedgerConflict,
    LedgerCorrupted,
    LedgerNotFound,
    LedgerReader,
    LedgerWriteError,
    NotALedger,
    SQLiteStore,
    open_ledger,
)
from actors.ledger import _sqlite as sqlite_store
from actors.ledger._record import encode_payload, make_record

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from actors.ledger import Durability, Record

    from .conftest import StepClock

pytestmark = pytest.mark.anyio

WAIT = 10.0


async def wait_until(predicate: object, timeout: float = WAIT) -> None:
    with anyio.fail_after(timeout):
        while not predicate():  # type: ignore[operator]
            await anyio.lowlevel.checkpoint()


async def test_records_survive_reopening(ledger_path: Path) -> None:
    async with open_ledger(ledger_path) as ledger:
        first = await ledger.append("job.started", {"job": 1})
        ledger.append_nowait("job.finished", {"job": 1})
    async with open_ledger(ledger_path) as ledger:
        assert ledger.head_seq == 2
        third = await ledger.append("job.started", {"job": 2})
        records = await ledger.records()
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[0] == first
    assert records[2] == third
    with LedgerReader(ledger_path) as reader:
        assert reader.verify().ok


async def test_concurrent_appends_are_group_committed(ledger_path: Path) -> None:
    async with open_ledger(ledger_path) as ledger:

        async def appender(n: int) -> None:
            for i in range(10):
                await ledger.append("delivery", {"actor": n, "i": i})

        async with anyio.create_task_group() as tg:
            for n in range(50):
                tg.start_soon(appender, n)
        stats = ledger.statistics()
        assert (await ledger.verify()).ok

    assert stats.records_committed == 500
    assert stats.largest_batch > 1
    assert stats.batches < 500


async def test_always_durability_acknowledges_only_synced_records(ledger_path: Path) -> None:
    async with open_ledger(ledger_path, durability="always") as ledger:
        record = await ledger.append("k", {})
        assert ledger.durable_seq == record.seq
        ledger.append_nowait("k", {})
        assert ledger.durable_seq == record.seq
        assert await ledger.flush() == ledger.durable_seq == record.seq + 1


async def test_group_durability_fsyncs_within_the_sync_interval(
    ledger_path: Path, clock: StepClock
) -> None:
    async with open_ledger(ledger_path, clock=clock, sync_interval=0.25) as ledger:
        record = await ledger.append("k", {})
        assert ledger.committed_seq == record.seq
        assert ledger.durable_seq == 0
        assert clock.pending_timers == 1
        assert clock.advance(0.2) == 0
        assert clock.advance(0.05) == 1
        await wait_until(lambda: ledger.durable_seq == record.seq)
        assert ledger.statistics().syncs == 1


async def test_a_slow_fsync_does_not_hold_up_commits(ledger_path: Path, clock: StepClock) -> None:
    syncing, release = threading.Event(), threading.Event()

    class SlowDisk(SQLiteStore):
        def sync(self) -> None:
            syncing.set()
            if not release.wait(WAIT):
                raise TimeoutError("the test never released the fsync")
            super().sync()

    async with open_ledger(SlowDisk(ledger_path), clock=clock, sync_interval=0.25) as ledger:
        first = await ledger.append("k", {})
        assert clock.advance(0.25) == 1
        await wait_until(syncing.is_set)
        with anyio.fail_after(WAIT):  # commits on while the fsync is stuck
            second = await ledger.append("k", {})
        assert ledger.committed_seq == second.seq
        assert ledger.durable_seq == 0
        release.set()
        await wait_until(lambda: ledger.durable_seq == first.seq)


async def test_a_failed_fsync_stops_the_ledger_and_keeps_what_was_committed(
    ledger_path: Path, clock: StepClock
) -> None:
    class FailingDisk(SQLiteStore):
        def sync(self) -> None:
            raise OSError(5, "Input/output error")

    with capture_logs() as logs:
        async with open_ledger(FailingDisk(ledger_path), clock=clock, sync_interval=0.25) as ledger:
            first = await ledger.append("k", {})
            assert clock.advance(0.25) == 1
            await wait_until(lambda: any(e["event"] == "batch_commit_failed" for e in logs))
            with pytest.raises(LedgerWriteError, match="stopped after a failed write") as caught:
                await ledger.append("k", {})
            assert "fsync failed: OSError" in str(caught.value.__cause__)
            assert ledger.durable_seq == 0
    with LedgerReader(ledger_path) as reader:
        assert reader.state().head_seq == first.seq
        assert reader.verify().ok


@pytest.mark.parametrize("durability", ["group", "always"])
async def test_housekeeping_runs_after_commits_under_either_durability(
    ledger_path: Path, clock: StepClock, durability: Durability
) -> None:
    calls: list[str] = []

    class Counting(SQLiteStore):
        def maintain(self) -> None:
            calls.append(threading.current_thread().name)
            super().maintain()

    async with open_ledger(
        Counting(ledger_path), durability=durability, clock=clock, sync_interval=0.25
    ) as ledger:
        await ledger.append("k", {})
        assert clock.advance(0.25) == 1
        fsyncs = 1 if durability == "group" else 0  # "always" fsyncs every commit already
        await wait_until(lambda: calls and ledger.statistics().syncs == fsyncs)
    # On the ledger's background thread, not the writer's.
    assert calls[0].startswith("ledger-sync")


async def test_failed_housekeeping_is_logged_and_loses_nothing(
    ledger_path: Path, clock: StepClock
) -> None:
    class Broken(SQLiteStore):
        def maintain(self) -> None:
            raise OSError("no space left for the copy")

    with capture_logs() as logs:
        async with open_ledger(Broken(ledger_path), clock=clock, sync_interval=0.25) as ledger:
            first = await ledger.append("k", {})
            clock.advance(0.25)
            await wait_until(lambda: any(e["event"] == "ledger_maintenance_failed" for e in logs))
            assert ledger.durable_seq == first.seq  # the fsync before it still counted
            second = await ledger.append("k", {})
    failed = next(e for e in logs if e["event"] == "ledger_maintenance_failed")
    assert "no space left" in failed["error"]
    with LedgerReader(ledger_path) as reader:
        assert reader.state().head_seq == second.seq
        assert reader.verify().ok


def test_maintain_copies_the_wal_back_once_enough_was_appended(ledger_path: Path) -> None:
    store = SQLiteStore(ledger_path)
    store.open()
    try:
        payload = encode_payload({"blob": bytes(64 * 1024)})
        prev, records = bytes(32), []
        for seq in range(1, 81):  # about 5 MiB
            record = make_record(seq, 0, float(seq), "k", payload, prev)
            prev = record.hash
            records.append(record)
        store.append(records[:8], 0)
        store.maintain()  # half a MiB appended: not worth a copy yet
        assert ledger_path.stat().st_size < 1 << 20
        store.append(records[8:], 8)
        store.maintain()
        assert ledger_path.stat().st_size > 4 << 20  # the records are in the database file
        assert [r.seq for r in store.records()] == list(range(1, 81))
    finally:
        store.close()
    with LedgerReader(ledger_path) as reader:
        assert reader.verify().ok


async def test_sync_makes_everything_durable_now(ledger_path: Path, clock: StepClock) -> None:
    async with open_ledger(ledger_path, clock=clock) as ledger:
        ledger.append_nowait("k", {})
        ledger.append_nowait("k", {})
        assert await ledger.sync() == 2
        assert ledger.durable_seq == 2


async def test_closing_commits_pending_records_and_stops_the_writer(ledger_path: Path) -> None:
    before = set(threading.enumerate())
    async with open_ledger(ledger_path) as ledger:
        for n in range(100):
            ledger.append_nowait("k", {"n": n})
    ours = {t for t in threading.enumerate() if t.name.startswith(("ledger-writer", "ledger-sync"))}
    assert ours <= before
    with LedgerReader(ledger_path) as reader:
        assert reader.state().head_seq == 100
        assert reader.state().clean


async def test_unclean_shutdown_is_detected_and_logged(ledger_path: Path) -> None:
    crashed = SQLiteStore(ledger_path)
    crashed.open()
    record = make_record(1, 0, 1.0, "k", encode_payload({}), bytes(32))
    crashed.append([record], 0)  # ...and never closed, as if the process died
    try:
        with capture_logs() as logs:
            async with open_ledger(ledger_path) as ledger:
                assert ledger.head_seq == 1
    finally:
        crashed._require().close()
    unclean = [e for e in logs if e["event"] == "ledger_unclean_shutdown_detected"]
    assert unclean == [
        {
            "event": "ledger_unclean_shutdown_detected",
            "log_level": "warning",
            "ledger": str(ledger_path),
            "head_seq": 1,
        }
    ]


async def test_a_second_writer_is_refused_without_forking_the_chain(ledger_path: Path) -> None:
    async with open_ledger(ledger_path) as first, open_ledger(ledger_path) as second:
        await first.append("k", {"by": "first"})
        with pytest.raises(LedgerConflict):
            await second.append("k", {"by": "second"})
        with pytest.raises(LedgerWriteError, match="reopen"):
            second.append_nowait("k", {})
        await first.append("k", {"by": "first"})
    with LedgerReader(ledger_path) as reader:
        assert reader.verify().ok
        assert [r.value()["by"] for r in reader.records()] == ["first", "first"]


class FailingStore(SQLiteStore):
    """Fails the second batch, as a full disk would."""

    calls = 0

    def append(self, records: Sequence[Record], expect_head: int) -> None:
        FailingStore.calls += 1
        if FailingStore.calls == 2:
            raise OSError(28, "No space left on device")
        super().append(records, expect_head)


async def test_a_failed_commit_stops_the_ledger_and_keeps_what_was_committed(
    ledger_path: Path,
) -> None:
    FailingStore.calls = 0
    with capture_logs() as logs:
        async with open_ledger(FailingStore(ledger_path)) as ledger:
            await ledger.append("k", {"n": 1})
            with pytest.raises(LedgerWriteError, match="No space left"):
                await ledger.append("k", {"n": 2})
            with pytest.raises(LedgerWriteError):
                await ledger.append("k", {"n": 3})
    assert any(e["event"] == "batch_commit_failed" for e in logs)
    with LedgerReader(ledger_path) as reader:
        assert reader.verify().ok
        assert reader.state().head_seq == 1


async def test_opening_a_ledger_with_its_last_records_cut_off_is_refused(
    ledger_path: Path,
) -> None:
    async with open_ledger(ledger_path) as ledger:
        for n in range(5):
            await ledger.append("k", {"n": n})
    with sqlite3.connect(ledger_path) as conn:
        conn.execute("DELETE FROM records WHERE seq >= 4")
    with pytest.raises(LedgerCorrupted) as caught:
        async with open_ledger(ledger_path):
            pass
    assert (caught.value.fault.seq, caught.value.fault.kind) == (4, FaultKind.TRUNCATED)


def test_readers_never_create_a_ledger(tmp_path: Path) -> None:
    with pytest.raises(LedgerNotFound), LedgerReader(tmp_path / "missing.db"):
        pass
    assert not (tmp_path / "missing.db").exists()


def test_a_file_that_is_not_a_ledger_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    for path in (junk, other, tmp_path):
        with pytest.raises(NotALedger), LedgerReader(path):
            pass


async def test_the_writer_runs_in_wal_mode_with_the_durability_asked_for(
    ledger_path: Path,
) -> None:
    seen: dict[str, object] = {}

    class Probe(SQLiteStore):
        def append(self, records: Sequence[Record], expect_head: int) -> None:
            conn = self._require()
            seen["journal"] = conn.execute("PRAGMA journal_mode").fetchone()[0]
            seen["synchronous"] = conn.execute("PRAGMA synchronous").fetchone()[0]
            super().append(records, expect_head)

    for durability, level in (("always", 2), ("group", 1)):  # FULL, NORMAL
        async with open_ledger(Probe(ledger_path), durability=durability) as ledger:
            await ledger.append("k", {})
        assert seen == {"journal": "wal", "synchronous": level}


async def test_a_batch_larger_than_one_statement_commits_in_one_transaction(
    ledger_path: Path,
) -> None:
    async with open_ledger(ledger_path) as ledger:
        records = await ledger.extend(("k", {"n": n}) for n in range(5000))
        stats = ledger.statistics()
        assert (await ledger.verify()).ok
    assert (records[-1].seq, stats.batches, stats.largest_batch) == (5000, 1, 5000)
    with LedgerReader(ledger_path) as reader:
        assert [r.value()["n"] for r in reader.tail(2)] == [4998, 4999]


class ThreadNoting(SQLiteStore):
    """Notes the thread each append ran on."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.threads: list[str] = []

    def append(self, records: Sequence[Record], expect_head: int) -> None:
        self.threads.append(threading.current_thread().name)
        super().append(records, expect_head)


async def test_a_small_batch_commits_on_the_loop_while_the_writer_is_idle(
    ledger_path: Path,
) -> None:
    store = ThreadNoting(ledger_path)
    async with open_ledger(store) as ledger:
        first = await ledger.append("k", {"n": 1})
        assert ledger.committed_seq == first.seq
        assert store.threads == [threading.current_thread().name]
    with LedgerReader(ledger_path) as reader:
        assert reader.state().head_seq == 1
        assert reader.verify().ok


@pytest.mark.parametrize(
    ("durability", "inline_batch", "batch"),
    [("always", 8, 1), ("group", 0, 1), ("group", 8, 9)],
)
async def test_fsynced_disabled_or_larger_batches_go_to_the_writer_thread(
    ledger_path: Path, durability: Durability, inline_batch: int, batch: int
) -> None:
    store = ThreadNoting(ledger_path)
    async with open_ledger(store, durability=durability, inline_batch=inline_batch) as ledger:
        await ledger.extend([("k", {"n": n}) for n in range(batch)])
    assert store.threads[0].startswith("ledger-writer")


async def test_a_batch_goes_to_the_writer_thread_while_housekeeping_holds_writers_off(
    ledger_path: Path,
) -> None:
    store = ThreadNoting(ledger_path)
    async with open_ledger(store) as ledger:
        with store._holding_writers:  # as maintain does during its restarting copy
            assert not store.try_append([], 0)
            pending = ledger.append("k", {})
            await wait_until(lambda: store.threads)
        await pending
    assert store.threads[0].startswith("ledger-writer")


async def test_deferred_records_ride_with_the_next_awaited_batch(
    ledger_path: Path, clock: StepClock
) -> None:
    async with open_ledger(ledger_path, clock=clock) as ledger:
        claim = ledger.append_deferred("k", {"claim": 1})
        for _ in range(5):
            await anyio.lowlevel.checkpoint()
        assert ledger.committed_seq == 0  # nobody waits for it: no commit of its own
        submit = await ledger.append("k", {"submit": 1})
        assert ledger.committed_seq == submit.seq
        stats = ledger.statistics()
        assert (stats.batches, stats.records_committed) == (1, 2)
    with LedgerReader(ledger_path) as reader:
        assert [r.seq for r in reader.records()] == [claim.seq, submit.seq]


async def test_deferred_records_commit_within_sync_interval_when_nobody_waits(
    ledger_path: Path, clock: StepClock
) -> None:
    async with open_ledger(ledger_path, clock=clock, sync_interval=0.25) as ledger:
        claim = ledger.append_deferred("k", {"claim": 1})
        clock.advance(0.2)
        for _ in range(5):
            await anyio.lowlevel.checkpoint()
        assert ledger.committed_seq == 0
        clock.advance(0.05)
        await wait_until(lambda: ledger.committed_seq == claim.seq)


async def test_flush_and_close_commit_deferred_records(ledger_path: Path) -> None:
    async with open_ledger(ledger_path, sync_interval=3600) as ledger:
        first = ledger.append_deferred("k", {})
        assert await ledger.flush() == first.seq
        ledger.append_deferred("k", {})
    with LedgerReader(ledger_path) as reader:
        assert reader.state().head_seq == 2
        assert reader.state().clean


def test_maintain_finishes_a_copy_that_commits_outran(
    ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under steady load the passive copy always ends behind the commits made
    # while it ran, so the log never starts over unless maintain finishes it.
    monkeypatch.setattr(sqlite_store, "_COPY_BACK_PAGES", 16)
    monkeypatch.setattr(sqlite_store, "_CATCH_UP_PAGES", 32)
    store = SQLiteStore(ledger_path)
    store.open()
    payload = encode_payload({"blob": bytes(3000)})
    prev, seq = bytes(32), 0

    def commit(count: int) -> None:
        nonlocal prev, seq
        records = []
        for _ in range(count):
            seq += 1
            record = make_record(seq, 0, float(seq), "k", payload, prev)
            prev = record.hash
            records.append(record)
        store.append(records, seq - count)

    checkpoint = sqlite_store._checkpoint
    modes: list[str] = []
    reader = sqlite3.connect(ledger_path, isolation_level=None)

    def outran(conn: sqlite3.Connection, mode: str) -> tuple[int, int, int]:
        result = checkpoint(conn, mode)
        modes.append(mode)
        if reader.in_transaction:
            reader.execute("COMMIT")  # the reader is done once the passive copy ends
        return result

    monkeypatch.setattr(sqlite_store, "_checkpoint", outran)
    try:
        commit(40)  # about 40 pages
        # A reader's snapshot keeps the passive copy short of the commits that
        # follow, as commits made while a copy runs do.
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM records").fetchone()
        commit(4)
        store.maintain()
        commit(1)  # the first commit after a finished copy starts the log over
        _, log, _ = checkpoint(reader, "PASSIVE")
    finally:
        reader.close()
        store.close()
    assert log < 8  # the log started over: only the last commit's pages
    assert modes == ["PASSIVE", "RESTART"]
    with LedgerReader(ledger_path) as reader:
        assert reader.verify().ok
        assert reader.state().head_seq == 45


async def test_in_a_system_housekeeping_runs_on_its_pool_and_after_it_on_a_thread_of_its_own(
    ledger_path: Path, clock: StepClock
) -> None:
    from actors import ActorSystem

    calls: list[str] = []

    class Counting(SQLiteStore):
        def sync(self) -> None:
            calls.append(threading.current_thread().name)
            super().sync()

    async with open_ledger(Counting(ledger_path), clock=clock, sync_interval=0.25) as ledger:
        async with ActorSystem("keeper", ledger=ledger):
            await ledger.append("k", {})
            clock.advance(0.25)
            await wait_until(lambda: ledger.statistics().syncs == 1)
            assert await ledger.sync() == 1
            assert not [t for t in threading.enumerate() if t.name.startswith("ledger-sync")]
        # The system is gone; the ledger outlives it, on a thread of its own.
        await ledger.append("k", {})
        assert await ledger.sync() == 2
    assert [name.split("-worker-")[0] for name in calls[:1]] == ["keeper-maintenance"]
    assert calls[-1].startswith("ledger-sync")


def test_a_reader_that_keeps_the_copy_from_finishing_is_not_waited_for_at_every_tick(
    ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long verify or replay holds its snapshot: the restarting copy cannot
    # finish, and holding writers off at every tick would stall the commits.
    monkeypatch.setattr(sqlite_store, "_COPY_BACK_PAGES", 16)
    monkeypatch.setattr(sqlite_store, "_CATCH_UP_PAGES", 32)
    store = SQLiteStore(ledger_path)
    store.open()
    payload = encode_payload({"blob": bytes(3000)})
    prev, seq = bytes(32), 0

    def commit(count: int) -> None:
        nonlocal prev, seq
        records = []
        for _ in range(count):
            seq += 1
            record = make_record(seq, 0, float(seq), "k", payload, prev)
            prev = record.hash
            records.append(record)
        store.append(records, seq - count)

    checkpoint = sqlite_store._checkpoint
    modes: list[str] = []

    def noting(conn: sqlite3.Connection, mode: str) -> tuple[int, int, int]:
        modes.append(mode)
        return checkpoint(conn, mode)

    monkeypatch.setattr(sqlite_store, "_checkpoint", noting)
    reader = sqlite3.connect(ledger_path, isolation_level=None)
    try:
        commit(40)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM records").fetchone()
        commit(40)
        store.maintain()  # the reader is in the way: the restart gives up
        assert modes == ["PASSIVE", "RESTART"]
        commit(20)
        store.maintain()  # the log grew less than 32 pages since: no new attempt
        assert modes == ["PASSIVE", "RESTART", "PASSIVE"]
        commit(40)
        store.maintain()
        assert modes == ["PASSIVE", "RESTART", "PASSIVE", "PASSIVE", "RESTART"]
        reader.execute("COMMIT")
    finally:
        reader.close()
        store.close()
    with LedgerReader(ledger_path) as reader_:
        assert reader_.verify().ok


async def test_a_ledger_opened_after_its_system_stopped_keeps_to_its_own_thread(
    ledger_path: Path,
) -> None:
    from actors import ActorSystem

    ledger = open_ledger(ledger_path)
    async with ActorSystem("gone", ledger=ledger):
        pass
    async with ledger:
        await ledger.append("k", {})
        assert await ledger.sync() == 1
