"""The rows of the job table, and the rules a new row must meet.

:class:`JobRecord` is one job as its supervisor knows it, :class:`ShardRecord`
one running shard of it; :class:`TableEffects` is what the table asks of the
world (the supervisor actor provides it); :func:`check_new` is the intake
contract beyond the job's own fields (unique id, tadpoles, acceptance,
dependencies), and :func:`split` makes the parts of a job split on
acknowledgement.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from ._errors import InvalidJob
from ._jobs import JobSpec, JobState, JobView, ResourceRequest, validate_job
from ._liveness import Liveness
from ._messages import Refused
from ._outcome import EXTERNAL

if TYPE_CHECKING:
    from collections.abc import Collection, Container

    from ._scoring import Channel

__all__ = ["JobRecord", "ShardRecord", "TableEffects", "check_new", "split"]


class ShardRecord:
    """One running shard of a job: which tadpole, and what liveness knows of it."""

    __slots__ = (
        "disagreement",
        "last_beat",
        "liveness",
        "progress",
        "progress_at",
        "started_at",
        "tadpole_id",
        "worker_beat",
    )

    def __init__(self, tadpole_id: str, now: float) -> None:
        self.tadpole_id = tadpole_id
        self.started_at = now
        self.last_beat: float | None = None
        self.progress = 0.0
        self.progress_at: float | None = None
        self.liveness = Liveness.LIVE
        self.disagreement = ""
        """How the worker's own state disagrees with this assignment (empty: it agrees)."""
        self.worker_beat: float | None = None
        """The worker's last beat while it disagreed (it is alive, just not reporting this)."""


class JobRecord:
    """One job of the table: its spec, state, attempt and what it produced."""

    __slots__ = (
        "admitted",
        "attempt",
        "cancel_requested",
        "channel",
        "dispatched",
        "draining",
        "evidence",
        "final",
        "finished_at",
        "lineage",
        "reason",
        "result",
        "results",
        "retry_pending",
        "shards",
        "spec",
        "started_at",
        "state",
        "submitted_at",
        "unread",
    )

    def __init__(self, spec: JobSpec, now: float) -> None:
        self.spec = spec
        self.state = JobState.QUEUED
        self.attempt = 1
        self.channel: Channel | None = None
        self.lineage: str | None = None
        self.cancel_requested = False
        self.unread = False
        self.final = False
        self.reason = ""
        self.submitted_at = now
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.shards: dict[int, ShardRecord] = {}
        self.draining: set[tuple[str, int, int]] = set()
        """Runs of a failed attempt not ended yet: (tadpole id, attempt, shard)."""
        self.retry_pending = False
        self.admitted = False
        self.dispatched = False
        self.results: dict[int, Any] = {}  # Any: handlers' return values, per shard
        self.result: Any = None
        self.evidence = ""

    @property
    def settled(self) -> bool:
        """Ended, or stopped at ``needs_review``: what a reader acknowledges."""
        return self.final or self.state is JobState.NEEDS_REVIEW

    def view(self, waiting_on: frozenset[str] = frozenset()) -> JobView:
        return JobView(
            job_id=self.spec.job_id,
            state=self.state,
            attempt=self.attempt,
            channel=self.channel,
            unread=self.unread,
            cancel_requested=self.cancel_requested,
            tadpoles=tuple(shard.tadpole_id for shard in self.shards.values()),
            reason=self.reason,
            submitted_at=self.submitted_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
            lineage_digest=self.lineage,
            result=self.result,
            evidence=self.evidence,
            waiting_on=tuple(sorted(waiting_on)),
        )


def check_new(
    spec: JobSpec, jobs: Container[str], tadpole_limit: int, acceptance: Collection[str]
) -> None:
    """Raise :class:`InvalidJob` naming the field if ``spec`` may not join ``jobs``."""
    validate_job(spec)
    if spec.job_id in jobs:
        raise InvalidJob("job_id", "is already known", spec.job_id, job_id=spec.job_id)
    if spec.tadpole_count > tadpole_limit:
        raise InvalidJob(
            "tadpole_count",
            f"exceeds the {tadpole_limit} tadpoles this supervisor can run",
            spec.tadpole_count,
            job_id=spec.job_id,
        )
    declared = spec.metadata.get("acceptance")
    if declared not in (None, EXTERNAL, *acceptance):
        raise InvalidJob(
            "metadata.acceptance",
            f"names no predicate registered with this supervisor "
            f"(known: {sorted(acceptance)}, or {EXTERNAL!r})",
            declared,
            job_id=spec.job_id,
        )
    for other in spec.metadata.get("depends_on", ()):
        if other not in jobs:
            raise InvalidJob(
                "metadata.depends_on",
                f"names unknown job {other!r}",
                list(spec.metadata["depends_on"]),
                job_id=spec.job_id,
            )


def split(spec: JobSpec, parts: int, jobs: Container[str]) -> list[JobSpec] | Refused:
    """``spec`` as ``parts`` jobs sharing its resources, or why it cannot split."""
    if not 2 <= parts <= 64:
        return Refused(job_id=spec.job_id, error=f"split needs 2..64 parts, got {parts}")
    resources = spec.requested_resources
    share = ResourceRequest(
        compute_units=math.ceil(resources.compute_units / parts),
        memory_mb=math.ceil(resources.memory_mb / parts),
        bandwidth_mbps=math.ceil(resources.bandwidth_mbps / parts),
    )
    specs = [
        msgspec.structs.replace(
            spec,
            job_id=f"{spec.job_id}.part{i}",
            requested_resources=share,
            tadpole_count=max(1, spec.tadpole_count // parts),
            metadata={**spec.metadata, "split_from": spec.job_id},
        )
        for i in range(1, parts + 1)
    ]
    for part in specs:
        try:
            validate_job(part)
        except InvalidJob as exc:
            return Refused(job_id=spec.job_id, error=f"cannot split: {exc}")
        if part.job_id in jobs:
            return Refused(job_id=spec.job_id, error=f"cannot split: {part.job_id!r} exists")
    return specs


class TableEffects(Protocol):
    """What the table asks of the world; the supervisor actor is one."""

    def changed(
        self,
        job: JobRecord,
        previous: JobState | None,
        reason: str,
        final: bool,
        extra: dict[str, Any] | None,
    ) -> None:
        """``job`` moved from ``previous`` (``None``: it was just submitted): record, publish."""

    def rejected(self, job_id: str, error: InvalidJob) -> None:
        """A submission broke the contract (nothing was queued)."""

    def settled(self, job: JobRecord, view: JobView) -> None:
        """``job`` reached a state a reader acknowledges: wake who awaits it."""

    def abort(self, job: JobRecord, reason: str) -> None:
        """Stop ``job``'s running attempt for good (:meth:`JobTable.fail` with ``retry=False``)."""

    def admit(self) -> None:
        """Jobs joined :attr:`JobTable.intake`: admit them (rate-limited)."""

    def schedule(self) -> None:
        """Jobs may be able to start: try the :attr:`JobTable.ready` queue."""
