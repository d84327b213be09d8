"""Any single mutation of a stored ledger is found, at exactly the first bad record.

Mutations: a flipped bit in any field of one record, a deleted record, two
swapped records, records cut off the end, one payload replaced by another
valid one. Both stores; optionally after the oldest records were pruned, so
verification has to anchor on a checkpoint.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from actors.ledger import (
    GENESIS_HASH,
    Fault,
    FaultKind,
    LedgerCorrupted,
    LedgerReader,
    MemoryStore,
    Record,
    SQLiteStore,
)
from actors.ledger._record import Checkpoint, digest_of, encode_payload, make_record

FIELDS = ("seq", "epoch", "timestamp", "kind", "payload", "prev_hash", "hash")


def build_records(payloads: list[dict[str, int]]) -> list[Record]:
    records, prev = [], GENESIS_HASH
    for seq, payload in enumerate(payloads, start=1):
        record = make_record(
            seq, seq // 4, 1_700_000_000.25 + seq, f"kind{seq % 3}", encode_payload(payload), prev
        )
        records.append(record)
        prev = record.hash
    return records


def anchor(record: Record) -> Checkpoint:
    state = msgspec.msgpack.encode({"seq": record.seq})
    return Checkpoint(record.seq, record.hash, record.epoch, 0.0, "test", state, digest_of(state))


@dataclass(frozen=True)
class Mutation:
    name: str
    index: int = 0  # which retained record (0-based)
    other: int = 0  # second index for swaps, count for truncation
    field: str = ""
    bit: int = 0

    def expected_seq(self, first: int, last: int) -> int:
        if self.name == "truncate":
            return last - self.other + 1
        return first + self.index


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[dict[str, int]], int, Mutation]:
    payloads = draw(
        st.lists(
            st.dictionaries(st.sampled_from("abc"), st.integers(0, 999)), min_size=1, max_size=24
        )
    )
    pruned = draw(st.integers(0, len(payloads) - 1))
    retained = len(payloads) - pruned
    name = draw(st.sampled_from(["flip", "delete", "swap", "truncate", "change"]))
    if name == "swap":
        assume(retained >= 2)
        i = draw(st.integers(0, retained - 2))
        return payloads, pruned, Mutation(name, i, draw(st.integers(i + 1, retained - 1)))
    if name == "truncate":
        return payloads, pruned, Mutation(name, other=draw(st.integers(1, retained)))
    index = draw(st.integers(0, retained - 1))
    if name != "flip":
        return payloads, pruned, Mutation(name, index)
    field = draw(st.sampled_from(FIELDS))
    bits = {
        "seq": st.integers(8, 40),  # never collides with another record's seq
        "epoch": st.integers(0, 30),
        "timestamp": st.integers(0, 51),  # mantissa: stays a finite float
        "kind": st.integers(0, 6),  # of the first byte: stays ASCII
        "payload": st.integers(0, 7),
        "prev_hash": st.integers(0, 255),
        "hash": st.integers(0, 255),
    }[field]
    return payloads, pruned, Mutation(name, index, field=field, bit=draw(bits))


def flipped(value: Any, field: str, bit: int) -> Any:
    if field in ("seq", "epoch"):
        return value ^ (1 << bit)
    if field == "timestamp":
        as_int = int.from_bytes(msgspec.msgpack.encode(value)[1:], "big") ^ (1 << bit)
        return msgspec.msgpack.decode(b"\xcb" + as_int.to_bytes(8, "big"))
    if field == "kind":
        raw = bytearray(value.encode())
        raw[0] ^= 1 << bit
        return raw.decode()
    raw = bytearray(value)
    byte, offset = divmod(bit, 8)
    raw[byte % len(raw)] ^= 1 << offset
    return bytes(raw)


def other_payload(record: Record) -> bytes:
    value = record.value()
    return encode_payload({**value, "tampered": len(value)})


def mutate_memory(store: MemoryStore, mutation: Mutation) -> None:
    stored = store.stored
    i = mutation.index
    if mutation.name == "flip":
        record = stored[i]
        value = flipped(getattr(record, mutation.field), mutation.field, mutation.bit)
        stored[i] = msgspec.structs.replace(record, **{mutation.field: value})
    elif mutation.name == "delete":
        del stored[i]
    elif mutation.name == "swap":
        stored[i], stored[mutation.other] = stored[mutation.other], stored[i]
    elif mutation.name == "truncate":
        del stored[len(stored) - mutation.other :]
    else:
        stored[i] = msgspec.structs.replace(stored[i], payload=other_payload(stored[i]))


def mutate_file(path: str, records: list[Record], mutation: Mutation) -> None:
    seq = records[mutation.index].seq if mutation.name != "truncate" else 0
    with sqlite3.connect(path) as conn:
        if mutation.name == "flip":
            value = flipped(
                getattr(records[mutation.index], mutation.field), mutation.field, mutation.bit
            )
            conn.execute(f"UPDATE records SET {mutation.field} = ? WHERE seq = ?", (value, seq))
        elif mutation.name == "delete":
            conn.execute("DELETE FROM records WHERE seq = ?", (seq,))
        elif mutation.name == "swap":
            a, b = records[mutation.index], records[mutation.other]
            columns = FIELDS[1:]
            assignments = ", ".join(f"{c} = ?" for c in columns)
            for target, source in ((a, b), (b, a)):
                values = [getattr(source, c) for c in columns]
                conn.execute(
                    f"UPDATE records SET {assignments} WHERE seq = ?", (*values, target.seq)
                )
        elif mutation.name == "truncate":
            cut = records[len(records) - mutation.other].seq
            conn.execute("DELETE FROM records WHERE seq >= ?", (cut,))
        else:
            payload = other_payload(records[mutation.index])
            conn.execute("UPDATE records SET payload = ? WHERE seq = ?", (payload, seq))


def check(report: Any, mutation: Mutation, first: int, last: int, store: str) -> None:
    fault = report.fault
    assert fault is not None, f"{mutation} went unnoticed"
    assert fault.seq == mutation.expected_seq(first, last), (mutation, fault)
    expected_kinds = {
        "delete": {FaultKind.GAP, FaultKind.TRUNCATED},
        "truncate": {FaultKind.TRUNCATED},
        "change": {FaultKind.HASH_MISMATCH},
        "swap": {FaultKind.REORDERED if store == "memory" else FaultKind.BROKEN_LINK},
    }.get(mutation.name)
    if mutation.name == "flip":
        expected_kinds = {
            "hash": {FaultKind.HASH_MISMATCH},
            "prev_hash": {FaultKind.BROKEN_LINK},
            "seq": {FaultKind.GAP, FaultKind.REORDERED},
        }.get(mutation.field, {FaultKind.HASH_MISMATCH})
    assert fault.kind in expected_kinds, (mutation, fault)


def prepared(payloads: list[dict[str, int]], pruned: int, store: Any) -> list[Record]:
    records = build_records(payloads)
    store.open()
    store.append(records, 0)
    if pruned:
        store.put_checkpoint(anchor(records[pruned - 1]))
        store.prune(pruned)
    store.close()
    return records[pruned:]


@settings(max_examples=150, deadline=None)
@given(cases())
def test_memory_store_tampering_is_found_at_the_first_bad_record(
    case: tuple[list[dict[str, int]], int, Mutation],
) -> None:
    payloads, pruned, mutation = case
    store = MemoryStore()
    retained = prepared(payloads, pruned, store)
    with LedgerReader(store) as reader:
        assert reader.verify().ok
    mutate_memory(store, mutation)
    with LedgerReader(store) as reader:
        report = reader.verify()
    check(report, mutation, retained[0].seq, retained[-1].seq, "memory")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_sqlite_file_tampering_is_found_at_the_first_bad_record(
    case: tuple[list[dict[str, int]], int, Mutation],
) -> None:
    payloads, pruned, mutation = case
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "ledger.db")
        retained = prepared(payloads, pruned, SQLiteStore(path))
        with LedgerReader(path) as reader:
            assert reader.verify().ok
        mutate_file(path, retained, mutation)
        with LedgerReader(path) as reader:
            report = reader.verify()
    check(report, mutation, retained[0].seq, retained[-1].seq, "sqlite")


@settings(max_examples=12, deadline=None)
@given(st.floats(0.05, 0.98))
def test_a_truncated_database_file_is_reported_never_passed(fraction: float) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "ledger.db")
        store = SQLiteStore(path)
        records = build_records([{"a": n, "b": n * n, "c": 7} for n in range(400)])
        store.open()
        store.append(records, 0)
        store.close()  # checkpoints the WAL into the database file
        size = os.path.getsize(path)
        with open(path, "r+b") as file:
            file.truncate(int(size * fraction))
        fault, intact = verify_damaged(path)
    assert fault is not None
    assert 1 <= fault.seq <= len(records)
    assert intact == records[: fault.seq - 1]


def verify_damaged(path: str) -> tuple[Fault | None, list[Record]]:
    """The first fault in a damaged file, and the records before it."""
    try:
        with LedgerReader(path) as reader:
            fault = reader.verify().fault
            first = fault.seq - 1 if fault else 0
            return fault, list(itertools.islice(reader.records(), first))
    except LedgerCorrupted as exc:  # SQLite refuses the file as a whole: nothing is intact
        return exc.fault, []


@pytest.mark.parametrize("field", FIELDS)
def test_every_field_is_covered_by_the_flip_mutation(field: str) -> None:
    records = build_records([{"a": 1}, {"b": 2}, {"c": 3}])
    store = MemoryStore()
    store.open()
    store.append(records, 0)
    bit = 9 if field == "seq" else 1
    mutate_memory(store, Mutation("flip", 1, field=field, bit=bit))
    with LedgerReader(store) as reader:
        check(reader.verify(), Mutation("flip", 1, field=field, bit=bit), 1, 3, "memory")
