"""Group commit: chained records on their way to the store, and who waits for them.

A :class:`Committer` collects records in a pending list on the event loop.
At the next turn of the loop the whole list goes to the writer thread as one
batch, committed in one transaction. While that batch commits, new records
gather into the next one, so the batch size follows the load: one record when
idle, as many as there are appenders under load. A batch is never split.

One batch at a time: overlapping the event loop with a second batch does not
pay under the GIL, since every statement step of the writer thread would
queue behind the busy loop thread for the interpreter's switch interval.

A commit to a blocking store is followed, ``sync_interval`` seconds later on
the injected clock, by a tick of the ledger's housekeeping (a lane of the
system's maintenance pool, or the ledger's own thread: see
:mod:`._housekeeping`): an fsync of the store under ``group`` durability,
then the store's housekeeping (:meth:`~actors.ledger.Store.maintain`).
Neither waits in the writer's queue, so a commit never queues behind an
fsync. A store that never blocks (in memory) is written at once, on the loop.

A failed write stops the committer: the failed records already had sequence
numbers and hashes, so nothing can follow them. Every waiter gets the error.
"""

from __future__ import annotations

import asyncio
import collections
from typing import TYPE_CHECKING, Any

import structlog

from ._errors import LedgerWriteError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .. import Cancellable, Clock
    from ._housekeeping import Housekeeping
    from ._record import Record
    from ._store import Durability, Store, StoreState
    from ._writer import WriterThread

__all__ = ["Committer"]

logger = structlog.get_logger(__name__)

_Future = asyncio.Future


class _Batch:
    """Records committed together, and the appenders waiting for them."""

    __slots__ = ("records", "results", "waiters")

    def __init__(
        self,
        records: list[Record],
        waiters: list[asyncio.Future[Any]],  # Any: a record, or None
        results: list[Record | None],
    ) -> None:
        self.records = records
        # One future per waiter (cancelling one is harmless), and what it resolves
        # to: an appender's record, or None for whoever waits for the whole batch.
        self.waiters = waiters
        self.results = results


class Committer:
    """Moves chained records into a store: batched, in order, off the event loop."""

    def __init__(
        self,
        store: Store,
        writer: WriterThread | None,
        head: StoreState,
        *,
        background: Housekeeping | None,
        durability: Durability,
        clock: Clock,
        sync_interval: float,
        inline: int = 0,
    ) -> None:
        self._store = store
        # Batches of at most this many records may commit on the loop (group only).
        self._inline = inline if durability == "group" else 0
        self._writer = writer
        # Ticks and explicit syncs run here, alongside the writer's commits.
        self._background = background
        self._durability = durability
        self._clock = clock
        self._sync_interval = sync_interval
        self._loop = asyncio.get_running_loop()
        self._create_future = self._loop.create_future
        self.committed_seq = self.durable_seq = head.head_seq
        self.committed_hash = head.head_hash
        self.committed_epoch = head.head_epoch
        self.failure: LedgerWriteError | None = None
        self.pending: list[Record] = []
        self._pending_waiters: list[asyncio.Future[Any]] = []  # Any: a record, or None
        self._pending_results: list[Record | None] = []
        self._inflight: collections.deque[_Batch] = collections.deque()
        self._scheduled = False
        self._tick_handle: Cancellable | None = None
        self._deferred_handle: Cancellable | None = None
        self._open = True
        # Counters.
        self.batches = 0
        self.records_committed = 0
        self.largest_batch = 0
        self.syncs = 0
        self.inline_batches = 0

    @property
    def in_flight(self) -> int:
        """Records in the batch being committed."""
        return sum(len(batch.records) for batch in self._inflight)

    def add(self, records: Sequence[Record]) -> None:
        """Take records (already chained) for the next batch; never waits."""
        if self._writer is None:
            self._commit_now(records)
            return
        self.pending.extend(records)
        if not self._scheduled:
            # Submit at the next turn of the loop, so that every record added
            # in this turn joins the same batch.
            self._scheduled = True
            self._loop.call_soon(self._submit)

    def defer(self, records: Sequence[Record]) -> None:
        """Take records for a later batch: the next one anybody waits for, else a timer's.

        Records nobody waits for need not cost a commit of their own: they ride
        with the next batch that is committed anyway, or at the latest
        ``sync_interval`` seconds later.
        """
        if self._writer is None:
            self._commit_now(records)
            return
        self.pending.extend(records)
        if self._deferred_handle is None and self._open:
            self._deferred_handle = self._clock.call_later(self._sync_interval, self._deferred_due)

    def _deferred_due(self) -> None:
        self._deferred_handle = None
        self._schedule()

    def _schedule(self) -> None:
        if self.pending and not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._submit)

    def add_one(self, record: Record) -> asyncio.Future[Record]:
        """Take one record; the returned future resolves to it once it is committed."""
        # The future type called directly (not loop.create_future, a Python
        # method): this runs once per append.
        waiter: asyncio.Future[Record] = _Future(loop=self._loop)
        if self._writer is None:
            self._commit_now((record,))
            waiter.set_result(record)
            return waiter
        self.pending.append(record)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._submit)
        self._pending_waiters.append(waiter)
        self._pending_results.append(record)
        return waiter

    async def wait(self) -> None:
        """Wait until everything added so far is committed (raises if a write failed)."""
        waiters: list[asyncio.Future[Any]] | None  # Any: a record, or None
        results: list[Record | None] | None
        if self.pending:
            waiters, results = self._pending_waiters, self._pending_results
        elif self._inflight:
            waiters, results = self._inflight[-1].waiters, self._inflight[-1].results
        else:
            waiters = results = None
        if waiters is not None and results is not None:
            self._schedule()  # deferred records may be waiting for a reason to go
            waiter: asyncio.Future[None] = self._create_future()
            waiters.append(waiter)
            results.append(None)
            await waiter
        if self.failure is not None:
            raise LedgerWriteError(
                f"ledger {self._store.location} stopped after a failed write; reopen it"
            ) from self.failure

    async def sync(self) -> None:
        """Make everything committed so far durable now (fsync)."""
        target = self.committed_seq
        if self._writer is None or self.durable_seq >= target:
            return
        assert self._background is not None
        await self._background.submit(self._store.sync)
        self.syncs += 1
        self.durable_seq = max(self.durable_seq, target)

    def close(self) -> None:
        """Stop scheduling ticks; the store's own close makes the rest durable."""
        self._open = False
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
        if self._deferred_handle is not None:
            self._deferred_handle.cancel()
            self._deferred_handle = None

    def closed_cleanly(self) -> None:
        """Called once the store closed: closing synced everything committed."""
        if self.failure is None:
            self.durable_seq = self.committed_seq

    # -- internals ---------------------------------------------------------------------

    def _commit_now(self, records: Sequence[Record]) -> None:
        try:
            self._store.append(records, records[0].seq - 1)
        except Exception as exc:
            raise self._fail(exc, list(records), []) from exc
        self._committed(records)

    def _submit(self) -> None:
        self._scheduled = False
        if not self.pending or self.failure is not None or self._inflight:
            return  # an in-flight batch resubmits when it completes
        writer = self._writer
        assert writer is not None
        records, waiters, results = self.pending, self._pending_waiters, self._pending_results
        self.pending, self._pending_waiters, self._pending_results = [], [], []
        store, expect = self._store, records[0].seq - 1
        if len(records) <= self._inline and not writer.outstanding:
            # A small batch with the writer idle: commit it here if the store can
            # do so at once (no lock to wait for, no log to copy back), which
            # saves the two thread hand-offs that would cost more than the commit.
            try:
                done = store.try_append(records, expect)
            except Exception as exc:
                self._fail(exc, records, waiters)
                return
            if done:
                self.inline_batches += 1
                self._committed(records)
                for waiter, result in zip(waiters, results, strict=True):
                    if not waiter.done():
                        waiter.set_result(result)
                return
        batch = _Batch(records, waiters, results)
        self._inflight.append(batch)
        future = writer.submit(lambda: store.append(records, expect))
        future.add_done_callback(self._batch_done)

    def _batch_done(self, future: asyncio.Future[None]) -> None:
        batch = self._inflight.popleft()
        if self.failure is not None:  # an earlier write failed: this batch was refused too
            self._fail(self.failure, batch.records, batch.waiters)
            return
        exc = future.exception() if not future.cancelled() else asyncio.CancelledError()
        if exc is not None:
            self._fail(exc, batch.records, batch.waiters)
            return
        self._committed(batch.records)
        for waiter, result in zip(batch.waiters, batch.results, strict=True):
            if not waiter.done():  # a cancelled appender's is
                waiter.set_result(result)
        if self.pending and not self._scheduled:
            self._submit()

    def _committed(self, batch: Sequence[Record]) -> None:
        last = batch[-1]
        self.committed_seq = last.seq
        self.committed_hash = last.hash
        self.committed_epoch = last.epoch
        self.batches += 1
        self.records_committed += len(batch)
        if len(batch) > self.largest_batch:
            self.largest_batch = len(batch)
        if self._writer is None:
            self.durable_seq = last.seq
            return
        if self._durability == "always":
            self.durable_seq = last.seq
        if self._tick_handle is None and self._open:
            self._tick_handle = self._clock.call_later(self._sync_interval, self._tick_due)

    def _tick_due(self) -> None:
        self._tick_handle = None
        if not self._open or self.failure is not None or self._background is None:
            return
        target = self.committed_seq
        future = self._background.submit(self._tick)
        future.add_done_callback(lambda done: self._ticked(done, target))

    def _tick(self) -> Exception | None:
        """On the background thread: fsync (``group``), then the store's housekeeping."""
        if self._durability == "group":
            self._store.sync()  # a failed fsync raises: the committer stops
        try:
            self._store.maintain()
        except Exception as exc:  # housekeeping loses nothing when it fails: report it
            return exc
        return None

    def _ticked(self, future: asyncio.Future[Exception | None], target: int) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            self._fail(exc, [], [])
            return
        if self._durability == "group":
            self.syncs += 1
            self.durable_seq = max(self.durable_seq, target)
        housekeeping = future.result()
        if housekeeping is not None:
            logger.warning(
                "ledger_maintenance_failed",
                ledger=self._store.location,
                error=repr(housekeeping),
            )

    def _fail(
        self,
        exc: BaseException,
        records: list[Record],
        waiters: list[asyncio.Future[Any]],  # Any: a record, or None
    ) -> LedgerWriteError:
        """Stop after a failed write; every waiter gets the error."""
        location = self._store.location
        if isinstance(exc, LedgerWriteError):
            error = exc
        else:
            what = (
                f"committing records seq {records[0].seq}..{records[-1].seq}"
                if records
                else "fsync"
            )
            error = LedgerWriteError(
                f"ledger {location}: {what} failed: {type(exc).__name__}: {exc}"
            )
            error.__cause__ = exc
        if self.failure is None:
            self.failure = error
            logger.error(
                "batch_commit_failed",
                ledger=location,
                first_seq=records[0].seq if records else None,
                records=len(records),
                error=repr(exc),
            )
        stranded = [*waiters, *self._pending_waiters]
        stranded.extend(w for batch in self._inflight for w in batch.waiters)
        self.pending, self._pending_waiters, self._pending_results = [], [], []
        for waiter in stranded:
            if not waiter.done():
                waiter.set_exception(error)
        return error
