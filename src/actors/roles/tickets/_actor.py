"""The :class:`Tickets` actor: the one writer of a node's ticket table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors import Actor

from ...ledger import LedgerFull
from ._errors import BadRequest, TicketError
from ._messages import (
    Accepted,
    Checkpoint,
    Claim,
    ClaimGrant,
    CreateRun,
    GetConcerns,
    GetStatus,
    GetTicket,
    ListRuns,
    NoWork,
    Refusal,
    Renew,
    RunCreatedReply,
    RunSummary,
    Submit,
    Sweep,
    TicketConcern,
    TicketRequest,
)
from ._model import EVENT_KINDS, LEVELS, Event, RunCreated, TicketTable, decode_event
from ._store import MemoryTicketStore, TicketStore

if TYPE_CHECKING:
    from collections.abc import Sequence

    from actors import MaintenanceJob

    from ...ledger import Ledger

__all__ = ["Tickets", "event_kind", "replay_table"]


def event_kind(event: Event) -> str:
    tag = type(event).__struct_config__.tag
    assert isinstance(tag, str)
    return tag


async def replay_table(ledger: Ledger) -> TicketTable:
    """The ticket table rebuilt from every ``tickets.*`` record of ``ledger``."""
    table = TicketTable()
    for record in await ledger.records():
        if record.kind in EVENT_KINDS:
            table.apply(decode_event(record.kind, record.payload))
    return table


def _tick() -> None:
    """The maintenance job's body: nothing to compute, the actor sweeps on the result."""


class Tickets(Actor[TicketRequest]):
    """Runs, claims as leases with fencing tokens, submits that cascade downstream.

    Every transition is planned against the table, appended to ``ledger`` (one
    record holding everything it changes, downstream tickets included) and,
    for a run, a submit or an expiry, awaited until committed, then applied to
    the table: an answered submit is durable. A claim's or renewal's record
    rides with the next commit instead (its loss in a crash costs nothing).
    The changed rows reach ``store`` in batches (every
    ``flush_every`` changed tickets, at every sweep, on :class:`Checkpoint`
    and at stop), since the ledger, not the store, is the authority. At start
    the actor loads ``store``, applies
    the ledger records it lacks, and ends every claim left from before (its
    lease ran on the old process's clock). A maintenance job of the system
    (``system.maintenance``) sends it :class:`Sweep` every ``sweep_interval``
    seconds of the system's clock; a claim request sweeps first too.
    """

    def __init__(
        self,
        ledger: Ledger | None = None,
        store: TicketStore | None = None,
        sweep_interval: float = 1.0,
        flush_every: int = 256,
    ) -> None:
        if not sweep_interval > 0:
            raise ValueError(f"sweep_interval must be > 0 seconds, not {sweep_interval!r}")
        if flush_every < 1:
            raise ValueError(f"flush_every must be >= 1 changed tickets, not {flush_every!r}")
        self.flush_every = flush_every
        self._dirty: dict[str, None] = {}
        self._flushed = 0
        self._sweeper: MaintenanceJob[None] | None = None
        self.ledger = ledger
        self.store: TicketStore = store if store is not None else MemoryTicketStore()
        self.sweep_interval = sweep_interval
        self.table = TicketTable()
        self.applied = 0

    async def on_start(self) -> None:
        self.table, self.applied = self.store.load()
        self._flushed = self.applied
        if self.ledger is not None:
            for record in await self.ledger.records(after=self.applied):
                if record.kind in EVENT_KINDS:
                    changed = self.table.apply(decode_event(record.kind, record.payload))
                    self._save(changed, record.seq)
                self.applied = record.seq
        await self._commit(self.table.plan_recovery())
        await self._flush()
        # The sweep is a maintenance job of the system; it changes the table, so
        # its result comes back as a message and the actor does the sweeping.
        me = self.context.self_ref
        self._sweeper = self.context.system.maintenance.every(
            f"tickets-sweep:{me.path}",
            self.sweep_interval,
            _tick,
            on_result=lambda _: me.tell(Sweep()),
        )

    def _now(self) -> float:
        return self.context.system.clock.now()

    async def _commit(self, events: Sequence[Event], *, wait: bool = True) -> list[str]:
        """Append ``events`` to the ledger, apply them, mark their rows for the store.

        With ``wait`` (runs, submits, expiries) the records are committed before
        this returns. Without it (claims, renews) they are chained at once and
        ride with the next batch committed anyway (``append_deferred``): a
        claim lost in a crash costs nothing, since a restart ends every claim
        and fences the pending tickets' tokens, and every later awaited record
        commits after it in chain order.
        """
        if not events:
            return []
        if self.ledger is not None:
            entries = [(event_kind(e), e) for e in events]
            if wait:
                records = await self.ledger.extend(entries)
            else:
                try:
                    records = [self.ledger.append_deferred(kind, e) for kind, e in entries]
                except LedgerFull:
                    records = [await self.ledger.append(kind, e) for kind, e in entries]
            applied = records[-1].seq
        else:
            applied = self.applied + len(events)
        changed: list[str] = []
        for event in events:
            changed.extend(self.table.apply(event))
        self._save(changed, applied)
        if len(self._dirty) >= self.flush_every:
            await self._flush()
        return changed

    def _save(self, changed: list[str], applied: int) -> None:
        self._dirty.update(dict.fromkeys(changed))
        self.applied = applied

    async def _flush(self) -> int:
        """Write the changed rows and ``applied`` to the store; returns ``applied``.

        Waits for the ledger to commit through ``applied`` first: the store never
        reflects a record the ledger could still lose.
        """
        if self._dirty or self._flushed != self.applied:
            if self.ledger is not None:
                await self.ledger.flush()
            tickets = [self.table.tickets[t] for t in self._dirty]
            runs = [self.table.runs[r] for r in dict.fromkeys(t.run for t in tickets)]
            self.store.save(runs, tickets, self.applied)
            self._dirty.clear()
            self._flushed = self.applied
        return self.applied

    async def on_stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        await self._flush()

    async def receive(self, message: TicketRequest) -> Any:  # Any: each request's own reply
        try:
            return await self._handle(message)
        except TicketError as exc:
            return Refusal(exc.code, exc.status, exc.message, exc.field)

    async def _handle(self, message: TicketRequest) -> Any:  # Any: as receive
        table = self.table
        now = self._now()
        if isinstance(message, Claim):
            await self._commit(table.plan_expiries(now))
            claimed = table.plan_claim(message.run, message.worker_type, message.worker_id, now)
            if claimed is None:
                return NoWork()
            await self._commit([claimed], wait=False)
            ticket = table.tickets[claimed.ticket]
            return ClaimGrant(ticket, claimed.token, claimed.expires - now)
        if isinstance(message, Submit):
            if message.run is not None:
                table.ticket(message.run, message.ticket)
            submitted = table.plan_submit(
                message.ticket,
                message.token,
                message.outcome,
                message.output,
                list(message.concerns),
                now,
            )
            await self._commit([submitted])
            return Accepted(message.ticket, [t.id for t in submitted.downstream])
        if isinstance(message, Renew):
            if message.run is not None:
                table.ticket(message.run, message.ticket)
            renewed = table.plan_renew(message.ticket, message.token, now)
            await self._commit([renewed], wait=False)
            return ClaimGrant(table.tickets[message.ticket], message.token, renewed.expires - now)
        if isinstance(message, Sweep):
            changed = await self._commit(table.plan_expiries(now))
            await self._flush()
            return changed
        if isinstance(message, Checkpoint):
            return await self._flush()
        if isinstance(message, CreateRun):
            created: RunCreated = table.plan_run(message.pipeline, list(message.inputs), now)
            await self._commit([created])
            return RunCreatedReply(created.run.id, [t.id for t in created.tickets])
        if isinstance(message, GetStatus):
            return table.status(message.run, now)
        if isinstance(message, GetTicket):
            return table.ticket(message.run, message.ticket)
        if isinstance(message, GetConcerns):
            if message.level is not None and message.level not in LEVELS:
                raise BadRequest(
                    "level", f"must be one of {', '.join(LEVELS)}, not {message.level!r}"
                )
            return [TicketConcern(t, c) for t, c in table.concerns(message.run, message.level)]
        if isinstance(message, ListRuns):
            return [
                RunSummary(
                    run.id,
                    [s.name for s in run.pipeline.stages],
                    run.tickets,
                    table.status(run.id, now).done,
                )
                for run in table.runs.values()
            ]
        raise BadRequest("message", f"the tickets actor does not take {type(message).__name__}")
