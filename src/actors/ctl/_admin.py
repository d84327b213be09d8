"""The admin actor: one per node, answering the operator's typed queries.

It lives at ``/user/admin`` (:data:`ADMIN_NAME`) and is reached like any
actor, over the node's authenticated connection: the CLI is a client
:class:`~actors.remote.RemoteNode` holding the cluster secret. A delivery
filter refuses anything but an :data:`~actors.ctl.AdminQuery` before it is
enqueued (:class:`NotAQuery` to the sender); a query with a value out of range
gets :class:`~actors.ctl.BadQuery`, and a source that fails while being read
(a ledger error, a supervisor that does not answer) gets
:class:`~actors.ctl.Unavailable`. The actor itself never fails on a query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import structlog

from .. import Actor, ActorError
from ..lowlevel import add_delivery_filter, cells
from ..roles import GetJob as GetRoleJob
from ..roles import JobSupervisor, JobView, ListJobs
from ..roles.territories import GetHeat as GetManagerHeat
from ..roles.territories import GetLeases as GetManagerLeases
from ..roles.territories import TerritoryManager
from ._queries import (
    MAX_TAIL,
    ActorRow,
    Actors,
    AlertRow,
    Alerts,
    BadQuery,
    GetActors,
    GetAlerts,
    GetHeat,
    GetJobs,
    GetLeases,
    GetOrderParameters,
    GetStatus,
    Heat,
    HeatRow,
    JobRow,
    Jobs,
    JobTrace,
    LeaseRow,
    Leases,
    LedgerRecords,
    LedgerReplay,
    LedgerTail,
    LedgerVerify,
    MemberRow,
    NoSuchJob,
    OrderParameters,
    ParameterRow,
    RecordRow,
    Replayed,
    Status,
    TraceJob,
    Unavailable,
    Verified,
)
from ._version import package_version

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .. import ActorRef, ActorSystem
    from ..ledger import Record, ReplayResult
    from ..ops import AlertLike
    from ._queries import AdminQuery
    from ._sources import AdminSources

__all__ = ["ADMIN_NAME", "Admin", "NotAQuery", "spawn_admin"]

logger = structlog.get_logger(__name__)

ADMIN_NAME: Final = "admin"
"""The admin actor's name: it lives at ``/user/admin`` on every node."""

SOURCE_TIMEOUT: Final = 5.0
"""Seconds the admin actor waits for a job supervisor or territory manager to answer."""

_QUERIES: Final = (
    GetStatus,
    GetActors,
    GetJobs,
    TraceJob,
    GetLeases,
    GetHeat,
    GetAlerts,
    GetOrderParameters,
    LedgerTail,
    LedgerVerify,
    LedgerReplay,
)


class NotAQuery(ActorError, TypeError):
    """A message to the admin actor that is not one of its queries (refused before delivery)."""

    def __init__(self, message: object) -> None:
        self.type_name = type(message).__name__
        super().__init__(f"the admin actor answers typed queries only, not {self.type_name}")


def _only_queries(message: object) -> Exception | None:
    return None if isinstance(message, _QUERIES) else NotAQuery(message)


async def spawn_admin(
    system: ActorSystem, sources: AdminSources, *, name: str = ADMIN_NAME
) -> ActorRef[AdminQuery]:
    """Spawn the admin actor over ``sources``, with its filter of non-queries installed."""
    ref: ActorRef[AdminQuery] = await system.spawn(Admin, sources, name=name)
    add_delivery_filter(ref, _only_queries)
    return ref


def _job_row(view: JobView, wall_offset: float) -> JobRow:
    """The row of ``view``, its times moved from the system's clock to wall-clock seconds."""
    return JobRow(
        job_id=view.job_id,
        state=view.state.value,
        attempt=view.attempt,
        unread=view.unread,
        channel=None if view.channel is None else str(view.channel.value),
        reason=view.reason,
        submitted_at=view.submitted_at + wall_offset,
        finished_at=None if view.finished_at is None else view.finished_at + wall_offset,
    )


def _value(record: Record) -> Any:  # Any: a decoded ledger payload
    try:
        return record.value()
    except Exception as exc:  # a damaged payload is reported, not fatal to the listing
        return {"error": f"undecodable payload: {exc}"}


def _record_row(record: Record) -> RecordRow:
    payload = _value(record)
    return RecordRow(
        seq=record.seq,
        epoch=record.epoch,
        timestamp=record.timestamp,
        kind=record.kind,
        payload=payload,
        prev_hash=record.prev_hash.hex(),
        hash=record.hash.hex(),
    )


def _alert_row(alert: AlertLike) -> AlertRow:
    return AlertRow(
        parameter=alert.parameter,
        level=alert.level,
        value=float(alert.value),
        threshold=float(alert.threshold),
        message=alert.message,
        raised_at=float(alert.raised_at),
    )


def _about_job(payload: Any, job_id: str) -> bool:  # Any: a decoded ledger payload
    return isinstance(payload, dict) and job_id in (payload.get("job_id"), payload.get("task_id"))


class Admin(Actor[Any]):
    """Answers :data:`~actors.ctl.AdminQuery` messages from what ``sources`` holds.

    Spawn it with :func:`spawn_admin` (which installs the filter that refuses
    every other message); the node does so at start-up.
    """

    def __init__(self, sources: AdminSources) -> None:
        self.sources = sources
        self.started = 0.0

    async def on_start(self) -> None:
        self.started = self.context.system.clock.now()

    async def receive(self, message: Any) -> Any:  # Any: an AdminQuery, screened by the filter
        handler = _HANDLERS.get(type(message))
        if handler is None:  # only a local sender that bypassed the filter gets here
            return BadQuery(type(message).__name__, "not an admin query")
        try:
            return await handler(self, message)
        except Exception as exc:
            logger.warning("admin_query_failed", query=type(message).__name__, error=repr(exc))
            return Unavailable(type(message).__name__, f"{type(exc).__name__}: {exc}")

    # -- sources ---------------------------------------------------------------

    def _find(self, kind: type[Actor[Any]]) -> ActorRef[Any] | None:
        for cell in cells(self.context.system):
            if isinstance(cell.instance, kind):
                return cell.ref
        return None

    def _jobs(self) -> ActorRef[Any] | None:
        return self.sources.jobs or self._find(JobSupervisor)

    def _territories(self) -> ActorRef[Any] | None:
        return self.sources.territories or self._find(TerritoryManager)

    def _wall_offset(self) -> float:
        """Add to a time on the system's clock to get wall-clock seconds (the job table's)."""
        clock = self.context.system.clock
        return clock.wall() - clock.now()

    # -- handlers --------------------------------------------------------------

    async def _status(self, _: GetStatus) -> Status:
        system = self.context.system
        sources = self.sources
        members: Sequence[MemberRow] = ()
        if sources.cluster is not None:
            members = tuple(
                MemberRow(m.node, m.address, "up" if m.reachable else "unreachable")
                for m in sources.cluster.members
            )
        ledger = sources.ledger
        return Status(
            node=system.name if sources.remote is None else sources.remote.name,
            address="" if sources.remote is None else sources.remote.address,
            cluster="" if sources.remote is None else sources.remote.cluster,
            version=sources.version or package_version(),
            uptime=max(0.0, system.clock.now() - self.started),
            actors=len(cells(system)),
            members=tuple(members),
            ledger_head=None if ledger is None else ledger.head_seq,
        )

    async def _actors(self, _: GetActors) -> Actors:
        return Actors(
            tuple(
                ActorRow(
                    path=cell.path,
                    actor_type=cell.actor_type,
                    state=cell.state.value,
                    mailbox=len(cell.mailbox),
                    capacity=cell.mailbox.capacity,
                    processed=cell.processed,
                    restarts=cell.restart_count,
                )
                # By path: parents before children, the tree's order.
                for cell in sorted(cells(self.context.system), key=lambda cell: cell.path)
            )
        )

    async def _list_jobs(self, query: GetJobs) -> Jobs | Unavailable:
        supervisor = self._jobs()
        if supervisor is None:
            return Unavailable("jobs", "this node runs no job supervisor")
        views = await supervisor.ask(
            ListJobs(unread=True if query.unread_only else None), timeout=SOURCE_TIMEOUT
        )
        offset = self._wall_offset()
        return Jobs(supervisor.path, tuple(_job_row(view, offset) for view in views))

    async def _trace(self, query: TraceJob) -> JobTrace | NoSuchJob | Unavailable | BadQuery:
        if not query.job_id:
            return BadQuery("TraceJob", "job_id must not be empty")
        ledger = self.sources.ledger
        if ledger is None:
            return Unavailable("ledger", "this node keeps no ledger (no --data-dir)")
        job = None
        supervisor = self._jobs()
        if supervisor is not None:
            view = await supervisor.ask(GetRoleJob(query.job_id), timeout=SOURCE_TIMEOUT)
            job = None if view is None else _job_row(view, self._wall_offset())
        events = tuple(
            _record_row(record)
            for record in await ledger.records(kind_prefix="roles.")
            if _about_job(_value(record), query.job_id)
        )
        if job is None and not events:
            return NoSuchJob(query.job_id)
        return JobTrace(query.job_id, job, events)

    async def _leases(self, _: GetLeases) -> Leases | Unavailable:
        manager = self._territories()
        if manager is None:
            return Unavailable("territories", "this node runs no territory manager")
        table = await manager.ask(GetManagerLeases(), timeout=SOURCE_TIMEOUT)
        now = self.context.system.clock.wall()
        rows = tuple(
            LeaseRow(
                territory=territory,
                holder=str(row["holder"]),
                token=int(row["token"]),
                expires_in=float(row["expires"]) - now,
            )
            for territory, row in sorted(table["leases"].items())
        )
        return Leases(manager.path, rows)

    async def _heat(self, _: GetHeat) -> Heat | Unavailable:
        manager = self._territories()
        if manager is None:
            return Unavailable("territories", "this node runs no territory manager")
        report = await manager.ask(GetManagerHeat(), timeout=SOURCE_TIMEOUT)
        alerted = set(report.alerted)
        rows = tuple(
            HeatRow(territory, float(heat), territory in alerted)
            for territory, heat in sorted(report.heat.items(), key=lambda item: -item[1])
        )
        return Heat(manager.path, rows)

    async def _alerts(self, _: GetAlerts) -> Alerts | Unavailable:
        stability = self.sources.stability
        if stability is None:
            return Unavailable("stability", "this node runs no stability monitor")
        return Alerts(tuple(_alert_row(alert) for alert in stability.active_alerts()))

    async def _parameters(
        self, query: GetOrderParameters
    ) -> OrderParameters | Unavailable | BadQuery:
        if not 1 <= query.points <= MAX_TAIL:
            return BadQuery(
                "GetOrderParameters", f"points must be 1..{MAX_TAIL}, not {query.points}"
            )
        stability = self.sources.stability
        if stability is None:
            return Unavailable("stability", "this node runs no stability monitor")
        rows = tuple(
            ParameterRow(
                name,
                float(value),
                tuple(float(v) for v in list(stability.history(name))[-query.points :]),
            )
            for name, value in sorted(stability.snapshot().items())
        )
        return OrderParameters(rows, tuple(_alert_row(a) for a in stability.active_alerts()))

    async def _tail(self, query: LedgerTail) -> LedgerRecords | Unavailable | BadQuery:
        if not 0 <= query.count <= MAX_TAIL:
            return BadQuery("LedgerTail", f"count must be 0..{MAX_TAIL}, not {query.count}")
        ledger = self.sources.ledger
        if ledger is None:
            return Unavailable("ledger", "this node keeps no ledger (no --data-dir)")
        return LedgerRecords(tuple(_record_row(r) for r in await ledger.tail(query.count)))

    async def _verify(self, _: LedgerVerify) -> Verified | Unavailable:
        ledger = self.sources.ledger
        if ledger is None:
            return Unavailable("ledger", "this node keeps no ledger (no --data-dir)")
        report = await ledger.verify()
        fault = report.fault
        return Verified(
            ok=report.ok,
            records=report.records,
            first_seq=report.first_seq,
            head_seq=report.head_seq,
            head_hash=report.head_hash.hex(),
            base_seq=report.base_seq,
            checkpoints=report.checkpoints,
            fault=None if fault is None else str(fault),
            fault_seq=None if fault is None else fault.seq,
        )

    async def _replay(self, query: LedgerReplay) -> Replayed | Unavailable | BadQuery:
        ledger = self.sources.ledger
        if ledger is None:
            return Unavailable("ledger", "this node keeps no ledger (no --data-dir)")
        result: ReplayResult[Any]
        if query.epoch is not None:
            if query.epoch < 0:
                return BadQuery("LedgerReplay", f"epoch must be >= 0, not {query.epoch}")
            result = await ledger.replay_epoch(query.epoch)
        else:
            result = await ledger.replay(from_checkpoint=not query.from_start)
        return Replayed(
            digest=result.digest,
            records=result.records,
            start_seq=result.start_seq,
            last_seq=result.last_seq,
            checkpoint=result.checkpoint,
            epoch=result.epoch,
        )


_HANDLERS: Final[dict[type[Any], Any]] = {  # Any: each handler takes its own query type
    GetStatus: Admin._status,
    GetActors: Admin._actors,
    GetJobs: Admin._list_jobs,
    TraceJob: Admin._trace,
    GetLeases: Admin._leases,
    GetHeat: Admin._heat,
    GetAlerts: Admin._alerts,
    GetOrderParameters: Admin._parameters,
    LedgerTail: Admin._tail,
    LedgerVerify: Admin._verify,
    LedgerReplay: Admin._replay,
}
