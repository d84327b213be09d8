"""The ticket model: runs, pipelines, tickets, the events that move them, and the table.

:class:`TicketTable` is pure: it *plans* a transition (``plan_*``: validate and
build an event, change nothing) and *applies* an event (:meth:`TicketTable.apply`,
the one place a ticket changes). The actor appends each planned event to the
ledger and then applies it, and replay applies the same events in ledger order,
so a replay rebuilds the table exactly (:meth:`TicketTable.encode` is its
canonical byte form). Times are the injected clock's ``now`` carried in the
events, so applying never reads a clock.
"""

from __future__ import annotations

import heapq
from typing import Any, Literal

import msgspec

from ._errors import BadRequest, ClaimLost, NotFound

__all__ = [
    "EVENT_KINDS",
    "Claimed",
    "Concern",
    "Event",
    "Expired",
    "Fenced",
    "Input",
    "Pipeline",
    "Renewed",
    "Run",
    "RunCreated",
    "RunStatus",
    "Stage",
    "Submitted",
    "Ticket",
    "TicketTable",
]

JSON = Any  # Any: a ticket's input and output are the worker's JSON values (a boundary)
Status = Literal["pending", "claimed", "completed", "failed", "needs_review"]
STATUSES: tuple[Status, ...] = ("pending", "claimed", "completed", "failed", "needs_review")
Level = Literal["info", "review", "error"]
LEVELS: tuple[Level, ...] = ("info", "review", "error")
Outcome = Literal["completed", "failed"]

MAX_NAME = 200
"""Longest run, stage, worker type, worker id or source id accepted."""


class Concern(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A worker's structured remark on a ticket; never blocks the pipeline."""

    level: Level
    message: str
    suggestion: str | None = None


class Stage(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One stage of a pipeline and the rule that turns its results into downstream tickets.

    A completed ticket of this stage creates tickets of stage ``next`` (none when
    ``next`` is ``None``): one whose input is the whole output, or, with
    ``fan_out`` naming a field of the output holding a list, one per item.
    """

    name: str
    worker_type: str | None = None
    """Who claims this stage's tickets; the stage's name when omitted."""
    next: str | None = None
    fan_out: str | None = None

    @property
    def claimed_by(self) -> str:
        return self.worker_type if self.worker_type is not None else self.name


class Pipeline(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A run's stages (the first takes the run's inputs), claim TTL and attempt limit."""

    stages: tuple[Stage, ...]
    lease_ttl: float = 30.0
    """Seconds a claim lasts unless renewed."""
    max_attempts: int = 3
    """Claims that may lapse before the ticket goes to ``needs_review``."""

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise NotFound("stage", name)

    def check(self) -> None:
        """Raise :class:`BadRequest` naming the first bad field."""
        if not self.stages:
            raise BadRequest("pipeline.stages", "a pipeline needs at least one stage")
        names = [stage.name for stage in self.stages]
        for i, stage in enumerate(self.stages):
            _name(f"pipeline.stages[{i}].name", stage.name)
            if stage.worker_type is not None:
                _name(f"pipeline.stages[{i}].worker_type", stage.worker_type)
            if names.count(stage.name) > 1:
                raise BadRequest(f"pipeline.stages[{i}].name", f"stage {stage.name!r} twice")
            if stage.next is not None and stage.next not in names:
                raise BadRequest(
                    f"pipeline.stages[{i}].next", f"no stage named {stage.next!r} in the pipeline"
                )
            if stage.fan_out is not None and stage.next is None:
                raise BadRequest(f"pipeline.stages[{i}].fan_out", "fan_out needs a next stage")
        if not 0.0 < self.lease_ttl <= 86_400.0:
            raise BadRequest(
                "pipeline.lease_ttl", f"must be in (0, 86400] seconds, not {self.lease_ttl!r}"
            )
        if not 1 <= self.max_attempts <= 1000:
            raise BadRequest("pipeline.max_attempts", f"must be 1..1000, not {self.max_attempts!r}")


class Input(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One input of a run: the source id it comes from and its data."""

    source: str
    data: JSON = None


class Ticket(msgspec.Struct, forbid_unknown_fields=True):
    """One unit of work. ``token`` is the fencing token of its latest claim."""

    id: str
    run: str
    stage: str
    worker_type: str
    number: int
    """Creation order within the run: the oldest pending ticket is claimed first."""
    input: JSON
    parents: list[str]
    """The tickets whose results created this one."""
    sources: list[str]
    """The source ids of the run inputs this ticket derives from."""
    status: Status = "pending"
    output: JSON = None
    concerns: list[Concern] = msgspec.field(default_factory=list)
    attempts: int = 0
    """Claims that lapsed (expired) on this ticket."""
    token: int = 0
    worker: str | None = None
    lease_expires: float | None = None


class Run(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    pipeline: Pipeline
    created: float
    tickets: int = 0
    """Tickets created in this run so far (the next ticket's number)."""


class RunStatus(msgspec.Struct, frozen=True):
    """Counts per stage and status, stuck claims, concerns by level."""

    run: str
    counts: dict[str, dict[str, int]]
    stuck: int
    """Claims held past their lease (0 after every sweep, by construction)."""
    concerns: dict[str, int]
    done: bool
    """Every ticket completed, failed or in needs_review."""


# -- events: each is one ledger record ----------------------------------------------


class RunCreated(msgspec.Struct, frozen=True, tag="tickets.run"):
    run: Run
    tickets: list[Ticket]


class Claimed(msgspec.Struct, frozen=True, tag="tickets.claim"):
    ticket: str
    worker: str
    token: int
    expires: float


class Renewed(msgspec.Struct, frozen=True, tag="tickets.renew"):
    ticket: str
    token: int
    expires: float


class Submitted(msgspec.Struct, frozen=True, tag="tickets.submit"):
    ticket: str
    token: int
    outcome: Outcome
    output: JSON
    concerns: list[Concern]
    downstream: list[Ticket]


class Expired(msgspec.Struct, frozen=True, tag="tickets.expire"):
    ticket: str
    token: int
    to: Status
    """``pending`` again, or ``needs_review`` once the attempts are spent."""


class Fenced(msgspec.Struct, frozen=True, tag="tickets.fence"):
    """At a restart: the pending tickets' tokens move up by one.

    A claim is answered before its record is committed; if the process dies
    first, the worker holds a token the ledger never saw. Moving every pending
    ticket's token past it means the next claim cannot hand out that token again.
    """

    tickets: list[str]


Event = RunCreated | Claimed | Renewed | Submitted | Expired | Fenced
EVENT_KINDS: dict[str, type[Event]] = {
    "tickets.run": RunCreated,
    "tickets.claim": Claimed,
    "tickets.renew": Renewed,
    "tickets.submit": Submitted,
    "tickets.expire": Expired,
    "tickets.fence": Fenced,
}


def _name(field: str, value: str) -> str:
    if not value or len(value) > MAX_NAME:
        raise BadRequest(field, f"must be 1..{MAX_NAME} characters, not {len(value)}")
    return value


class _State(msgspec.Struct):
    runs: list[Run]
    tickets: list[Ticket]


_encoder = msgspec.msgpack.Encoder(order="sorted")
_state_decoder = msgspec.msgpack.Decoder(_State)


class TicketTable:
    """Every run and ticket, with the pending queues and the set of live claims."""

    def __init__(self) -> None:
        self.runs: dict[str, Run] = {}
        self.tickets: dict[str, Ticket] = {}
        self._queues: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self._claimed: set[str] = set()
        self._cursor = 0  # fairness across runs for claims naming no run

    # -- reading ---------------------------------------------------------------------

    def run(self, run_id: str) -> Run:
        run = self.runs.get(run_id)
        if run is None:
            raise NotFound("run", run_id)
        return run

    def ticket(self, run_id: str, ticket_id: str) -> Ticket:
        self.run(run_id)
        ticket = self.tickets.get(ticket_id)
        if ticket is None or ticket.run != run_id:
            raise NotFound("ticket", ticket_id)
        return ticket

    def status(self, run_id: str, now: float) -> RunStatus:
        self.run(run_id)
        counts: dict[str, dict[str, int]] = {}
        concerns: dict[str, int] = dict.fromkeys(LEVELS, 0)
        stuck = 0
        done = True
        for ticket in self.tickets.values():
            if ticket.run != run_id:
                continue
            per = counts.setdefault(ticket.stage, dict.fromkeys(STATUSES, 0))
            per[ticket.status] += 1
            for concern in ticket.concerns:
                concerns[concern.level] += 1
            if ticket.status in ("pending", "claimed"):
                done = False
            if ticket.status == "claimed" and (ticket.lease_expires or 0.0) < now:
                stuck += 1
        return RunStatus(run_id, counts, stuck, concerns, done)

    def concerns(self, run_id: str, level: str | None = None) -> list[tuple[str, Concern]]:
        self.run(run_id)
        return [
            (ticket.id, concern)
            for ticket in self.tickets.values()
            if ticket.run == run_id
            for concern in ticket.concerns
            if level is None or concern.level == level
        ]

    def next_expiry(self) -> float | None:
        return min((self.tickets[t].lease_expires or 0.0 for t in self._claimed), default=None)

    # -- planning (validates, changes nothing) ------------------------------------------

    def plan_run(self, pipeline: Pipeline, inputs: list[Input], now: float) -> RunCreated:
        pipeline.check()
        if not inputs:
            raise BadRequest("inputs", "a run needs at least one input")
        for i, item in enumerate(inputs):
            _name(f"inputs[{i}].source", item.source)
        run = Run(f"run-{len(self.runs) + 1}", pipeline, now, len(inputs))
        first = pipeline.stages[0]
        tickets = [
            Ticket(
                f"{run.id}.{n}",
                run.id,
                first.name,
                first.claimed_by,
                n,
                item.data,
                [],
                [item.source],
            )
            for n, item in enumerate(inputs)
        ]
        return RunCreated(run, tickets)

    def plan_claim(
        self, run_id: str | None, worker_type: str, worker: str, now: float
    ) -> Claimed | None:
        _name("worker_type", worker_type)
        _name("worker_id", worker)
        if run_id is not None:
            runs = [self.run(run_id).id]
        else:
            order = list(self.runs)
            start = self._cursor % len(order) if order else 0
            runs = order[start:] + order[:start]
        for rid in runs:
            queue = self._queues.get((rid, worker_type))
            while queue:
                _, tid = queue[0]
                ticket = self.tickets[tid]
                if ticket.status != "pending":
                    heapq.heappop(queue)  # stale entry
                    continue
                if run_id is None:
                    self._cursor = (list(self.runs).index(rid) + 1) % len(self.runs)
                ttl = self.runs[rid].pipeline.lease_ttl
                return Claimed(tid, worker, ticket.token + 1, now + ttl)
        return None

    def _held(self, ticket_id: str, token: int, now: float) -> Ticket:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise NotFound("ticket", ticket_id)
        if ticket.status != "claimed" or ticket.token != token:
            raise ClaimLost(ticket_id, token, ticket.token, ticket.status)
        if ticket.lease_expires is not None and ticket.lease_expires <= now:
            raise ClaimLost(ticket_id, token, ticket.token, "expired")
        return ticket

    def plan_renew(self, ticket_id: str, token: int, now: float) -> Renewed:
        ticket = self._held(ticket_id, token, now)
        return Renewed(ticket_id, token, now + self.runs[ticket.run].pipeline.lease_ttl)

    def plan_submit(
        self,
        ticket_id: str,
        token: int,
        outcome: Outcome,
        output: JSON,
        concerns: list[Concern],
        now: float,
    ) -> Submitted:
        ticket = self._held(ticket_id, token, now)
        run = self.runs[ticket.run]
        stage = run.pipeline.stage(ticket.stage)
        downstream: list[Ticket] = []
        if outcome == "completed" and stage.next is not None:
            items: list[JSON]
            if stage.fan_out is None:
                items = [output]
            else:
                field = output.get(stage.fan_out) if isinstance(output, dict) else None
                if not isinstance(field, list):
                    raise BadRequest(
                        f"output.{stage.fan_out}",
                        f"stage {stage.name!r} fans out over this field: it must be a list",
                    )
                items = field
            target = run.pipeline.stage(stage.next)
            downstream = [
                Ticket(
                    f"{run.id}.{run.tickets + i}",
                    run.id,
                    target.name,
                    target.claimed_by,
                    run.tickets + i,
                    item,
                    [ticket.id],
                    list(ticket.sources),
                )
                for i, item in enumerate(items)
            ]
        return Submitted(ticket_id, token, outcome, output, concerns, downstream)

    def plan_expiries(self, now: float) -> list[Expired]:
        """An :class:`Expired` for every claim whose lease ended by ``now``."""
        out = []
        for tid in sorted(self._claimed, key=lambda t: self.tickets[t].number):
            ticket = self.tickets[tid]
            if ticket.lease_expires is not None and ticket.lease_expires <= now:
                spent = ticket.attempts + 1 >= self.runs[ticket.run].pipeline.max_attempts
                out.append(Expired(tid, ticket.token, "needs_review" if spent else "pending"))
        return out

    def plan_recovery(self) -> list[Expired | Fenced]:
        """After a restart: end every claim (its lease ran on the old process's clock)
        and fence the pending tickets' tokens (a claim answered but never committed)."""
        out: list[Expired | Fenced] = []
        for tid in sorted(
            self._claimed, key=lambda t: (self.tickets[t].run, self.tickets[t].number)
        ):
            ticket = self.tickets[tid]
            spent = ticket.attempts + 1 >= self.runs[ticket.run].pipeline.max_attempts
            out.append(Expired(tid, ticket.token, "needs_review" if spent else "pending"))
        pending = sorted(
            (t for t in self.tickets.values() if t.status == "pending"),
            key=lambda t: (t.run, t.number),
        )
        if pending:
            out.append(Fenced([t.id for t in pending]))
        return out

    # -- applying (the one place a ticket changes) --------------------------------------

    def apply(self, event: Event) -> list[str]:
        """Apply ``event``; returns the ids of the tickets it changed or created."""
        if isinstance(event, RunCreated):
            run = msgspec.structs.replace(event.run)
            self.runs[run.id] = run
            for ticket in event.tickets:
                self._add(msgspec.structs.replace(ticket))
            return [t.id for t in event.tickets]
        if isinstance(event, Fenced):
            for tid in event.tickets:
                self.tickets[tid].token += 1
            return list(event.tickets)
        ticket = self.tickets[event.ticket]
        if isinstance(event, Claimed):
            ticket.status = "claimed"
            ticket.token = event.token
            ticket.worker = event.worker
            ticket.lease_expires = event.expires
            self._claimed.add(ticket.id)
            return [ticket.id]
        if isinstance(event, Renewed):
            ticket.lease_expires = event.expires
            return [ticket.id]
        self._claimed.discard(ticket.id)
        ticket.lease_expires = None
        if isinstance(event, Expired):
            ticket.attempts += 1
            ticket.status = event.to
            ticket.worker = None
            if event.to == "pending":
                self._enqueue(ticket)
            return [ticket.id]
        ticket.status = event.outcome
        ticket.output = event.output
        ticket.concerns = list(event.concerns)
        run = self.runs[ticket.run]
        run.tickets += len(event.downstream)
        for new in event.downstream:
            self._add(msgspec.structs.replace(new))
        return [ticket.id, *(t.id for t in event.downstream)]

    def _add(self, ticket: Ticket) -> None:
        self.tickets[ticket.id] = ticket
        if ticket.status == "pending":
            self._enqueue(ticket)
        elif ticket.status == "claimed":
            self._claimed.add(ticket.id)

    def _enqueue(self, ticket: Ticket) -> None:
        queue = self._queues.setdefault((ticket.run, ticket.worker_type), [])
        heapq.heappush(queue, (ticket.number, ticket.id))

    # -- canonical form ------------------------------------------------------------------

    def encode(self) -> bytes:
        """The table's canonical bytes: equal tables give equal bytes."""
        runs = sorted(self.runs.values(), key=lambda r: r.id)
        tickets = sorted(self.tickets.values(), key=lambda t: t.id)
        return _encoder.encode(_State(runs, tickets))

    @classmethod
    def from_rows(cls, runs: list[Run], tickets: list[Ticket]) -> TicketTable:
        table = cls()
        for run in sorted(runs, key=lambda r: int(r.id.rpartition("-")[2])):
            table.runs[run.id] = run
        for ticket in sorted(tickets, key=lambda t: (t.run, t.number)):
            table._add(ticket)
        return table

    @classmethod
    def decode(cls, data: bytes) -> TicketTable:
        state = _state_decoder.decode(data)
        return cls.from_rows(state.runs, state.tickets)


def decode_event(kind: str, payload: bytes) -> Event:
    """The event of a ``tickets.*`` ledger record."""
    return msgspec.msgpack.decode(payload, type=EVENT_KINDS[kind])
