"""What the supervisor writes: ledger records, topic events, logs; resources and saturation.

A mixin of :class:`~actors.roles.JobSupervisor`. Every job transition is
appended to the ledger (``roles.job``), logged and published on
``control_plane.job_events``; every allocation and release is recorded
(``roles.allocate``, ``roles.release``) and published on
``control_plane.resource_updates``; saturation of the pools is mitigated
(more tadpoles, more threads) and recorded (``roles.mitigate``) until it
clears.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ._jobs import JobEvent, JobState, JobView
from ._messages import JOB_EVENTS, RESOURCE_UPDATES, ResourceUpdate, SupervisorStatistics
from ._records import ALLOCATE, JOB, MITIGATE, RELEASE, RecordSink, append_record

if TYPE_CHECKING:
    from .. import ActorContext, Topics
    from ._entries import JobRecord
    from ._errors import InvalidJob
    from ._pods import Pods
    from ._resources import Allocation, ResourcePools
    from ._table import JobTable
    from ._window import ConcurrencyWindow

__all__ = ["Publishing"]


class Publishing:
    """Records, events, resource accounting and statistics; see the module docstring."""

    pools: ResourcePools
    pods: Pods
    mitigations: int
    _ledger: RecordSink | None
    _topics: Topics
    _ctx: ActorContext
    _log: Any  # Any: a structlog logger
    _saturated: bool

    table: JobTable
    window: ConcurrencyWindow

    def _now(self) -> float:
        raise NotImplementedError

    def _changed(
        self,
        job: JobRecord,
        previous: JobState | None,
        reason: str,
        final: bool,
        extra: dict[str, Any] | None,
    ) -> None:
        spec = job.spec
        tadpoles = tuple(shard.tadpole_id for shard in job.shards.values())
        channel = job.channel.value if job.channel is not None else None
        append_record(
            self._ledger,
            JOB,
            {
                "job_id": spec.job_id,
                "from": None if previous is None else previous.value,
                "to": job.state.value,
                "attempt": job.attempt,
                "reason": reason,
                "final": final,
                "channel": channel,
                "tadpoles": list(tadpoles),
                **(extra or {}),
            },
        )
        log = self._log
        if job.state is JobState.FAILED:
            log.info(
                "job_failed", job_id=spec.job_id, attempt=job.attempt, reason=reason, final=final
            )
        else:
            log.debug(
                "job_transition", job_id=spec.job_id, state=job.state.value, attempt=job.attempt
            )
        self._topics.publish(
            JOB_EVENTS,
            JobEvent(
                job_id=spec.job_id,
                state=job.state.value,
                attempt=job.attempt,
                at=self._now(),
                reason=reason,
                final=final,
                channel=channel,
                tadpoles=tadpoles,
            ),
        )

    def _rejected(self, job_id: str, error: InvalidJob) -> None:
        self._log.warning("job_rejected", job_id=job_id, field=error.field, error=str(error))
        self._topics.publish(
            JOB_EVENTS,
            JobEvent(
                job_id=job_id,
                state="rejected",
                attempt=0,
                at=self._now(),
                reason=str(error),
                final=True,
            ),
        )

    def _record_allocation(self, job: JobRecord, allocation: Allocation) -> None:
        append_record(
            self._ledger,
            ALLOCATE,
            {
                "job_id": job.spec.job_id,
                "attempt": job.attempt,
                "requested": list(allocation.requested.as_tuple()),
                "granted": list(allocation.granted.as_tuple()),
                "weight": allocation.weight,
                "best_effort": allocation.best_effort,
            },
        )
        self._publish_resources("allocate", job.spec.job_id)

    def _release(self, job: JobRecord) -> None:
        allocation = self.pools.release(job.spec.job_id)
        if allocation is None:
            return
        append_record(
            self._ledger,
            RELEASE,
            {
                "job_id": job.spec.job_id,
                "attempt": job.attempt,
                "granted": list(allocation.granted.as_tuple()),
            },
        )
        self._publish_resources("release", job.spec.job_id)
        if self._saturated and not self.pools.saturated:
            self._saturated = False
            self.pods.lower_budgets()
            threads = self.pods.threads
            utilization = self.pools.utilization()
            self._log.info("saturation_cleared", utilization=utilization, threads=threads)
            append_record(
                self._ledger,
                MITIGATE,
                {"utilization": utilization, "spawned": 0, "threads": threads, "cleared": True},
            )
            self._publish_resources("cleared", "")

    def _check_saturation(self) -> None:
        if self._saturated or not self.pools.saturated:
            return
        self._saturated = True
        self.mitigations += 1
        spawned = self.pods.mitigate(self._ctx)
        utilization = self.pools.utilization()
        threads = self.pods.threads
        self._log.warning(
            "saturation_mitigated",
            utilization=round(utilization, 4),
            tadpoles_spawned=spawned,
            tadpoles=len(self.pods),
            threads=threads,
        )
        append_record(
            self._ledger,
            MITIGATE,
            {"utilization": utilization, "spawned": spawned, "threads": threads},
        )
        self._publish_resources("mitigated", "")

    def _publish_resources(self, action: str, job_id: str) -> None:
        self._topics.publish(
            RESOURCE_UPDATES,
            ResourceUpdate(
                action=action,
                job_id=job_id,
                free=self.pools.free,
                utilization=self.pools.utilization(),
                at=self._now(),
            ),
        )

    def listing(self, state: str | None = None, unread: bool | None = None) -> tuple[JobView, ...]:
        """What :class:`~actors.roles.ListJobs` answers, read synchronously in this process.

        For an observer on the supervisor's event loop that must not wait (the
        node's dashboard); anyone else asks ``ListJobs``.
        """
        return self.table.listing(state, unread)

    def statistics(self) -> SupervisorStatistics:
        table = self.table
        counts = table.counts()
        latencies = sorted(table.latencies)
        return SupervisorStatistics(
            submitted=len(table.jobs),
            rejected=table.rejected,
            queued=counts[JobState.QUEUED],
            running=counts[JobState.RUNNING],
            completed=counts[JobState.COMPLETED],
            failed=counts[JobState.FAILED],
            retries=table.retries,
            reclaimed=table.reclaimed,
            unread=table.unread(),
            window=self.window.size,
            tadpoles=len(self.pods),
            threads=self.pods.threads,
            utilization=self.pools.utilization(),
            saturated=self._saturated,
            mitigations=self.mitigations,
            free=self.pools.free,
            per_channel=dict(sorted(table.per_channel.items())),
            latency_p50=_percentile(latencies, 0.50),
            latency_p90=_percentile(latencies, 0.90),
            latency_p99=_percentile(latencies, 0.99),
            needs_review=counts[JobState.NEEDS_REVIEW],
            waiting=len(table.deps),
        )


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]
