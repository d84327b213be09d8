"""Verification and opening for writing agree on a ledger whose head and records disagree.

The class of damage: the recorded head moved ahead of the records or behind
them, its hash changed, the head row gone, a record missing anywhere (a gap,
the first, the last, several at the end), with or without the oldest records
pruned. For each, ``verify`` (in-process and on the command line) reports a
fault exactly when opening the file for writing refuses it, and both name the
same first bad record. The intact ledger opens and verifies.
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import sys
import tempfile
from dataclasses import dataclass

import anyio
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from actors.ledger import (
    GENESIS_HASH,
    Fault,
    FaultKind,
    LedgerCorrupted,
    LedgerReader,
    MemoryStore,
    Record,
    SQLiteStore,
    open_ledger,
)
from actors.ledger._cli import main
from actors.ledger._record import Checkpoint, digest_of, encode_payload, make_record


def build(count: int) -> list[Record]:
    records, prev = [], GENESIS_HASH
    for seq in range(1, count + 1):
        record = make_record(seq, 0, 1_700_000_000.5 + seq, "k", encode_payload({"n": seq}), prev)
        records.append(record)
        prev = record.hash
    return records


def anchor(record: Record) -> Checkpoint:
    state = msgspec.msgpack.encode({"seq": record.seq})
    return Checkpoint(record.seq, record.hash, record.epoch, 0.0, "test", state, digest_of(state))


@dataclass(frozen=True)
class Damage:
    """One change to the head row or the records table, as SQL on the file."""

    name: str
    sql: str
    params: tuple[object, ...] = ()
    expected_seq: int | None = None  # None: a fault at some seq, checked for agreement only

    def apply(self, path: str) -> None:
        with sqlite3.connect(path) as conn:
            conn.execute(self.sql, self.params)
        conn.close()


def damages(count: int, pruned: int, records: list[Record]) -> list[Damage]:
    """Every damage of the class for a ledger of ``count`` records, ``pruned`` of them pruned."""
    first, last = pruned + 1, count
    head = records[-1]
    out = [
        Damage("head ahead", "UPDATE head SET head_seq = head_seq + 1", (), last + 1),
        Damage("head far ahead", "UPDATE head SET head_seq = head_seq + 5", (), last + 1),
        Damage("head hash changed", "UPDATE head SET head_hash = ?", (bytes(32),), last),
        Damage("head row missing", "DELETE FROM head", (), first),
        Damage("last record deleted", "DELETE FROM records WHERE seq = ?", (last,), last),
    ]
    if last > first:
        before = records[last - 2]
        out += [
            Damage("head behind", "UPDATE head SET head_seq = head_seq - 1", (), last),
            Damage(
                "head rolled back, hash and all",
                "UPDATE head SET head_seq = ?, head_hash = ?",
                (before.seq, before.hash),
                last,
            ),
            Damage("first record deleted", "DELETE FROM records WHERE seq = ?", (first,), first),
            Damage("last two deleted", "DELETE FROM records WHERE seq >= ?", (last - 1,), last - 1),
        ]
    for gap in range(first + 1, last):
        out.append(Damage(f"gap at {gap}", "DELETE FROM records WHERE seq = ?", (gap,), gap))
    out.append(
        Damage(
            "record added past the head",
            "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
            msgspec.structs.astuple(build(count + 1)[-1]),
            last + 1,
        )
    )
    if pruned:
        out.append(Damage("head behind the base", "UPDATE head SET head_seq = ?", (pruned,), first))
    assert head.seq == last
    return out


def make_ledger(path: str, count: int, pruned: int) -> list[Record]:
    records = build(count)
    store = SQLiteStore(path)
    store.open()
    store.append(records, 0)
    if pruned:
        store.put_checkpoint(anchor(records[pruned - 1]))
        store.prune(pruned)
    store.close()
    return records


def verify_fault(path: str) -> Fault | None:
    try:
        with LedgerReader(path) as reader:
            return reader.verify().fault
    except LedgerCorrupted as exc:  # refused as a whole: the error names the first bad record
        return exc.fault


def cli_verify(path: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        with capture_logs():
            code = main(["verify", path])
    finally:
        sys.stdout, sys.stderr = saved
    return code, out.getvalue() + err.getvalue()


def open_fault(path: str) -> Fault | None:
    """Open a copy of the file for writing: the fault that refuses it, or None."""
    copy = path + ".copy"
    shutil.copyfile(path, copy)

    async def run() -> None:
        with capture_logs():
            async with open_ledger(copy):
                pass

    try:
        anyio.run(run)
    except LedgerCorrupted as exc:
        return exc.fault
    finally:
        os.unlink(copy)
    return None


def check_agreement(path: str, damage: Damage | None) -> None:
    by_verify = verify_fault(path)
    by_open = open_fault(path)
    code, out = cli_verify(path)
    assert (by_verify is None) == (by_open is None), (damage, by_verify, by_open)
    assert code == (0 if by_verify is None else 1), (damage, out)
    if damage is None:
        assert by_verify is None
        return
    assert by_verify is not None, f"{damage.name} went unnoticed"
    assert by_open is not None
    assert by_open.seq == by_verify.seq, (damage, by_verify, by_open)
    if damage.expected_seq is not None:
        assert by_verify.seq == damage.expected_seq, (damage, by_verify)
    assert out.startswith(f"corrupt: first bad record is seq {by_verify.seq}: "), out


@pytest.mark.parametrize("pruned", [0, 3])
def test_every_head_damage_is_refused_by_open_and_reported_by_verify_alike(pruned: int) -> None:
    count = 8
    with tempfile.TemporaryDirectory() as directory:
        pristine = os.path.join(directory, "pristine.db")
        records = make_ledger(pristine, count, pruned)
        check_agreement(pristine, None)
        for damage in damages(count, pruned, records):
            path = os.path.join(directory, "damaged.db")
            shutil.copyfile(pristine, path)
            damage.apply(path)
            check_agreement(path, damage)
            os.unlink(path)


def test_the_issue_case_head_seq_minus_one_is_corrupt_at_the_last_record() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "ledger.db")
        make_ledger(path, 20, 0)
        Damage("head behind", "UPDATE head SET head_seq = head_seq - 1").apply(path)
        code, out = cli_verify(path)
        assert code == 1
        assert out.startswith("corrupt: first bad record is seq 20: head_mismatch: "), out
        assert open_fault(path) == verify_fault(path)


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(1, 12),
    data=st.data(),
)
def test_head_damage_agreement_holds_for_any_ledger_size(count: int, data: st.DataObject) -> None:
    pruned = data.draw(st.integers(0, count - 1), label="pruned")
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "ledger.db")
        records = make_ledger(path, count, pruned)
        damage = data.draw(st.sampled_from(damages(count, pruned, records)), label="damage")
        damage.apply(path)
        check_agreement(path, damage)


@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 12), data=st.data())
def test_memory_store_open_agrees_with_verify_on_missing_records(
    count: int, data: st.DataObject
) -> None:
    records = build(count)
    store = MemoryStore()
    store.open()
    store.append(records, 0)
    store.close()
    removed = data.draw(
        st.lists(st.integers(0, count - 1), min_size=1, max_size=count, unique=True),
        label="removed",
    )
    for index in sorted(removed, reverse=True):
        del store.stored[index]
    with LedgerReader(store) as reader:
        by_verify = reader.verify().fault
    try:
        store.open()
    except LedgerCorrupted as exc:
        by_open: Fault | None = exc.fault
    else:
        by_open = None
        store.close()
    assert by_verify is not None
    assert by_open is not None
    assert by_open.seq == by_verify.seq == min(removed) + 1
    assert by_verify.kind in {FaultKind.GAP, FaultKind.TRUNCATED}
