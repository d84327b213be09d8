"""Records and checkpoints, their canonical encoding and their hash chain.

A record's hash is SHA-256 over the msgpack encoding of the array::

    [seq, epoch, timestamp, kind, payload, prev_hash]

with ``seq`` and ``epoch`` as integers, ``timestamp`` as a float64, ``kind``
as a string and ``payload`` and ``prev_hash`` as binary. ``payload`` holds the
canonical msgpack encoding of the appended value (map keys sorted), so the
same value always hashes the same. The first record links to
:data:`GENESIS_HASH` (32 zero bytes). Any language with msgpack and SHA-256
can recompute the chain.
"""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

import msgspec

from ._errors import InvalidPayload

__all__ = [
    "GENESIS_HASH",
    "HASH_SIZE",
    "Checkpoint",
    "Record",
    "canonical_encode",
    "compute_hash",
    "digest_of",
    "encode_payload",
    "make_record",
]

T = TypeVar("T")

HASH_SIZE = 32
GENESIS_HASH = bytes(HASH_SIZE)
"""What the first record's ``prev_hash`` holds."""

_encoder = msgspec.msgpack.Encoder(order="sorted")
_encode = canonical_encode = _encoder.encode
"""Canonical msgpack: map keys and Struct fields sorted (raises msgspec's errors)."""
_sha256 = hashlib.sha256
_decode = msgspec.msgpack.decode


class Record(msgspec.Struct, frozen=True, gc=False):
    """One entry of the ledger: immutable, chained to its predecessor by hash."""

    seq: int
    """Position in the ledger, from 1, without gaps."""
    epoch: int
    """The epoch it was appended in; never decreases along the chain."""
    timestamp: float
    """Seconds since the Unix epoch, read from the ledger's clock."""
    kind: str
    """What happened (``"delivery"``, ``"lease.granted"``...): selects the reducer."""
    payload: bytes
    """The canonical msgpack encoding of the appended value."""
    prev_hash: bytes
    """The previous record's :attr:`hash` (:data:`GENESIS_HASH` for the first)."""
    hash: bytes
    """SHA-256 over this record's canonical encoding (see the module docstring)."""

    def value(self) -> Any:  # Any: a decoded payload is whatever was appended
        """The payload decoded into plain values (dicts, lists, str, int...)."""
        return _decode(self.payload)

    def decode(self, payload_type: type[T]) -> T:
        """The payload decoded and validated as ``payload_type`` (a Struct, say)."""
        return msgspec.msgpack.decode(self.payload, type=payload_type)

    def to_builtins(self) -> dict[str, Any]:  # Any: JSON-ready values
        """A JSON-ready dict: hashes in hex, payload decoded."""
        return {
            "seq": self.seq,
            "epoch": self.epoch,
            "timestamp": self.timestamp,
            "kind": self.kind,
            "payload": self.value(),
            "prev_hash": self.prev_hash.hex(),
            "hash": self.hash.hex(),
        }


class Checkpoint(msgspec.Struct, frozen=True, gc=False):
    """Reduced state at a sequence number, anchored on the chain hash there."""

    seq: int
    """The last record folded into :attr:`state`."""
    hash: bytes
    """The chain hash of record :attr:`seq`: the anchor verification starts from."""
    epoch: int
    """The epoch of record :attr:`seq`."""
    timestamp: float
    """When the checkpoint was taken (seconds since the Unix epoch)."""
    reducers: str
    """The name of the :class:`~actors.ledger.Reducers` that produced :attr:`state`."""
    state: bytes
    """The canonical msgpack encoding of the reduced state."""
    digest: bytes
    """SHA-256 of :attr:`state`."""


def encode_payload(payload: object) -> bytes:
    """The canonical msgpack bytes of ``payload``; :class:`InvalidPayload` if impossible."""
    try:
        return _encode(payload)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
        raise InvalidPayload(
            f"cannot encode payload of type {type(payload).__qualname__}: {exc}"
        ) from None


def compute_hash(
    seq: int, epoch: int, timestamp: float, kind: str, payload: bytes, prev_hash: bytes
) -> bytes:
    """The chain hash of a record with these fields."""
    return _sha256(_encode((seq, epoch, timestamp, kind, payload, prev_hash))).digest()


def make_record(
    seq: int, epoch: int, timestamp: float, kind: str, payload: bytes, prev_hash: bytes
) -> Record:
    """A new record whose hash is computed from its fields."""
    digest = _sha256(_encode((seq, epoch, timestamp, kind, payload, prev_hash))).digest()
    return Record(seq, epoch, timestamp, kind, payload, prev_hash, digest)


def digest_of(data: bytes) -> bytes:
    """SHA-256 of ``data`` (state digests use the same hash as the chain)."""
    return _sha256(data).digest()
