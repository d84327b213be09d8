"""Verifying a ledger that is being appended to reads one snapshot and never cries wolf.

The deterministic tests force the interleaving that used to produce a false
``head_mismatch``: right after verification's first read (the head), the test
commits more records and only then lets verification read on. The bounded
soak tests run verification against real concurrent appenders.
"""

from __future__ import annotations

import io
import sys
import threading
from typing import TYPE_CHECKING

import anyio
import anyio.from_thread
import pytest
from structlog.testing import capture_logs

from actors.ledger import (
    Checkpoint,
    LedgerReader,
    MemoryStore,
    SQLiteStore,
    StoreState,
    open_ledger,
)
from actors.ledger._chain import verify_store
from actors.ledger._cli import main
from actors.ledger._record import encode_payload, make_record

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from actors.ledger import Ledger, Record

pytestmark = pytest.mark.anyio

WAIT = 30.0
APPENDERS = 8
ROUNDS = 8


class _HookedReader(SQLiteStore):
    """A read handle that runs ``between`` once, right after its first read."""

    def __init__(self, path: str, between: Callable[[], None]) -> None:
        super().__init__(path)
        self._between: Callable[[], None] | None = between

    def _fire(self) -> None:
        between, self._between = self._between, None
        if between is not None:
            between()

    def state(self) -> StoreState:
        state = super().state()
        self._fire()
        return state

    def checkpoints(self) -> list[Checkpoint]:
        checkpoints = super().checkpoints()
        self._fire()
        return checkpoints


class _InterleavingFile(SQLiteStore):
    """A ledger file whose readers let ``between`` commit records mid-read."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.between: Callable[[], None] = lambda: None

    def reader(self) -> SQLiteStore:
        return _HookedReader(self.path, self.between)


async def test_in_process_verify_does_not_see_records_committed_while_it_reads(
    ledger_path: Path,
) -> None:
    store = _InterleavingFile(str(ledger_path))
    async with open_ledger(store, durability="always") as ledger:
        await ledger.extend([("k", {"n": n}) for n in range(5)])

        async def commit_more() -> None:
            await ledger.extend([("k", {"more": n}) for n in range(3)])

        store.between = lambda: anyio.from_thread.run(commit_more)
        with capture_logs() as logs:
            report = await ledger.verify()
        assert ledger.committed_seq == 8  # the records did commit mid-verify
        assert report.fault is None, report.fault
        assert (report.records, report.head_seq) == (5, 5)
        assert not [log for log in logs if log["event"] == "ledger_fault_found"]
        assert (await ledger.verify()).records == 8


async def test_replay_reads_one_snapshot_too(ledger_path: Path) -> None:
    store = _InterleavingFile(str(ledger_path))
    async with open_ledger(store, durability="always") as ledger:
        await ledger.extend([("k", {"n": n}) for n in range(5)])

        async def commit_more() -> None:
            await ledger.extend([("k", {"more": n}) for n in range(3)])

        store.between = lambda: anyio.from_thread.run(commit_more)
        result = await ledger.replay()
        assert (result.records, result.last_seq) == (5, 5)


def _chain(count: int, after: Record | None = None) -> list[Record]:
    records: list[Record] = []
    seq, prev = (0, bytes(32)) if after is None else (after.seq, after.hash)
    for _ in range(count):
        seq += 1
        record = make_record(seq, 0, 1_700_000_000.5 + seq, "k", encode_payload({"n": seq}), prev)
        records.append(record)
        prev = record.hash
    return records


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_a_store_snapshot_hides_commits_made_during_it(kind: str, tmp_path: Path) -> None:
    first = _chain(4)
    more = _chain(3, after=first[-1])
    writer: SQLiteStore | MemoryStore
    if kind == "sqlite":
        writer = SQLiteStore(tmp_path / "ledger.db")
        writer.open()
        reading: SQLiteStore | MemoryStore = SQLiteStore(tmp_path / "ledger.db")
        reading.open(readonly=True)
    else:
        writer = reading = MemoryStore()  # one object: reading and writing share it
        writer.open()
    writer.append(first, 0)
    with reading.snapshot():
        state = reading.state()
        writer.append(more, 4)
        assert list(reading.records()) == first
        assert reading.tail(10) == first
        assert reading.state() == state
    assert list(reading.records()) == first + more
    assert verify_store(reading).records == 7
    writer.close()
    reading.close()


def test_verify_store_of_a_memory_store_appended_to_mid_verify_is_ok() -> None:
    store = MemoryStore()
    store.open()
    first = _chain(4)
    store.append(first, 0)

    original_state = store.state
    fired: list[bool] = []

    def state() -> StoreState:
        result = original_state()
        if not fired:
            fired.append(True)
            store.append(_chain(2, after=first[-1]), 4)
        return result

    store.state = state  # type: ignore[method-assign]
    report = verify_store(store)
    assert fired
    assert report.fault is None, report.fault
    assert report.records == 4


def _run_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with capture_logs():
        code = main(argv)
    return code, out.getvalue()


def _append_in_a_thread(path: Path, count: int) -> None:
    """Open the ledger in another thread, append ``count`` records, close it."""

    async def run() -> None:
        async with open_ledger(path, durability="always") as ledger:
            await ledger.extend([("k", {"n": n}) for n in range(count)])

    failure: list[BaseException] = []

    def target() -> None:
        try:
            anyio.run(run)
        except BaseException as exc:  # handed to the test thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="test-appender")
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive(), "the appender thread did not finish"
    assert not failure, failure


def test_cli_verify_is_ok_when_a_writer_commits_between_its_reads(
    ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _append_in_a_thread(ledger_path, 20)
    original = SQLiteStore.state
    fired: list[int] = []

    def state(self: SQLiteStore) -> StoreState:
        result = original(self)
        if not fired and threading.current_thread() is threading.main_thread():
            fired.append(result.head_seq)
            _append_in_a_thread(ledger_path, 5)  # commits while verify is mid-read
        return result

    monkeypatch.setattr(SQLiteStore, "state", state)
    code, out = _run_cli(["verify", str(ledger_path)], monkeypatch)
    assert fired == [20]
    assert (code, out.split(",")[0]) == (0, "ok: 20 records (seq 1..20)")
    monkeypatch.undo()
    with LedgerReader(ledger_path) as reader:
        assert reader.verify().records == 25


async def _appenders(ledger: Ledger, stop: anyio.Event) -> None:
    async def appender(n: int) -> None:
        count = 0
        while not stop.is_set():
            await ledger.append("k", {"appender": n, "count": count})
            count += 1

    async with anyio.create_task_group() as tg:
        for n in range(APPENDERS):
            tg.start_soon(appender, n)


async def test_in_process_verify_under_eight_appenders_never_reports_a_fault(
    ledger_path: Path,
) -> None:
    async with open_ledger(ledger_path, durability="always") as ledger:
        stop = anyio.Event()
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(_appenders, ledger, stop)
                for _ in range(ROUNDS):
                    report = await ledger.verify()
                    assert report.fault is None, report.fault
                stop.set()


async def test_cli_verify_against_a_live_writer_thread_never_reports_a_fault(
    ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _append_in_a_thread(ledger_path, 1)
    async with open_ledger(ledger_path, durability="always") as ledger:
        stop = anyio.Event()
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(_appenders, ledger, stop)
                for _ in range(ROUNDS):
                    code, out = await anyio.to_thread.run_sync(
                        _run_cli, ["verify", str(ledger_path)], monkeypatch
                    )
                    assert code == 0, out
                stop.set()
