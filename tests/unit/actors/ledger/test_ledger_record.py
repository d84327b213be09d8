"""Records: canonical encoding, the documented hash formula, payload decoding."""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from actors.ledger import GENESIS_HASH, InvalidPayload, Record
from actors.ledger._record import compute_hash, encode_payload, make_record


class JobStarted(msgspec.Struct, frozen=True):
    job_id: int
    worker: str


def test_hash_is_sha256_of_the_documented_msgpack_array() -> None:
    payload = encode_payload({"b": 2, "a": 1})
    record = make_record(7, 3, 1_700_000_000.5, "job.started", payload, GENESIS_HASH)

    # Recomputed with nothing but plain msgpack and hashlib, as another language would.
    array = msgspec.msgpack.encode([7, 3, 1_700_000_000.5, "job.started", payload, bytes(32)])
    assert record.hash == hashlib.sha256(array).digest()
    assert record.prev_hash == GENESIS_HASH == bytes(32)


def test_payload_encoding_is_canonical_whatever_the_key_order() -> None:
    assert encode_payload({"b": 1, "a": {"y": 2, "x": 3}}) == encode_payload(
        {"a": {"x": 3, "y": 2}, "b": 1}
    )


def test_struct_payloads_round_trip_through_decode() -> None:
    record = make_record(1, 0, 1.0, "job.started", encode_payload(JobStarted(5, "w1")), bytes(32))

    assert record.decode(JobStarted) == JobStarted(5, "w1")
    assert record.value() == {"job_id": 5, "worker": "w1"}


def test_unencodable_payload_is_rejected_with_its_type() -> None:
    with pytest.raises(InvalidPayload, match="object"):
        encode_payload(object())


def test_any_changed_field_changes_the_hash() -> None:
    fields = (1, 0, 1.0, "k", b"\x80", bytes(32))
    base = compute_hash(*fields)
    changed = [
        (2, 0, 1.0, "k", b"\x80", bytes(32)),
        (1, 1, 1.0, "k", b"\x80", bytes(32)),
        (1, 0, 1.5, "k", b"\x80", bytes(32)),
        (1, 0, 1.0, "j", b"\x80", bytes(32)),
        (1, 0, 1.0, "k", b"\x81", bytes(32)),
        (1, 0, 1.0, "k", b"\x80", b"\x01" * 32),
    ]
    assert all(compute_hash(*other) != base for other in changed)


def test_to_builtins_gives_hex_hashes_and_the_decoded_payload() -> None:
    record = make_record(1, 0, 2.0, "k", encode_payload({"n": 1}), bytes(32))

    out = record.to_builtins()

    assert out["payload"] == {"n": 1}
    assert out["hash"] == record.hash.hex()
    assert out["prev_hash"] == "00" * 32
    assert msgspec.json.decode(msgspec.json.encode(out)) == out


def test_records_are_immutable() -> None:
    record = make_record(1, 0, 2.0, "k", encode_payload(None), bytes(32))

    with pytest.raises(AttributeError):
        record.seq = 2  # type: ignore[misc]
    assert isinstance(record, Record)
