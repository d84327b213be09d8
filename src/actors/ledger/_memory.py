"""The in-memory store: a list of records, for tests and ephemeral runs.

Nothing survives the process. The store object itself outlives the ledgers
opened on it, so "reopening" (a new :class:`~actors.ledger.Ledger` over the
same store) behaves as it would on disk.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from ._chain import Fault, FaultKind, VerifyReport, open_fault, verify_records
from ._errors import CheckpointNotFound, LedgerConflict, LedgerCorrupted
from ._record import GENESIS_HASH
from ._store import Durability, StoreState

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from ._record import Checkpoint, Record

__all__ = ["MemoryStore"]


class MemoryStore:
    """Records in a Python list; never blocks."""

    def __init__(self) -> None:
        self.stored: list[Record] = []
        """The stored records in storage order. Changing them is tampering:
        tests do it to check that verification notices."""
        self._checkpoints: dict[tuple[int, str], Checkpoint] = {}
        self._base_seq = 0
        self._base_hash = GENESIS_HASH
        self._head: Record | None = None  # the last committed record, if any since the base
        self._clean = True
        self._writer_open = False
        self._view: MemoryStore | None = None  # what reads see inside snapshot()

    @property
    def blocking(self) -> bool:
        return False

    @property
    def location(self) -> str:
        return f"memory:{id(self):#x}"

    def open(self, *, readonly: bool = False, durability: Durability = "group") -> StoreState:
        state = self.state()
        if not readonly:
            fault = self._open_fault(state)
            if fault is not None:
                raise LedgerCorrupted(self.location, fault)
            if self._writer_open:
                raise LedgerConflict(f"ledger {self.location} is already open for writing")
            self._writer_open = True
            self._clean = False
        return state

    def _open_fault(self, state: StoreState) -> Fault | None:
        stored = self.stored

        def walk() -> VerifyReport:
            return verify_records(
                self._records(state.base_seq, None),
                base_seq=state.base_seq,
                base_hash=state.base_hash,
                head_seq=state.head_seq,
                head_hash=state.head_hash,
                checkpoints=self.checkpoints(),
            )

        first, last = (stored[0], stored[-1]) if stored else (None, None)
        return open_fault(state, len(stored), first, last, walk)

    def close(self) -> None:
        if self._writer_open:
            self._writer_open = False
            self._clean = True

    def state(self) -> StoreState:
        if self._view is not None:
            return self._view.state()
        head = self._head
        if head is None:
            return StoreState(
                base_seq=self._base_seq,
                base_hash=self._base_hash,
                head_seq=self._base_seq,
                head_hash=self._base_hash,
                head_epoch=self._base_epoch(),
                clean=self._clean,
            )
        return StoreState(
            base_seq=self._base_seq,
            base_hash=self._base_hash,
            head_seq=head.seq,
            head_hash=head.hash,
            head_epoch=head.epoch,
            clean=self._clean,
        )

    def _base_epoch(self) -> int:
        anchors = [cp.epoch for (seq, _), cp in self._checkpoints.items() if seq == self._base_seq]
        return anchors[0] if anchors else 0

    def append(self, records: Sequence[Record], expect_head: int) -> None:
        head = self._head
        head_seq = self._base_seq if head is None else head.seq
        if head_seq != expect_head:
            raise LedgerConflict(
                f"ledger {self.location}: head is seq {head_seq}, "
                f"this writer expected seq {expect_head}"
            )
        if records:
            self.stored.extend(records)
            self._head = records[-1]

    def try_append(self, records: Sequence[Record], expect_head: int) -> bool:
        self.append(records, expect_head)
        return True

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside the block see the store as it was when it began."""
        if self._view is not None:
            yield
            return
        self._view = self.reader()
        try:
            yield
        finally:
            self._view = None

    def records(
        self, after: int = 0, upto: int | None = None, *, kind_prefix: str | None = None
    ) -> Iterator[Record]:
        found = (
            self._view.records(after, upto)
            if self._view is not None
            else self._records(after, upto)
        )
        if kind_prefix is None:
            return found
        return (record for record in found if record.kind.startswith(kind_prefix))

    def _records(self, after: int, upto: int | None) -> Iterator[Record]:
        start = max(after - self._base_seq, 0)
        stored = self.stored
        if upto is None:
            yield from stored[start:]
            return
        for record in stored[start:]:
            if record.seq > upto:
                return
            yield record

    def tail(self, count: int) -> list[Record]:
        if self._view is not None:
            return self._view.tail(count)
        return list(self.stored[-count:]) if count > 0 else []

    def checkpoints(self) -> list[Checkpoint]:
        if self._view is not None:
            return self._view.checkpoints()
        return [self._checkpoints[key] for key in sorted(self._checkpoints)]

    def put_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._checkpoints[checkpoint.seq, checkpoint.reducers] = checkpoint

    def prune(self, upto: int) -> int:
        base_seq = self._base_seq
        if upto <= base_seq:
            return 0
        anchors = [cp for (seq, _), cp in self._checkpoints.items() if seq == upto]
        if not anchors:
            raise CheckpointNotFound(upto)
        count = upto - base_seq
        last = self.stored[count - 1] if count <= len(self.stored) else None
        if last is None or last.seq != upto or last.hash != anchors[0].hash:
            raise LedgerCorrupted(
                self.location,
                Fault(upto, FaultKind.CHECKPOINT_MISMATCH, "checkpoint does not match the chain"),
            )
        del self.stored[:count]
        self._checkpoints = {key: cp for key, cp in self._checkpoints.items() if key[0] >= upto}
        self._base_seq, self._base_hash = upto, anchors[0].hash
        if self._head is not None and self._head.seq <= upto:
            self._head = None
        return count

    def sync(self) -> None:
        return None

    def maintain(self) -> None:
        return None

    def reader(self) -> MemoryStore:
        """A snapshot: later appends do not show in it."""
        snapshot = MemoryStore()
        snapshot.stored = list(self.stored)
        snapshot._checkpoints = dict(self._checkpoints)
        snapshot._base_seq, snapshot._base_hash = self._base_seq, self._base_hash
        snapshot._head, snapshot._clean = self._head, self._clean
        return snapshot

    def __repr__(self) -> str:
        state = self.state()
        return f"MemoryStore(base_seq={state.base_seq}, head_seq={state.head_seq})"
