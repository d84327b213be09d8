"""The ledger: an async, hash-chained, append-only log with group commit.

:class:`Ledger` is an async context manager. Entering it opens the store (on
its writer thread, for a file, with a second thread for fsyncs and the store's
housekeeping); leaving it commits what was appended, records a clean shutdown
and stops both threads. Nothing it starts outlives it.

Appending chains the record at once, on the event loop: its sequence number,
timestamp (from the injected :class:`~actors.Clock`) and hash are final when
``append_nowait`` returns. The :class:`~actors.ledger._commit.Committer` then
group-commits it off the loop. Checkpoints, verification and replay read
through their own connections on worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from hashlib import sha256
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import msgspec
import structlog

from .. import Clock, LoopClock
from ._commit import Committer
from ._errors import (
    CheckpointNotFound,
    EpochError,
    InvalidPayload,
    LedgerClosed,
    LedgerFull,
    LedgerWriteError,
)
from ._housekeeping import Housekeeping
from ._memory import MemoryStore
from ._reader import LedgerReader
from ._record import (
    GENESIS_HASH,
    Checkpoint,
    Record,
    canonical_encode,
    digest_of,
    encode_payload,
)
from ._replay import Reducers, ReplayResult, summary_reducers
from ._sqlite import SQLiteStore
from ._writer import WriterThread

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable
    from types import TracebackType

    from .. import Maintenance
    from ._chain import VerifyReport
    from ._store import Durability, Store

__all__ = ["Ledger", "LedgerStatistics", "open_ledger"]

logger = structlog.get_logger(__name__)

T = TypeVar("T")

_NEW, _OPEN, _CLOSING, _CLOSED = "new", "open", "closing", "closed"


class LedgerStatistics(msgspec.Struct, frozen=True):
    """A snapshot of a ledger's counters."""

    head_seq: int
    """The last sequence number handed out (appended, maybe not yet committed)."""
    committed_seq: int
    """The last record committed to the store."""
    durable_seq: int
    """The last record known to be on stable storage (fsynced)."""
    base_seq: int
    """Records up to here were pruned."""
    epoch: int
    """The epoch new records get."""
    pending: int
    """Records waiting for the writer."""
    in_flight: int
    """Records in the batch being committed."""
    batches: int
    """Batches committed since the ledger was opened."""
    records_committed: int
    """Records committed since the ledger was opened."""
    largest_batch: int
    """The largest batch committed since the ledger was opened."""
    syncs: int
    """Explicit fsyncs in ``group`` durability."""


class Ledger:
    """A hash-chained ledger over a store; use ``async with``.

    ``target`` is a path (a SQLite file, created if absent), a
    :class:`~actors.ledger.Store`, or ``None`` for a fresh in-memory store.

    ``durability`` (file stores only): ``"always"`` makes :meth:`append`
    return once its batch is fsynced; ``"group"`` once it is committed, which
    survives the process being killed, with an fsync at most
    ``sync_interval`` seconds later (the power-loss window).

    ``epoch`` is the epoch new records get: by default the epoch of the last
    record (0 for a new ledger); it may not be lower than that.

    ``keep_records``: when set, each checkpoint prunes the records before the
    newest checkpoint that leaves at least this many records behind the head.

    ``max_pending``: how many records may wait for the writer before
    :meth:`append_nowait` raises :class:`~actors.ledger.LedgerFull` (and
    :meth:`append` waits).

    ``inline_batch`` (``group`` durability): a batch of at most this many
    records, due while the writer thread is idle, is committed on the event
    loop when the store can do so at once (:meth:`~actors.ledger.Store.try_append`),
    saving the two thread hand-offs that cost more than such a commit; ``0``
    sends every batch to the writer thread.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | Store | None = None,
        *,
        durability: Durability = "group",
        clock: Clock | None = None,
        reducers: Reducers[Any] | None = None,  # Any: whatever state these reducers build
        epoch: int | None = None,
        sync_interval: float = 0.05,
        keep_records: int | None = None,
        max_pending: int = 1_000_000,
        inline_batch: int = 8,
    ) -> None:
        if durability not in ("always", "group"):
            raise ValueError(f"durability must be 'always' or 'group', not {durability!r}")
        if sync_interval <= 0:
            raise ValueError(f"sync_interval must be positive, not {sync_interval!r}")
        if keep_records is not None and keep_records < 0:
            raise ValueError(f"keep_records must be >= 0, not {keep_records!r}")
        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, not {max_pending!r}")
        if inline_batch < 0:
            raise ValueError(f"inline_batch must be >= 0, not {inline_batch!r}")
        store: Store
        if target is None:
            store = MemoryStore()
        elif isinstance(target, str | os.PathLike):
            store = SQLiteStore(target)
        else:
            store = target
        self._store = store
        self._durability: Durability = durability
        self._clock: Clock = clock if clock is not None else LoopClock()
        self._wall = self._clock.wall
        self._reducers = reducers
        self._requested_epoch = epoch
        self._sync_interval = sync_interval
        self._keep_records = keep_records
        self._max_pending = max_pending
        self._inline_batch = inline_batch
        self._maintenance: Maintenance | None = None

        self._state = _NEW
        self._closed = asyncio.Event()
        self._writer: WriterThread | None = None
        self._background: Housekeeping | None = None  # fsyncs and store housekeeping
        self._committer: Committer | None = None
        # The chain as handed out: the next record links to these.
        self._seq = 0
        self._prev = GENESIS_HASH
        self._epoch = 0
        self._base_seq = 0
        self._checkpoints: list[Checkpoint] = []

    # -- lifetime ------------------------------------------------------------------

    async def __aenter__(self) -> Ledger:
        if self._state is not _NEW:
            raise LedgerClosed(f"ledger {self.location} was already opened once")
        self._state = _OPEN
        store, durability = self._store, self._durability
        opened = False
        try:
            if store.blocking:
                self._writer = WriterThread(f"ledger-writer {store.location}")
                self._writer.start()
                self._background = Housekeeping(f"ledger-sync {store.location}")
                if self._maintenance is not None:
                    self._background.use(self._maintenance)
            # One path for every store: on the writer thread if it blocks, else here.
            state = await self._write(lambda: store.open(durability=durability))
            opened = True
            checkpoints = await self._write(store.checkpoints)
            epoch = state.head_epoch if self._requested_epoch is None else self._requested_epoch
            if epoch < state.head_epoch:
                raise EpochError(
                    f"epoch {epoch} is lower than the last record's epoch {state.head_epoch}"
                )
        except BaseException:
            # A file store closes itself only if it opened; a store that
            # refused (already open elsewhere) must not be closed by us.
            with anyio.CancelScope(shield=True):
                await self._release(close_store=store.blocking or opened)
            raise
        self._committer = Committer(
            store,
            self._writer,
            state,
            background=self._background,
            durability=durability,
            clock=self._clock,
            sync_interval=self._sync_interval,
            inline=self._inline_batch,
        )
        self._seq, self._prev, self._epoch = state.head_seq, state.head_hash, epoch
        self._base_seq = state.base_seq
        self._checkpoints = list(checkpoints)
        if not state.clean:
            logger.warning(
                "ledger_unclean_shutdown_detected",
                ledger=store.location,
                head_seq=state.head_seq,
            )
        logger.info(
            "ledger_opened",
            ledger=store.location,
            durability=durability,
            head_seq=state.head_seq,
            base_seq=state.base_seq,
            epoch=epoch,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Commit what was appended, record a clean shutdown and stop the writer."""
        if self._state is _NEW:
            self._state = _CLOSED
            return
        if self._state is _CLOSED:
            return
        if self._state is _CLOSING:
            await self._closed.wait()
            return
        self._state = _CLOSING
        committer = self._committer
        assert committer is not None
        with anyio.CancelScope(shield=True):
            try:
                # A failed write was logged when it happened, and every waiter got it.
                with contextlib.suppress(LedgerWriteError):
                    await committer.wait()
            finally:
                committer.close()
                await self._release(close_store=True)
        committer.closed_cleanly()
        logger.info(
            "ledger_closed",
            ledger=self._store.location,
            head_seq=committer.committed_seq,
            failed=committer.failure is not None,
        )

    async def _release(self, *, close_store: bool) -> None:
        store, writer, background = self._store, self._writer, self._background
        try:
            if background is not None:
                await background.stop()  # the store closes only once nothing else uses it
            if close_store:
                if writer is not None:
                    try:
                        await writer.submit(store.close)
                    except Exception as exc:
                        logger.error("ledger_close_failed", ledger=store.location, error=repr(exc))
                else:
                    store.close()
        finally:
            if background is not None:
                await background.stop()
            if writer is not None:
                await writer.stop()
            self._state = _CLOSED
            self._closed.set()

    def use_maintenance(self, maintenance: Maintenance) -> None:
        """Run fsyncs and store housekeeping on a lane of ``maintenance``'s pool.

        An :class:`~actors.ActorSystem` given this ledger calls it when it
        starts: the ledger then starts no thread of its own for them. When the
        system's maintenance closes, the lane's last jobs finish and the
        ledger goes back to a thread of its own (started on first use), so a
        ledger that outlives its system keeps working. Call it on the event
        loop; before opening the ledger is fine.
        """
        self._maintenance = maintenance
        if self._background is not None and self._state is _OPEN:
            self._background.use(maintenance)

    # -- appending -----------------------------------------------------------------

    def append_nowait(self, kind: str, payload: object) -> Record:
        """Chain a record and queue it for the writer; never waits.

        Returns the record (its ``seq`` and ``hash`` are final). It is
        committed with the next batch; :meth:`flush` waits for that. Raises
        :class:`~actors.ledger.LedgerFull` when ``max_pending`` records are
        already waiting.
        """
        committer = self._committer
        if self._state is not _OPEN or committer is None or committer.failure is not None:
            committer = self._appendable()
        if len(committer.pending) >= self._max_pending:
            raise LedgerFull(self._store.location, len(committer.pending))
        record = self._chain(kind, payload)
        committer.add((record,))
        return record

    def append_deferred(self, kind: str, payload: object) -> Record:
        """Like :meth:`append_nowait`, but the record costs no commit of its own.

        It joins the next batch that is committed for another reason (an
        awaited append, :meth:`flush`), or is committed ``sync_interval``
        seconds later at the latest: for records whose loss in a crash is
        harmless and which nobody waits for, such as a ticket's claim.
        """
        committer = self._committer
        if self._state is not _OPEN or committer is None or committer.failure is not None:
            committer = self._appendable()
        if len(committer.pending) >= self._max_pending:
            raise LedgerFull(self._store.location, len(committer.pending))
        record = self._chain(kind, payload)
        committer.defer((record,))
        return record

    def append(self, kind: str, payload: object) -> Awaitable[Record]:
        """Append a record; awaiting the result waits until it is committed.

        ``await ledger.append(kind, payload)`` returns the record once its
        batch is committed (and fsynced under ``always``). A plain method
        returning an awaitable, not a coroutine function: the record is chained
        and queued by the call itself, and a closed ledger or a bad payload
        raises from the call. Cancelling the wait does not withdraw the record.
        """
        committer = self._committer
        if self._state is not _OPEN or committer is None or committer.failure is not None:
            committer = self._appendable()
        if len(committer.pending) >= self._max_pending:
            return self._append_later(kind, payload)
        # One future per append, no coroutine: under load a thousand appenders
        # wait at once, and each suspended coroutine would cost its wake-up and
        # a walk by every young garbage collection.
        return committer.add_one(self._chain(kind, payload))

    async def _append_later(self, kind: str, payload: object) -> Record:
        """:meth:`append` when ``max_pending`` records wait: wait for room first."""
        committer = self._appendable()
        while len(committer.pending) >= self._max_pending:
            await committer.wait()
            committer = self._appendable()
        return await committer.add_one(self._chain(kind, payload))

    async def extend(self, entries: Iterable[tuple[str, object]]) -> list[Record]:
        """Append several records atomically: one transaction, all or none.

        Every payload is encoded before any record is chained, so a bad one
        raises :class:`~actors.ledger.InvalidPayload` with nothing appended.
        """
        committer = self._appendable()
        encoded: list[tuple[str, bytes]] = []
        for index, (kind, payload) in enumerate(entries):
            _check_kind(kind)
            try:
                encoded.append((kind, encode_payload(payload)))
            except InvalidPayload as exc:
                raise InvalidPayload(f"entry {index}: {exc}") from None
        if not encoded:
            return []
        records = [self._chain(kind, None, data) for kind, data in encoded]
        committer.add(records)  # a batch is never split: one transaction
        await committer.wait()
        return records

    def _appendable(self) -> Committer:
        committer = self._committer
        if self._state is not _OPEN or committer is None:
            raise LedgerClosed(f"ledger {self._store.location} is {self._state}")
        if committer.failure is not None:
            raise LedgerWriteError(
                f"ledger {self._store.location} stopped after a failed write; reopen it"
            ) from committer.failure
        return committer

    def _chain(self, kind: str, payload: object, data: bytes | None = None) -> Record:
        """Encode (unless ``data`` is given), hash and link the next record.

        The one place a record joins the chain: the hot path of every append,
        and :meth:`extend`'s, whose payloads are encoded before any is linked.
        """
        if data is None:
            if type(kind) is not str or not kind:
                _check_kind(kind)
            try:
                data = canonical_encode(payload)
            except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
                data = encode_payload(payload)  # raises InvalidPayload with the reason
        seq = self._seq + 1
        prev = self._prev
        epoch = self._epoch
        timestamp = self._wall()
        digest = sha256(canonical_encode((seq, epoch, timestamp, kind, data, prev))).digest()
        self._seq = seq
        self._prev = digest
        return Record(seq, epoch, timestamp, kind, data, prev, digest)

    # -- durability ----------------------------------------------------------------

    async def flush(self) -> int:
        """Wait until everything appended so far is committed; return the committed seq."""
        committer = self._committer
        if self._state is _NEW or self._state is _CLOSED or committer is None:
            raise LedgerClosed(f"ledger {self._store.location} is {self._state}")
        await committer.wait()
        return committer.committed_seq

    async def sync(self) -> int:
        """Commit everything appended so far and fsync it; return the durable seq."""
        await self.flush()
        committer = self._committer
        assert committer is not None
        await committer.sync()
        return committer.durable_seq

    # -- epochs --------------------------------------------------------------------

    def start_epoch(self, epoch: int | None = None) -> int:
        """Give the following records a new epoch (the next one by default); return it."""
        new = self._epoch + 1 if epoch is None else epoch
        if new < self._epoch:
            raise EpochError(f"epoch {new} is lower than the current epoch {self._epoch}")
        self._epoch = new
        logger.info("epoch_started", ledger=self._store.location, epoch=new, seq=self._seq + 1)
        return new

    # -- checkpoints and retention -----------------------------------------------------

    async def checkpoint(self, reducers: Reducers[Any] | None = None) -> Checkpoint:
        """Reduce the committed records into a checkpoint at the committed head.

        Uses ``reducers``, else the ledger's, else :func:`summary_reducers`.
        Applies ``keep_records`` retention afterwards.
        """
        committer = self._appendable()
        reducers = self._pick(reducers)
        await committer.wait()
        seq, chain_hash = committer.committed_seq, committer.committed_hash
        epoch = committer.committed_epoch
        existing = [
            cp for cp in self._checkpoints if cp.seq == seq and cp.reducers == reducers.name
        ]
        if existing:
            return existing[0]
        chosen = reducers
        result = await self._read(lambda reader: reader.replay(chosen, upto=seq), flush=False)
        checkpoint = Checkpoint(
            seq=seq,
            hash=chain_hash,
            epoch=epoch,
            timestamp=self._clock.wall(),
            reducers=reducers.name,
            state=result.encoded,
            digest=digest_of(result.encoded),
        )
        store = self._store
        await self._write(lambda: store.put_checkpoint(checkpoint))
        self._checkpoints = sorted(
            [*self._checkpoints, checkpoint], key=lambda cp: (cp.seq, cp.reducers)
        )
        logger.info(
            "checkpoint_written",
            ledger=store.location,
            seq=seq,
            reducers=reducers.name,
            digest=result.digest,
        )
        if self._keep_records is not None:
            await self._retain(self._keep_records)
        return checkpoint

    async def prune(self, upto: int | None = None) -> int:
        """Delete the records up to a checkpoint (the latest by default); return how many.

        Verification afterwards anchors on that checkpoint's hash.
        """
        committer = self._appendable()
        await committer.wait()
        seqs = {cp.seq for cp in self._checkpoints}
        if upto is None:
            if not seqs:
                raise CheckpointNotFound(committer.committed_seq)
            upto = max(seqs)
        elif upto not in seqs and upto > self._base_seq:
            raise CheckpointNotFound(upto)
        if upto <= self._base_seq:
            return 0
        store = self._store
        target = upto
        removed = await self._write(lambda: store.prune(target))
        self._base_seq = upto
        self._checkpoints = [cp for cp in self._checkpoints if cp.seq >= upto]
        logger.info("records_pruned", ledger=store.location, upto=upto, records=removed)
        return removed

    async def _retain(self, keep: int) -> None:
        limit = self.committed_seq - keep
        candidates = [cp.seq for cp in self._checkpoints if self._base_seq < cp.seq <= limit]
        if candidates:
            await self.prune(max(candidates))

    @property
    def checkpoints(self) -> tuple[Checkpoint, ...]:
        """The stored checkpoints, by sequence number."""
        return tuple(self._checkpoints)

    # -- reading, verification, replay ---------------------------------------------------

    async def verify(self) -> VerifyReport:
        """Walk the committed chain; the report names the first bad record, if any."""
        report = await self._read(LedgerReader.verify)
        if report.fault is not None:
            logger.warning(
                "ledger_fault_found",
                ledger=self._store.location,
                seq=report.fault.seq,
                fault=report.fault.kind.value,
            )
        return report

    async def replay(
        self,
        reducers: Reducers[T] | None = None,
        *,
        from_checkpoint: bool = True,
        upto: int | None = None,
    ) -> ReplayResult[T]:
        """Rebuild state from the latest checkpoint of ``reducers`` (or the beginning).

        Raises :class:`LedgerCorrupted` on a bad record and :class:`ReplayError`
        when a reducer fails or the needed history was pruned.
        """
        chosen: Reducers[T] = self._pick(reducers)
        return await self._read(
            lambda reader: reader.replay(chosen, from_checkpoint=from_checkpoint, upto=upto)
        )

    async def replay_epoch(
        self, epoch: int, reducers: Reducers[T] | None = None
    ) -> ReplayResult[T]:
        """Fold only the records of ``epoch`` into the initial state."""
        chosen: Reducers[T] = self._pick(reducers)
        return await self._read(lambda reader: reader.replay_epoch(epoch, chosen))

    async def records(
        self, after: int = 0, upto: int | None = None, *, kind_prefix: str | None = None
    ) -> list[Record]:
        """The committed records with ``after < seq <= upto``.

        ``kind_prefix``: only those whose kind starts with it, filtered by the store.
        """
        return await self._read(
            lambda reader: list(reader.records(after, upto, kind_prefix=kind_prefix))
        )

    async def tail(self, count: int = 10) -> list[Record]:
        """The last ``count`` committed records, oldest first."""
        return await self._read(lambda reader: reader.tail(count))

    def _pick(self, reducers: Reducers[Any] | None) -> Reducers[Any]:
        if reducers is not None:
            return reducers
        if self._reducers is not None:
            return self._reducers
        return summary_reducers()

    async def _read(self, call: Callable[[LedgerReader], T], *, flush: bool = True) -> T:
        """The one read path: a :class:`LedgerReader` of the store, on a worker thread.

        With ``flush`` (every public read), the ledger must be open and what
        was appended is committed first, so the read sees it.
        """
        if flush:
            if self._state is not _OPEN:
                raise LedgerClosed(f"ledger {self._store.location} is {self._state}")
            await self.flush()
        reader = LedgerReader(self._store)

        def run() -> T:
            with reader:
                return call(reader)

        return await anyio.to_thread.run_sync(run)

    async def _write(self, call: Callable[[], T]) -> T:
        if self._writer is None:
            return call()
        return await self._writer.submit(call)

    # -- introspection ---------------------------------------------------------------

    @property
    def location(self) -> str:
        """Where the records live (a path, or ``memory:...``)."""
        return self._store.location

    @property
    def store(self) -> Store:
        """The backend."""
        return self._store

    @property
    def durability(self) -> Durability:
        """``"always"`` or ``"group"``."""
        return self._durability

    @property
    def epoch(self) -> int:
        """The epoch new records get."""
        return self._epoch

    @property
    def head_seq(self) -> int:
        """The last sequence number handed out."""
        return self._seq

    @property
    def head_hash(self) -> bytes:
        """The chain hash of the last record handed out."""
        return self._prev

    @property
    def committed_seq(self) -> int:
        """The last record committed to the store."""
        return self._seq if self._committer is None else self._committer.committed_seq

    @property
    def durable_seq(self) -> int:
        """The last record known to be fsynced."""
        return self._seq if self._committer is None else self._committer.durable_seq

    def statistics(self) -> LedgerStatistics:
        """A snapshot of the counters."""
        committer = self._committer
        if committer is None:
            return LedgerStatistics(
                self._seq, self._seq, self._seq, self._base_seq, self._epoch, 0, 0, 0, 0, 0, 0
            )
        return LedgerStatistics(
            head_seq=self._seq,
            committed_seq=committer.committed_seq,
            durable_seq=committer.durable_seq,
            base_seq=self._base_seq,
            epoch=self._epoch,
            pending=len(committer.pending),
            in_flight=committer.in_flight,
            batches=committer.batches,
            records_committed=committer.records_committed,
            largest_batch=committer.largest_batch,
            syncs=committer.syncs,
        )

    def __repr__(self) -> str:
        return (
            f"Ledger({self._store.location!r}, durability={self._durability!r}, "
            f"head_seq={self._seq}, state={self._state!r})"
        )


open_ledger = Ledger
"""A :class:`Ledger` to enter with ``async with``: the class itself, by its verb name."""


def _check_kind(kind: object) -> None:
    if type(kind) is not str or not kind:
        raise InvalidPayload(f"a record kind must be a non-empty string, not {kind!r}")
