"""Verification: every kind of damage is named, at exactly the first bad record."""

from __future__ import annotations

import msgspec
import pytest

from actors.ledger import GENESIS_HASH, FaultKind, Record
from actors.ledger._chain import ReadFailed, verify_records
from actors.ledger._record import Checkpoint, digest_of, encode_payload, make_record


def chain(count: int, *, epochs: list[int] | None = None) -> list[Record]:
    records, prev = [], GENESIS_HASH
    for seq in range(1, count + 1):
        epoch = epochs[seq - 1] if epochs else 0
        record = make_record(seq, epoch, float(seq), "k", encode_payload({"n": seq}), prev)
        records.append(record)
        prev = record.hash
    return records


def verify(records: list[Record], *, head: Record | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    full_head = head
    options: dict[str, object] = {
        "base_seq": 0,
        "base_hash": GENESIS_HASH,
        "head_seq": full_head.seq if full_head else 0,
        "head_hash": full_head.hash if full_head else GENESIS_HASH,
    }
    options.update(kwargs)
    return verify_records(records, **options)  # type: ignore[arg-type]


def test_an_intact_chain_verifies() -> None:
    records = chain(5)

    report = verify(records, head=records[-1])

    assert report.ok
    assert report.records == 5
    assert (report.first_seq, report.head_seq) == (1, 5)


def test_an_empty_ledger_verifies() -> None:
    assert verify([]).ok


def test_changed_payload_is_a_hash_mismatch_at_that_record() -> None:
    records = chain(5)
    head = records[-1]
    records[2] = msgspec.structs.replace(records[2], payload=encode_payload({"n": 99}))

    fault = verify(records, head=head).fault

    assert fault is not None
    assert (fault.seq, fault.kind) == (3, FaultKind.HASH_MISMATCH)


def test_changed_prev_hash_is_a_broken_link() -> None:
    records = chain(4)
    head = records[-1]
    records[1] = msgspec.structs.replace(records[1], prev_hash=b"\x01" * 32)

    fault = verify(records, head=head).fault

    assert fault is not None
    assert (fault.seq, fault.kind) == (2, FaultKind.BROKEN_LINK)


def test_missing_record_is_a_gap() -> None:
    records = chain(5)
    head = records[-1]
    del records[1]

    fault = verify(records, head=head).fault

    assert fault is not None
    assert (fault.seq, fault.kind) == (2, FaultKind.GAP)


def test_swapped_records_are_reordered_at_the_first_position() -> None:
    records = chain(5)
    head = records[-1]
    records[1], records[3] = records[3], records[1]

    fault = verify(records, head=head).fault

    assert fault is not None
    assert (fault.seq, fault.kind) == (2, FaultKind.REORDERED)


def test_missing_last_records_are_a_truncation_against_the_recorded_head() -> None:
    records = chain(6)
    head = records[-1]

    fault = verify(records[:4], head=head).fault

    assert fault is not None
    assert (fault.seq, fault.kind) == (5, FaultKind.TRUNCATED)


def test_a_record_beyond_the_recorded_head_is_named() -> None:
    records = chain(4)

    fault = verify(records, head=records[2]).fault

    assert fault is not None
    assert (fault.seq, fault.kind) == (4, FaultKind.HEAD_MISMATCH)


def test_undecodable_payload_with_a_consistent_hash_is_named() -> None:
    records = chain(3)
    bad = make_record(2, 0, 2.0, "k", b"\xc1", records[0].hash)  # 0xc1 is never valid msgpack
    records[1] = bad

    fault = verify(records, head=records[-1]).fault

    assert fault is not None
    assert (fault.seq, fault.kind) in {(2, FaultKind.UNDECODABLE), (3, FaultKind.BROKEN_LINK)}
    assert fault.seq == 2


def test_wrongly_typed_field_is_malformed() -> None:
    records = chain(3)
    head = records[-1]
    records[1] = msgspec.structs.replace(records[1], hash=b"short")

    fault = verify(records, head=head).fault

    assert fault is not None
    assert (fault.seq, fault.kind) == (2, FaultKind.MALFORMED)


def test_epoch_going_backwards_is_a_reordering() -> None:
    records = chain(3, epochs=[1, 0, 0])

    fault = verify(records, head=records[-1]).fault

    assert fault is not None
    assert (fault.seq, fault.kind) == (2, FaultKind.REORDERED)


def test_read_failure_is_unreadable_at_the_next_expected_record() -> None:
    records = chain(5)

    def failing() -> object:
        yield from records[:3]
        raise ReadFailed("database disk image is malformed")

    report = verify_records(
        failing(),  # type: ignore[arg-type]
        base_seq=0,
        base_hash=GENESIS_HASH,
        head_seq=5,
        head_hash=records[-1].hash,
    )

    assert report.fault is not None
    assert (report.fault.seq, report.fault.kind) == (4, FaultKind.UNREADABLE)
    assert report.records == 3


def _checkpoint(record: Record, state: bytes = b"\x80") -> Checkpoint:
    return Checkpoint(record.seq, record.hash, record.epoch, 0.0, "r", state, digest_of(state))


def test_pruned_chain_anchors_on_the_checkpoint_hash() -> None:
    records = chain(6)
    anchor = _checkpoint(records[2])

    report = verify_records(
        records[3:],
        base_seq=3,
        base_hash=records[2].hash,
        head_seq=6,
        head_hash=records[-1].hash,
        checkpoints=[anchor],
    )

    assert report.ok
    assert (report.records, report.first_seq, report.base_seq) == (3, 4, 3)


def test_pruned_chain_without_its_anchor_checkpoint_is_named() -> None:
    records = chain(6)

    fault = verify_records(
        records[3:],
        base_seq=3,
        base_hash=records[2].hash,
        head_seq=6,
        head_hash=records[-1].hash,
    ).fault

    assert fault is not None
    assert (fault.seq, fault.kind) == (3, FaultKind.CHECKPOINT_MISMATCH)


@pytest.mark.parametrize("tamper", ["hash", "state"])
def test_checkpoint_disagreeing_with_the_chain_is_named(tamper: str) -> None:
    records = chain(6)
    good = _checkpoint(records[3])
    bad = (
        msgspec.structs.replace(good, hash=b"\x02" * 32)
        if tamper == "hash"
        else msgspec.structs.replace(good, state=b"\x81\xa1a\x01")
    )

    fault = verify(records, head=records[-1], checkpoints=[bad]).fault

    assert fault is not None
    assert (fault.seq, fault.kind) == (4, FaultKind.CHECKPOINT_MISMATCH)


def test_fault_prints_the_seq_kind_and_detail() -> None:
    records = chain(3)
    head = records[-1]
    del records[0]

    fault = verify(records, head=head).fault

    assert str(fault).startswith("first bad record is seq 1: gap: expected seq 1, found seq 2")
