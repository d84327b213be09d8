"""Walking the hash chain: what can be wrong with it and where it first goes wrong.

:class:`ChainWalker` checks records one at a time against what the chain says
must come next: the sequence number, the link to the previous hash, the
record's own hash, the epoch order, the payload's encoding and any checkpoint
taken at that point. Verification and replay share it, so a replay never
folds a record that verification would reject.

The walk starts from an anchor: the genesis hash, or after pruning the
checkpoint hash the retained records link to. It ends against the head the
store recorded in the same transaction as the last append, which is how a
ledger with its last records cut off is told apart from a shorter one.
"""

from __future__ import annotations

import enum
import hashlib
from typing import TYPE_CHECKING

import msgspec

from ._record import Checkpoint, Record, canonical_encode, compute_hash, digest_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from ._store import Store, StoreState

__all__ = [
    "ChainWalker",
    "Fault",
    "FaultKind",
    "ReadFailed",
    "VerifyReport",
    "anchor_fault",
    "open_fault",
    "verify_records",
    "verify_store",
]

_decode = msgspec.msgpack.decode
_encode = canonical_encode
_sha256 = hashlib.sha256


class FaultKind(enum.StrEnum):
    """What is wrong with the first bad record."""

    HASH_MISMATCH = "hash_mismatch"
    """The stored hash is not the hash of the record's contents."""
    BROKEN_LINK = "broken_link"
    """``prev_hash`` is not the previous record's hash (or the anchor)."""
    GAP = "gap"
    """The expected sequence number is missing."""
    REORDERED = "reordered"
    """Records are out of order (a sequence number or an epoch goes backwards)."""
    TRUNCATED = "truncated"
    """Records end before the head the store recorded."""
    UNDECODABLE = "undecodable"
    """The payload is not valid msgpack."""
    MALFORMED = "malformed"
    """A field has the wrong type (a hash that is not 32 bytes, a missing value...)."""
    UNREADABLE = "unreadable"
    """The store itself failed while reading (a damaged database file)."""
    HEAD_MISMATCH = "head_mismatch"
    """The last record is not the head the store recorded."""
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"
    """A checkpoint disagrees with the chain or with its own digest."""


class Fault(msgspec.Struct, frozen=True):
    """The first bad record: its sequence number, what is wrong, and the details."""

    seq: int
    kind: FaultKind
    detail: str

    def __str__(self) -> str:
        return f"first bad record is seq {self.seq}: {self.kind.value}: {self.detail}"


class VerifyReport(msgspec.Struct, frozen=True):
    """The outcome of walking a whole ledger."""

    records: int
    """How many records were checked and found good (before the fault, if any)."""
    first_seq: int
    """The first retained sequence number (``base_seq + 1``)."""
    head_seq: int
    """The head the store recorded."""
    head_hash: bytes
    """The chain hash at :attr:`head_seq` as recorded by the store."""
    base_seq: int
    """Records up to here were pruned; the chain anchors on the checkpoint there."""
    checkpoints: int
    """How many checkpoints were checked."""
    fault: Fault | None
    """The first problem found, or ``None``."""

    @property
    def ok(self) -> bool:
        """Whether the whole chain verified."""
        return self.fault is None


class ChainWalker:
    """Checks records in chain order; the first fault found is final."""

    __slots__ = (
        "_check_payload",
        "_checkpoints",
        "_epoch",
        "_floor",
        "_head_hash",
        "_head_seq",
        "checked",
        "expected",
        "fault",
        "prev_hash",
    )

    def __init__(
        self,
        anchor_seq: int,
        anchor_hash: bytes,
        *,
        head_seq: int,
        head_hash: bytes | None,
        checkpoints: Sequence[Checkpoint] = (),
        check_payload: bool = True,
    ) -> None:
        self.expected = anchor_seq + 1
        self.prev_hash = anchor_hash
        self.checked = 0
        self.fault: Fault | None = None
        self._epoch: int | None = None
        self._floor = -(2**63)  # the lowest epoch the next record may have
        self._head_seq = head_seq
        self._head_hash = head_hash
        self._check_payload = check_payload
        self._checkpoints: dict[int, list[Checkpoint]] = {}
        for cp in checkpoints:
            if cp.seq > anchor_seq:
                self._checkpoints.setdefault(cp.seq, []).append(cp)

    @property
    def last_seq(self) -> int:
        """The last good sequence number."""
        return self.expected - 1

    def feed(self, record: Record) -> Fault | None:
        """Check the next record; on a fault, remember and return it."""
        expected = self.expected
        # The fast path: a well-formed record that extends the chain. Anything
        # else takes the slow path, which names what is wrong.
        seq, epoch, timestamp = record.seq, record.epoch, record.timestamp
        kind, payload, prev = record.kind, record.payload, record.prev_hash
        if (
            seq == expected
            and seq <= self._head_seq
            and prev == self.prev_hash
            and type(seq) is int
            and type(epoch) is int
            and type(timestamp) is float
            and type(kind) is str
            and type(payload) is bytes
            and epoch >= self._floor
            and seq not in self._checkpoints
        ):
            try:
                actual = _sha256(_encode((seq, epoch, timestamp, kind, payload, prev))).digest()
                if self._check_payload:
                    _decode(payload)
            except (TypeError, ValueError, OverflowError, msgspec.MsgspecError):
                actual = b""
            if actual == record.hash:
                self.prev_hash = actual
                self._epoch = self._floor = epoch
                self.expected = expected + 1
                self.checked += 1
                return None
        fault = self._check(record, expected)
        if fault is None and self._checkpoints:
            fault = self._check_checkpoints(record)
        if fault is not None:
            self.fault = fault
            return fault
        self.prev_hash = record.hash
        self._epoch = self._floor = record.epoch
        self.expected = expected + 1
        self.checked += 1
        return None

    def _check(self, record: Record, expected: int) -> Fault | None:
        seq = record.seq
        if type(seq) is not int:
            return Fault(expected, FaultKind.MALFORMED, f"sequence number is {seq!r}")
        if expected > self._head_seq:
            # Whatever follows the recorded head was not committed with it.
            return Fault(
                expected,
                FaultKind.HEAD_MISMATCH,
                f"record seq {seq} found after the recorded head seq {self._head_seq}",
            )
        if seq != expected:
            if seq < expected:
                return Fault(
                    expected, FaultKind.REORDERED, f"expected seq {expected}, found seq {seq}"
                )
            return Fault(expected, FaultKind.GAP, f"expected seq {expected}, found seq {seq}")
        malformed = _malformed(record)
        if malformed is not None:
            return Fault(seq, FaultKind.MALFORMED, malformed)
        if record.prev_hash != self.prev_hash:
            return Fault(
                seq,
                FaultKind.BROKEN_LINK,
                f"prev_hash {record.prev_hash.hex()} is not the previous hash "
                f"{self.prev_hash.hex()}",
            )
        try:
            actual = compute_hash(
                seq, record.epoch, record.timestamp, record.kind, record.payload, record.prev_hash
            )
        except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
            return Fault(seq, FaultKind.MALFORMED, f"fields cannot be encoded: {exc}")
        if actual != record.hash:
            return Fault(
                seq,
                FaultKind.HASH_MISMATCH,
                f"stored hash {record.hash.hex()} but contents hash to {actual.hex()}",
            )
        if self._epoch is not None and record.epoch < self._epoch:
            return Fault(
                seq,
                FaultKind.REORDERED,
                f"epoch {record.epoch} follows epoch {self._epoch} (epochs never go back)",
            )
        if self._check_payload:
            try:
                _decode(record.payload)
            except msgspec.DecodeError as exc:
                return Fault(seq, FaultKind.UNDECODABLE, f"payload is not msgpack: {exc}")
        return None

    def _check_checkpoints(self, record: Record) -> Fault | None:
        for cp in self._checkpoints.pop(record.seq, ()):
            fault = _checkpoint_fault(cp, record.hash)
            if fault is not None:
                return fault
        return None

    def finish(self) -> Fault | None:
        """Check the end of the walk against the recorded head and leftover checkpoints."""
        if self.fault is not None:
            return self.fault
        last = self.last_seq
        fault: Fault | None = None
        if last < self._head_seq:
            fault = Fault(
                last + 1,
                FaultKind.TRUNCATED,
                f"records end at seq {last} but the recorded head is seq {self._head_seq}",
            )
        elif self._head_hash is not None and self.prev_hash != self._head_hash:
            fault = Fault(
                last,
                FaultKind.HEAD_MISMATCH,
                f"last record hash {self.prev_hash.hex()} is not the recorded head hash "
                f"{self._head_hash.hex()}",
            )
        elif self._checkpoints:
            seq = min(self._checkpoints)
            fault = Fault(
                seq,
                FaultKind.CHECKPOINT_MISMATCH,
                f"checkpoint at seq {seq} is beyond the last record (seq {last})",
            )
        self.fault = fault
        return fault


def _malformed(record: Record) -> str | None:
    """What is wrong with the record's field types, if anything."""
    if type(record.epoch) is not int:
        return f"epoch is {record.epoch!r}"
    if type(record.timestamp) is not float:
        return f"timestamp is {record.timestamp!r}"
    if type(record.kind) is not str:
        return f"kind is {record.kind!r}"
    if type(record.payload) is not bytes:
        return f"payload is a {type(record.payload).__name__}, not bytes"
    if type(record.prev_hash) is not bytes or len(record.prev_hash) != 32:
        return f"prev_hash is {record.prev_hash!r}"
    if type(record.hash) is not bytes or len(record.hash) != 32:
        return f"hash is {record.hash!r}"
    return None


def _checkpoint_fault(cp: Checkpoint, chain_hash: bytes) -> Fault | None:
    if cp.hash != chain_hash:
        return Fault(
            cp.seq,
            FaultKind.CHECKPOINT_MISMATCH,
            f"checkpoint {cp.reducers!r} at seq {cp.seq} holds hash {cp.hash.hex()} "
            f"but the chain has {chain_hash.hex()}",
        )
    if digest_of(cp.state) != cp.digest:
        return Fault(
            cp.seq,
            FaultKind.CHECKPOINT_MISMATCH,
            f"checkpoint {cp.reducers!r} at seq {cp.seq}: state does not match its digest",
        )
    return None


def anchor_fault(
    base_seq: int, base_hash: bytes, checkpoints: Iterable[Checkpoint]
) -> Fault | None:
    """Check that a pruned ledger's anchor is a checkpoint that agrees with it."""
    if base_seq == 0:
        return None
    anchors = [cp for cp in checkpoints if cp.seq == base_seq]
    if not anchors:
        return Fault(
            base_seq,
            FaultKind.CHECKPOINT_MISMATCH,
            f"records up to seq {base_seq} were pruned but no checkpoint anchors them",
        )
    for cp in anchors:
        fault = _checkpoint_fault(cp, base_hash)
        if fault is not None:
            return fault
    return None


class ReadFailed(Exception):
    """Raised by a store's record iterator when the storage itself fails."""


def verify_records(
    records: Iterable[Record],
    *,
    base_seq: int,
    base_hash: bytes,
    head_seq: int,
    head_hash: bytes,
    checkpoints: Sequence[Checkpoint] = (),
) -> VerifyReport:
    """Walk ``records`` (in storage order) and report the first fault, if any.

    A store's iterator raises :class:`ReadFailed` when it cannot read on; that
    is reported as :attr:`FaultKind.UNREADABLE` at the next expected record.
    """
    walker = ChainWalker(
        base_seq,
        base_hash,
        head_seq=head_seq,
        head_hash=head_hash,
        checkpoints=checkpoints,
    )
    fault = anchor_fault(base_seq, base_hash, checkpoints)
    if fault is None:
        iterator = iter(records)
        try:
            fault = _walk(walker, iterator)
        except ReadFailed as exc:
            fault = Fault(walker.expected, FaultKind.UNREADABLE, str(exc))
    return VerifyReport(
        records=walker.checked,
        first_seq=base_seq + 1,
        head_seq=head_seq,
        head_hash=head_hash,
        base_seq=base_seq,
        checkpoints=sum(1 for cp in checkpoints if cp.seq >= base_seq),
        fault=fault,
    )


def verify_store(store: Store) -> VerifyReport:
    """Verify everything an open store holds (blocking: call it off the event loop).

    The head, the checkpoints and the records are read in one snapshot, so a
    ledger being appended to meanwhile verifies as of one commit.
    """
    with store.snapshot():
        state = store.state()
        return verify_records(
            store.records(state.base_seq),
            base_seq=state.base_seq,
            base_hash=state.base_hash,
            head_seq=state.head_seq,
            head_hash=state.head_hash,
            checkpoints=store.checkpoints(),
        )


def open_fault(
    state: StoreState,
    count: int,
    first: Record | None,
    last: Record | None,
    walk: Callable[[], VerifyReport],
) -> Fault | None:
    """Why a writer must not continue this chain: the first bad record verify names, or None.

    Checks the chain's shape cheaply: ``count`` stored records, from ``first``
    to ``last``, must be exactly ``base_seq + 1 .. head_seq``, the first must
    link to the anchor, and the last must be intact and be the recorded head.
    Only when that fails is the chain walked (``walk``), so the fault named
    is the one verification reports. A record changed in the middle keeps
    the shape: finding it is verification's job, not opening's.
    """
    if count == 0 or first is None or last is None:
        if count == 0 and state.head_seq == state.base_seq:
            return None
    elif (
        first.seq == state.base_seq + 1
        and last.seq == state.head_seq
        and count == state.head_seq - state.base_seq
        and first.prev_hash == state.base_hash
        and last.hash == state.head_hash
        and _intact(last)
    ):
        return None
    fault = walk().fault
    if fault is not None:
        return fault
    return Fault(  # pragma: no cover - the walk finds whatever the shape check found
        state.head_seq,
        FaultKind.HEAD_MISMATCH,
        "the stored records do not end at the recorded head",
    )


def _intact(record: Record) -> bool:
    try:
        actual = compute_hash(
            record.seq,
            record.epoch,
            record.timestamp,
            record.kind,
            record.payload,
            record.prev_hash,
        )
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        return False
    return actual == record.hash


def _walk(walker: ChainWalker, iterator: Iterator[Record]) -> Fault | None:
    feed = walker.feed
    for record in iterator:
        fault = feed(record)
        if fault is None:
            continue
        if fault.kind is FaultKind.GAP and _turns_up(fault.seq, iterator):
            # The missing record turns up later: it was moved, not lost.
            return Fault(fault.seq, FaultKind.REORDERED, f"{fault.detail} (seq {fault.seq} later)")
        return fault
    return walker.finish()


def _turns_up(seq: int, iterator: Iterator[Record]) -> bool:
    try:
        return any(r.seq == seq for r in iterator)
    except ReadFailed:
        return False
