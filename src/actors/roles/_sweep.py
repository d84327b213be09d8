"""The supervisor's liveness duty: heartbeats in, a periodic sweep, reclaiming the lost.

A tadpole that crashed (restarted by the restart engine) or stopped loses
its runs: the supervisor fails their attempts (recovery attempts follow) and
keeps at least ``tadpoles`` tadpoles.

Every heartbeat interval each running shard is assessed
(:func:`~actors.roles.assess`): at-risk tadpoles get no new work, dead ones
are stopped and their jobs reclaimed and retried, split-brain-live jobs are
kept and logged. A mixin of :class:`~actors.roles.JobSupervisor`: it reads
the job table and the tadpoles, and fails attempts through the supervisor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from protocol import Message

from ._jobs import JobState
from ._liveness import Liveness, LivenessReport, assess
from ._messages import SetThreadBudget, ShardLiveness

if TYPE_CHECKING:
    from .. import ActorContext, Terminated
    from ._config import SupervisorConfig
    from ._messages import Heartbeat, TadpoleRestarted
    from ._pods import Pod, Pods
    from ._table import JobRecord, JobTable, ShardRecord

__all__ = ["LivenessDuty", "Sweep"]


class Sweep(Message, tag="roles.sweep"):
    """The supervisor's own periodic timer: assess every running shard."""


class LivenessDuty:
    """Heartbeats, sweeps and liveness queries; see the module docstring."""

    config: SupervisorConfig
    table: JobTable
    pods: Pods
    _ctx: ActorContext
    _log: Any  # Any: a structlog logger
    _sweeping: bool

    def _now(self) -> float:
        raise NotImplementedError

    def _fail_attempt(self, job: JobRecord, reason: str, *, retry: bool = True) -> None:
        raise NotImplementedError

    def _schedule(self) -> None:
        raise NotImplementedError

    def _on_heartbeat(self, beat: Heartbeat) -> None:
        pod = self.pods.get(beat.tadpole_id)
        if pod is not None and pod.at_risk:
            pod.at_risk = False
            self._log.info("tadpole_recovered", tadpole_id=beat.tadpole_id)
        now = self._now()
        jobs = self.table.jobs
        reported: set[tuple[str, int, int]] = set()
        for entry in beat.jobs:
            key = (entry.job_id, entry.attempt, entry.shard)
            reported.add(key)
            job = jobs.get(entry.job_id)
            shard = None if job is None else job.shards.get(entry.shard)
            if (
                job is None
                or job.attempt != entry.attempt
                or job.state is not JobState.RUNNING
                or shard is None
                or shard.tadpole_id != beat.tadpole_id
            ):
                # The worker runs what the control view does not give it.
                self._log.warning(
                    "job_split_brain",
                    job_id=entry.job_id,
                    tadpole_id=beat.tadpole_id,
                    reason="the worker reports a run the control view does not assign it",
                    action=Liveness.SPLIT_BRAIN_LIVE.action,
                )
                continue
            shard.last_beat = now
            shard.disagreement = ""
            if entry.progress != shard.progress:
                shard.progress = entry.progress
                shard.progress_at = now
        if pod is None:
            return
        grace = self.config.liveness.heartbeat_interval
        for job_id, attempt, shard_no in pod.active - reported:
            job = jobs.get(job_id)
            shard = None if job is None else job.shards.get(shard_no)
            if (
                job is None
                or shard is None
                or job.attempt != attempt
                or shard.tadpole_id != beat.tadpole_id
                or beat.at < shard.started_at + grace  # the run may not have reached it yet
            ):
                continue
            shard.worker_beat = now
            shard.disagreement = (
                f"the control view has shard {shard_no} of attempt {attempt} running on "
                f"tadpole {beat.tadpole_id}, whose heartbeats do not report it"
            )

    def _on_tadpole_restarted(self, message: TadpoleRestarted) -> None:
        pod = self.pods.get(message.tadpole_id)
        if pod is None:
            return
        pod.incarnation = message.incarnation
        pod.at_risk = False
        if pod.budget != self.config.thread_budget:
            pod.ref.tell(SetThreadBudget(threads=pod.budget))
        self._runs_lost(message.tadpole_id, pod, f"tadpole crashed: {message.reason}")
        self._schedule()

    def _on_terminated(self, message: Terminated) -> None:
        removed = self.pods.remove(message.path)
        if removed is None:
            return
        tadpole_id, pod = removed
        self._runs_lost(tadpole_id, pod, f"tadpole stopped: {message.reason}")
        while len(self.pods) < self.config.tadpoles and self.pods.can_spawn():
            self.pods.spawn(self._ctx)
        self._schedule()

    def _runs_lost(self, tadpole_id: str, pod: Pod, reason: str) -> None:
        runs, pod.active = pod.active, set()
        for job_id, attempt, shard_no in sorted(runs):
            job = self.table.jobs.get(job_id)
            if job is None:
                continue
            shard = job.shards.get(shard_no)
            if (
                job.state is JobState.RUNNING
                and job.attempt == attempt
                and shard is not None
                and shard.tadpole_id == tadpole_id
            ):
                del job.shards[shard_no]
                self.table.reclaimed += 1
                self._fail_attempt(job, reason)
            else:
                self.table.drained(job, (tadpole_id, attempt, shard_no))

    def _ensure_sweep(self) -> None:
        if not self._sweeping:
            self._sweeping = True
            interval = self.config.liveness.heartbeat_interval
            self._ctx.timers.send_periodically(interval, Sweep(), key="sweep")

    def _assess(self, job: JobRecord, shard: ShardRecord, now: float) -> LivenessReport:
        beat = shard.last_beat
        if shard.disagreement and shard.worker_beat is not None:
            beat = shard.worker_beat if beat is None else max(beat, shard.worker_beat)
        return assess(
            self.config.liveness,
            now=now,
            started_at=shard.started_at,
            last_heartbeat=beat,
            disagreement=shard.disagreement,
            last_progress_at=shard.progress_at,
            expected_duration=job.spec.expected_duration_seconds,
        )

    def _sweep(self, _: Sweep | None = None) -> None:
        now = self._now()
        unhealthy = False
        log = self._log
        table = self.table
        for job_id in list(table.running):
            job = table.jobs[job_id]
            for shard_no, shard in list(job.shards.items()):
                report = self._assess(job, shard, now)
                previous, shard.liveness = shard.liveness, report.state
                state = report.state
                if state is Liveness.DEAD:
                    unhealthy = True
                    log.warning(
                        "tadpole_lost",
                        job_id=job_id,
                        tadpole_id=shard.tadpole_id,
                        reason=report.reason,
                        action=report.action,
                    )
                    self._reclaim(job, shard_no, shard, report)
                    break
                if state is Liveness.AT_RISK:
                    unhealthy = True
                    pod = self.pods.get(shard.tadpole_id)
                    if pod is not None and not pod.at_risk:
                        pod.at_risk = True
                        log.warning(
                            "tadpole_at_risk",
                            job_id=job_id,
                            tadpole_id=shard.tadpole_id,
                            reason=report.reason,
                            action=report.action,
                        )
                elif state is Liveness.SPLIT_BRAIN_LIVE and previous is not state:
                    log.warning(
                        "job_split_brain",
                        job_id=job_id,
                        tadpole_id=shard.tadpole_id,
                        reason=report.reason,
                        action=report.action,
                    )
        if unhealthy and not table.unhealthy:
            table.window.unhealthy()
        table.unhealthy = unhealthy
        if not table.running and self._sweeping:
            self._sweeping = False
            self._ctx.cancel_timer("sweep")

    def _reclaim(
        self, job: JobRecord, shard_no: int, shard: ShardRecord, report: LivenessReport
    ) -> None:
        pod = self.pods.get(shard.tadpole_id)
        self.table.reclaimed += 1
        self._fail_attempt(job, f"tadpole {shard.tadpole_id} lost: {report.reason}")
        if pod is not None and not pod.stopping:
            pod.stopping = True
            self._ctx.stop(pod.ref)

    def _liveness(self, job_id: str) -> tuple[ShardLiveness, ...]:
        job = self.table.jobs.get(job_id)
        if job is None:
            return ()
        now = self._now()
        return tuple(
            ShardLiveness(shard=n, tadpole_id=s.tadpole_id, report=self._assess(job, s, now))
            for n, s in sorted(job.shards.items())
        )
