"""The storage seam: what the ledger needs of a backend.

A store is synchronous. The in-memory store never blocks, so the ledger calls
it on the event loop; a blocking store (SQLite) is driven from the ledger's
writer thread for writes and from worker threads, through :meth:`Store.reader`
handles, for reads. One store object is used by one thread at a time, with one
exception: a blocking store's :meth:`Store.sync` and :meth:`Store.maintain`
run on the ledger's background thread, concurrently with ``append`` on the
writer thread, so that an fsync or housekeeping never holds up a commit.

Every ``append`` commits as one unit together with the new head, so a store
always knows the head it last committed: that is how verification tells a
ledger whose last records were cut off from a shorter one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

import msgspec

from ._record import GENESIS_HASH, Checkpoint, Record

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from contextlib import AbstractContextManager

__all__ = ["Durability", "Store", "StoreState"]

Durability = Literal["always", "group"]
"""``always``: an append returns once its batch is on stable storage (fsync).
``group``: once its batch is committed (it survives the process being
killed); the store is fsynced within ``sync_interval`` after that."""


class StoreState(msgspec.Struct, frozen=True):
    """What a store recorded about its chain, read when it is opened."""

    base_seq: int = 0
    """Records up to and including this sequence number were pruned."""
    base_hash: bytes = GENESIS_HASH
    """The chain hash at :attr:`base_seq` (a checkpoint's hash, or genesis)."""
    head_seq: int = 0
    """The last committed record."""
    head_hash: bytes = GENESIS_HASH
    """The chain hash at :attr:`head_seq`."""
    head_epoch: int = 0
    """The epoch of the last committed record (0 when empty)."""
    clean: bool = True
    """Whether the last writer closed the store cleanly."""


class Store(Protocol):
    """A backend holding records, checkpoints and the recorded head."""

    @property
    def blocking(self) -> bool:
        """Whether calls do disk I/O (and so must stay off the event loop)."""
        ...

    @property
    def location(self) -> str:
        """Where the records live, for messages and logs."""
        ...

    def open(self, *, readonly: bool = False, durability: Durability = "group") -> StoreState:
        """Open (creating the ledger if writable and absent) and return its state."""
        ...

    def close(self) -> None:
        """Close; a writable store records a clean shutdown."""
        ...

    def state(self) -> StoreState:
        """The state as committed now."""
        ...

    def append(self, records: Sequence[Record], expect_head: int) -> None:
        """Commit ``records`` and the new head in one unit.

        Raises :class:`~actors.ledger.LedgerConflict` (writing nothing) if the
        committed head is not ``expect_head``.
        """
        ...

    def try_append(self, records: Sequence[Record], expect_head: int) -> bool:
        """Do :meth:`append` now if it cannot wait (for a lock, or for housekeeping).

        Returns ``False``, having done nothing, when the append might have to
        wait. The ledger calls it on the event loop for a small batch while
        its writer thread is idle; a store that always blocks returns
        ``False``.
        """
        ...

    def snapshot(self) -> AbstractContextManager[None]:
        """A block within which every read sees one and the same committed state.

        Verification and replay read the head, the checkpoints and the
        records inside one snapshot, so appends committed meanwhile can never
        make a healthy chain look broken. Re-entrant.
        """
        ...

    def records(
        self, after: int = 0, upto: int | None = None, *, kind_prefix: str | None = None
    ) -> Iterator[Record]:
        """Records with ``after < seq <= upto``, in chain order, unvalidated.

        ``kind_prefix``: only the records whose kind starts with it (``"roles."``),
        chosen by the store, so a reader interested in a few kinds does not
        decode every record. A filtered read cannot be chain-verified.
        """
        ...

    def tail(self, count: int) -> list[Record]:
        """The last ``count`` records, oldest first."""
        ...

    def checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint, by sequence number."""
        ...

    def put_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store a checkpoint (replacing one of the same reducers at the same seq)."""
        ...

    def prune(self, upto: int) -> int:
        """Delete records up to ``upto`` and older checkpoints; anchor on the one at ``upto``."""
        ...

    def sync(self) -> None:
        """Make everything committed durable (fsync).

        Safe to call from a second thread while ``append`` runs: records whose
        commit finished before the call are durable when it returns.
        """
        ...

    def maintain(self) -> None:
        """Housekeeping that keeps commits cheap; safe alongside ``append`` like :meth:`sync`.

        The ledger calls it on its background thread at most every
        ``sync_interval`` while records are being committed. The SQLite store
        copies its write-ahead log back into the database file here.
        """
        ...

    def reader(self) -> Store:
        """An independent handle for reading from another thread; open it there."""
        ...
