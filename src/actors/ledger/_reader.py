"""Blocking, read-only access to a ledger: for tools, the CLI and tests.

:class:`LedgerReader` opens a file (or a snapshot of a store) without writing
to it, so it can inspect a ledger that a running node is appending to.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, TypeVar

from ._chain import VerifyReport, verify_store
from ._replay import Reducers, ReplayResult, replay_epoch_store, replay_store, summary_reducers
from ._sqlite import SQLiteStore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import TracebackType

    from ._record import Checkpoint, Record
    from ._store import Store, StoreState

__all__ = ["LedgerReader"]

T = TypeVar("T")


class LedgerReader:
    """Read-only view of a ledger; a blocking context manager.

    ``target`` is a path or a store (read through :meth:`Store.reader`).
    Raises :class:`~actors.ledger.LedgerNotFound` if the path does not exist
    and :class:`~actors.ledger.NotALedger` if it is not a ledger.
    """

    def __init__(self, target: str | os.PathLike[str] | Store) -> None:
        if isinstance(target, str | os.PathLike):
            self._store: Store = SQLiteStore(target)
        else:
            self._store = target.reader()
        self._state: StoreState | None = None

    def __enter__(self) -> LedgerReader:
        self._state = self._store.open(readonly=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._store.close()

    @property
    def location(self) -> str:
        """Where the records live."""
        return self._store.location

    def state(self) -> StoreState:
        """The base anchor and head as committed now."""
        return self._store.state()

    def verify(self) -> VerifyReport:
        """Walk the whole chain; the report names the first bad record, if any."""
        return verify_store(self._store)

    def replay(
        self,
        reducers: Reducers[T] | None = None,
        *,
        from_checkpoint: bool = True,
        upto: int | None = None,
    ) -> ReplayResult[T]:
        """Rebuild state (see :meth:`actors.ledger.Ledger.replay`)."""
        chosen: Reducers[Any] = reducers if reducers is not None else summary_reducers()
        return replay_store(self._store, chosen, from_checkpoint=from_checkpoint, upto=upto)

    def replay_epoch(self, epoch: int, reducers: Reducers[T] | None = None) -> ReplayResult[T]:
        """Fold the records of one epoch (see :meth:`actors.ledger.Ledger.replay_epoch`)."""
        chosen: Reducers[Any] = reducers if reducers is not None else summary_reducers()
        return replay_epoch_store(self._store, chosen, epoch)

    def records(
        self, after: int = 0, upto: int | None = None, *, kind_prefix: str | None = None
    ) -> Iterator[Record]:
        """The stored records with ``after < seq <= upto``, unvalidated.

        ``kind_prefix``: only those whose kind starts with it.
        """
        return self._store.records(after, upto, kind_prefix=kind_prefix)

    def tail(self, count: int = 10) -> list[Record]:
        """The last ``count`` records, oldest first."""
        return self._store.tail(count)

    def checkpoints(self) -> list[Checkpoint]:
        """The stored checkpoints."""
        return self._store.checkpoints()
