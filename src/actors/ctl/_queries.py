"""The admin actor's typed queries and their replies: what crosses the wire.

Each query is a :class:`~protocol.Message` declaring its reply type with
:class:`~actors.Request`, so ``await admin.ask(GetStatus())`` is typed
``Status``. A query the node cannot answer (no ledger, no job supervisor, no
territory manager, no stability monitor) gets :class:`Unavailable`; a job the
node has never heard of gets :class:`NoSuchJob`; a query with a value out of
range gets :class:`BadQuery`. Every tag starts with ``ctl.``: the wire
format is stable across module renames.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from protocol import Message

from .. import Request

__all__ = [
    "MAX_TAIL",
    "ActorRow",
    "Actors",
    "AdminQuery",
    "AlertRow",
    "Alerts",
    "BadQuery",
    "GetActors",
    "GetAlerts",
    "GetHeat",
    "GetJobs",
    "GetLeases",
    "GetOrderParameters",
    "GetStatus",
    "Heat",
    "HeatRow",
    "JobRow",
    "JobTrace",
    "Jobs",
    "LeaseRow",
    "Leases",
    "LedgerRecords",
    "LedgerReplay",
    "LedgerTail",
    "LedgerVerify",
    "MemberRow",
    "NoSuchJob",
    "OrderParameters",
    "ParameterRow",
    "RecordRow",
    "Replayed",
    "Status",
    "TraceJob",
    "Unavailable",
    "Verified",
]

MAX_TAIL: Final = 10_000
"""The most records one :class:`LedgerTail` (or sparkline history) may ask for."""


# -- replies that any query may get ----------------------------------------------------


class Unavailable(Message, tag="ctl.unavailable"):
    """The node has nothing to answer this query with (``what``: ``ledger``, ``jobs``, ...)."""

    what: str
    reason: str


class BadQuery(Message, tag="ctl.bad_query"):
    """A query with a value the admin actor refuses (nothing was read or changed)."""

    query: str
    error: str


# -- status ----------------------------------------------------------------------------


class MemberRow(msgspec.Struct, frozen=True):
    node: str
    address: str
    state: str
    """``up`` or ``unreachable`` (as this node sees it)."""


class Status(Message, tag="ctl.status"):
    node: str
    address: str
    cluster: str
    version: str
    uptime: float
    """Seconds since the admin actor started (the node's start, give or take)."""
    actors: int
    members: tuple[MemberRow, ...]
    ledger_head: int | None
    """The ledger's head sequence number (``None``: the node keeps no ledger)."""


class GetStatus(Message, Request[Status], tag="ctl.get_status"):
    pass


# -- actors ----------------------------------------------------------------------------


class ActorRow(msgspec.Struct, frozen=True):
    path: str
    actor_type: str
    state: str
    mailbox: int
    capacity: int
    processed: int
    restarts: int


class Actors(Message, tag="ctl.actors"):
    actors: tuple[ActorRow, ...]


class GetActors(Message, Request[Actors], tag="ctl.get_actors"):
    pass


# -- jobs ------------------------------------------------------------------------------


class JobRow(msgspec.Struct, frozen=True):
    job_id: str
    state: str
    attempt: int
    unread: bool
    channel: str | None
    reason: str
    submitted_at: float
    """Wall-clock seconds (Unix time)."""
    finished_at: float | None


class Jobs(Message, tag="ctl.jobs"):
    supervisor: str
    """The path of the job supervisor that answered."""
    jobs: tuple[JobRow, ...]

    @property
    def unread(self) -> tuple[JobRow, ...]:
        """The settled jobs nobody has acknowledged yet."""
        return tuple(job for job in self.jobs if job.unread)


class GetJobs(Message, Request[Jobs | Unavailable], tag="ctl.get_jobs"):
    unread_only: bool = False


class RecordRow(msgspec.Struct, frozen=True):
    """One ledger record, with the fields ``python -m actors.ledger tail`` prints."""

    seq: int
    epoch: int
    timestamp: float
    kind: str
    payload: Any  # Any: the record's payload as plain data (what the ledger decoded)
    prev_hash: str
    hash: str


class JobTrace(Message, tag="ctl.job_trace"):
    job_id: str
    job: JobRow | None
    """The job as its supervisor sees it now (``None``: not in the supervisor's table)."""
    events: tuple[RecordRow, ...]
    """Every ledger record about the job, in order."""


class NoSuchJob(Message, tag="ctl.no_such_job"):
    job_id: str


class TraceJob(
    Message, Request[JobTrace | NoSuchJob | Unavailable | BadQuery], tag="ctl.trace_job"
):
    job_id: str


# -- territories -----------------------------------------------------------------------


class LeaseRow(msgspec.Struct, frozen=True):
    territory: str
    holder: str
    token: int
    expires_in: float
    """Seconds until it lapses on the manager's clock (negative: lapsed, not reclaimed yet)."""


class Leases(Message, tag="ctl.leases"):
    manager: str
    leases: tuple[LeaseRow, ...]


class GetLeases(Message, Request[Leases | Unavailable], tag="ctl.get_leases"):
    pass


class HeatRow(msgspec.Struct, frozen=True):
    territory: str
    heat: float
    alerted: bool


class Heat(Message, tag="ctl.heat"):
    manager: str
    territories: tuple[HeatRow, ...]


class GetHeat(Message, Request[Heat | Unavailable], tag="ctl.get_heat"):
    pass


# -- stability ------------------------------------------------------------------------


class AlertRow(msgspec.Struct, frozen=True):
    parameter: str
    level: str
    value: float
    threshold: float
    message: str
    raised_at: float


class Alerts(Message, tag="ctl.alerts"):
    alerts: tuple[AlertRow, ...]


class GetAlerts(Message, Request[Alerts | Unavailable], tag="ctl.get_alerts"):
    pass


class ParameterRow(msgspec.Struct, frozen=True):
    name: str
    value: float
    history: tuple[float, ...]
    """The most recent values, oldest first (at most the query's ``points``)."""


class OrderParameters(Message, tag="ctl.order_parameters"):
    parameters: tuple[ParameterRow, ...]
    alerts: tuple[AlertRow, ...]


class GetOrderParameters(
    Message, Request[OrderParameters | Unavailable | BadQuery], tag="ctl.get_order_parameters"
):
    points: int = 60


# -- ledger ----------------------------------------------------------------------------


class LedgerRecords(Message, tag="ctl.ledger_records"):
    records: tuple[RecordRow, ...]


class LedgerTail(Message, Request[LedgerRecords | Unavailable | BadQuery], tag="ctl.ledger_tail"):
    count: int = 10


class Verified(Message, tag="ctl.verified"):
    ok: bool
    records: int
    first_seq: int
    head_seq: int
    head_hash: str
    base_seq: int
    checkpoints: int
    fault: str | None
    """The first bad record, described (``None``: the chain holds)."""
    fault_seq: int | None


class LedgerVerify(Message, Request[Verified | Unavailable], tag="ctl.ledger_verify"):
    pass


class Replayed(Message, tag="ctl.replayed"):
    digest: str
    records: int
    start_seq: int
    last_seq: int
    checkpoint: int | None
    epoch: int | None


class LedgerReplay(Message, Request[Replayed | Unavailable | BadQuery], tag="ctl.ledger_replay"):
    """Replay the node's ledger with the record-count reducers (or one ``epoch`` of it)."""

    epoch: int | None = None
    from_start: bool = False


AdminQuery = (
    GetStatus
    | GetActors
    | GetJobs
    | TraceJob
    | GetLeases
    | GetHeat
    | GetAlerts
    | GetOrderParameters
    | LedgerTail
    | LedgerVerify
    | LedgerReplay
)
"""Every query the admin actor answers."""
