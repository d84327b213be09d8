"""The job table, as plain data (no actors): what the supervisor knows of its jobs.

:class:`JobTable` holds every job and its lifecycle; the
:class:`~actors.roles.JobSupervisor` actor only translates messages into
table operations and carries out what the table asks of the world through a
:class:`TableEffects` (records, events, waking waiters, admission and
starting, which need tadpoles, pools and timers). Tested alone against a
model (``tests/property/test_roles_job_table.py``).

Lifecycle::

    submitted -> queued -> running -> completed
                  ^  |          |  -> needs_review -> completed (accepted)
                  |  |          `-> failed (attempts left: a recovery attempt,
                  |  |                 same id, next attempt, back to queued)
                  |  `-> failed (cancelled, or a dependency failed for good)
                  `---- retry on acknowledgement (amended input kept)

* **attempts**: a retry keeps the job's identity and counts attempts
  (``max_attempts`` on failures; an acknowledgement may retry beyond it).
* **unread**: a settled job (terminal, or ``needs_review``) is unread until
  acknowledged, and holds a window slot until then (``auto_acknowledge``
  reads completed and failed jobs at once). A job starts only while
  ``running + unread < window``: see :meth:`JobTable.has_room`.
* **dependencies**: a job waits until the jobs it depends on completed
  (:mod:`actors.roles._deps`); one failing for good fails it.
* **evidence**: a completion without its declared evidence stops at
  ``needs_review`` (:mod:`actors.roles._outcome`).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from ._deps import Dependencies
from ._entries import JobRecord, ShardRecord, TableEffects, check_new, split
from ._errors import InvalidJob, UnknownJob
from ._jobs import Acknowledgement, JobSpec, JobState, JobView, validate_job
from ._messages import Acknowledge, Acknowledged, Refused, Rejected, Submitted
from ._outcome import Acceptance, bound_result, judge

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ._scoring import Channel
    from ._window import ConcurrencyWindow

__all__ = ["JobRecord", "JobTable", "ShardRecord", "TableEffects"]


class JobTable:
    """Every job of one supervisor; see the module docstring."""

    def __init__(
        self,
        effects: TableEffects,
        window: ConcurrencyWindow,
        *,
        max_attempts: int = 3,
        max_result_bytes: int = 65_536,
        auto_acknowledge: bool = False,
        acceptance: Mapping[str, Acceptance] | None = None,
        tadpole_limit: int = 32,
    ) -> None:
        self.effects = effects
        self.window = window
        self.max_attempts = max_attempts
        self.max_result_bytes = max_result_bytes
        self.auto_acknowledge = auto_acknowledge
        self.acceptance = dict(acceptance or {})
        self.tadpole_limit = tadpole_limit
        self.log: Any = structlog.get_logger("actors.roles")  # Any: a structlog logger
        self.jobs: dict[str, JobRecord] = {}
        self.intake: deque[str] = deque()
        """Accepted, waiting for admission (to the balancer)."""
        self.ready: deque[str] = deque()
        """Dispatched (or requeued), waiting for room to start."""
        self.running: dict[str, None] = {}
        self.deps = Dependencies()
        self.unread_held = 0
        """Settled jobs not yet acknowledged: each holds a window slot."""
        self.unhealthy = False
        self.rejected = 0
        self.retries = 0
        self.reclaimed = 0
        self.latencies: list[float] = []
        self.per_channel: dict[str, int] = {}

    # -- reading -------------------------------------------------------------------------

    def view(self, job: JobRecord) -> JobView:
        return job.view(self.deps.waiting_on(job.spec.job_id))

    def find(self, job_id: str) -> JobView | None:
        job = self.jobs.get(job_id)
        return None if job is None else self.view(job)

    def listing(self, state: str | None = None, unread: bool | None = None) -> tuple[JobView, ...]:
        """Views of the jobs in ``state`` (a value) and with ``unread`` (``None``: any)."""
        return tuple(
            self.view(job)
            for job in self.jobs.values()
            if (state is None or job.state.value == state)
            and (unread is None or job.unread == unread)
        )

    def has_room(self) -> bool:
        """Whether the concurrency window lets one more job start."""
        return len(self.running) + self.unread_held < self.window.size

    def counts(self) -> dict[JobState, int]:
        counts = dict.fromkeys(JobState, 0)
        for job in self.jobs.values():
            counts[job.state] += 1
        return counts

    def unread(self) -> int:
        return sum(job.unread for job in self.jobs.values())

    def undispatched(self) -> list[JobRecord]:
        """Admitted queued jobs the balancer has not dispatched (it restarted meanwhile)."""
        return [
            job
            for job in self.jobs.values()
            if job.state is JobState.QUEUED and job.admitted and not job.dispatched
        ]

    # -- intake --------------------------------------------------------------------------

    def accept(self, spec: JobSpec, now: float) -> Submitted | Rejected:
        """Check ``spec`` and queue it (or make it wait for its dependencies)."""
        try:
            check_new(spec, self.jobs, self.tadpole_limit, self.acceptance)
        except InvalidJob as exc:
            self.rejected += 1
            job_id = spec.job_id if isinstance(spec.job_id, str) else repr(spec.job_id)
            self.effects.rejected(job_id, exc)
            return Rejected(
                job_id=job_id,
                field=exc.field,
                problem=exc.problem,
                value=repr(exc.value),
                error=str(exc),
            )
        job = self.jobs[spec.job_id] = JobRecord(spec, now)
        self.effects.changed(job, None, "submitted", False, None)
        if not self.wait_for(job, spec.metadata.get("depends_on", ())):
            self.intake.append(spec.job_id)
            self.effects.admit()
        return Submitted(job_id=spec.job_id)

    def dispatched(self, job_id: str, channel: Channel, lineage: str | None) -> bool:
        """The balancer chose ``channel``: the job is ready to start (false: stale)."""
        job = self.jobs.get(job_id)
        if job is None or job.state is not JobState.QUEUED or job.dispatched:
            return False
        job.dispatched = True
        job.channel = channel
        job.lineage = lineage
        self.ready.append(job_id)
        return True

    # -- dependencies --------------------------------------------------------------------

    def wait_for(self, job: JobRecord, others: Sequence[str]) -> bool:
        """Make ``job`` wait for the ``others`` not completed yet; true if it waits."""

        def completed(job_id: str) -> bool:
            found = self.jobs.get(job_id)
            return found is not None and found.state is JobState.COMPLETED

        on = self.deps.wait(job.spec.job_id, others, completed)
        if on:
            self.log.info("job_waiting", job_id=job.spec.job_id, on=sorted(on))
        return bool(on)

    def _release_dependents(self, job: JobRecord) -> None:
        """``job`` settled: its dependents run (completed) or fail (it failed for good)."""
        job_id = job.spec.job_id
        ready, failed = self.deps.settle(job_id, completed=job.state is JobState.COMPLETED)
        for dependent_id in failed:
            self._end_waiting(
                self.jobs[dependent_id], f"dependency {job_id!r} ended {job.state.value}"
            )
        for dependent_id in ready:
            dependent = self.jobs[dependent_id]
            if dependent.attempt == 1 and not dependent.admitted:
                self.intake.append(dependent_id)
                self.effects.admit()
            else:
                self.requeue(dependent)

    def _end_waiting(self, job: JobRecord, reason: str) -> None:
        job.final = True
        job.retry_pending = False
        self._mark_unread(job)
        self._transition(job, JobState.FAILED, reason, final=True)
        self._settle(job)

    # -- running and outcomes ------------------------------------------------------------

    def start(self, job: JobRecord, now: float) -> None:
        """``job`` (queued, its shards assigned) runs."""
        job.started_at = now
        self.running[job.spec.job_id] = None
        self._transition(job, JobState.RUNNING, "")

    def complete(self, job: JobRecord, now: float) -> None:
        """Every shard of ``job`` returned: completed, or needs_review without evidence."""
        spec = job.spec
        self.running.pop(spec.job_id, None)
        job.finished_at = now
        self.latencies.append(now - job.submitted_at)
        channel = job.channel.value if job.channel is not None else "none"
        self.per_channel[channel] = self.per_channel.get(channel, 0) + 1
        self.window.record(True, healthy=not self.unhealthy)
        results, job.results = job.results, {}
        raw = results.get(0) if len(results) <= 1 else [results[n] for n in sorted(results)]
        job.result = bound_result(raw, self.max_result_bytes)
        verdict = judge(spec.metadata.get("acceptance"), raw, self.acceptance)
        job.evidence = verdict.evidence
        self._mark_unread(job)
        extra = {"result": job.result, "evidence": verdict.evidence}
        if verdict.done:
            job.final = True
            self._transition(job, JobState.COMPLETED, "", final=True, extra=extra)
        else:
            self.log.info("job_needs_review", job_id=spec.job_id, evidence=verdict.evidence)
            self._transition(job, JobState.NEEDS_REVIEW, verdict.evidence, extra=extra)
        self._settle(job)

    def fail(self, job: JobRecord, reason: str, now: float, *, retry: bool = True) -> bool:
        """The running attempt of ``job`` failed; true if a recovery attempt is due later."""
        self.running.pop(job.spec.job_id, None)
        job.finished_at = now
        retry = retry and not job.cancel_requested and job.attempt < self.max_attempts
        self.window.record(False, healthy=not self.unhealthy)
        if retry:
            self._transition(job, JobState.FAILED, reason)
            self.retries += 1
            return True
        job.final = True
        self._mark_unread(job)
        self._transition(job, JobState.FAILED, reason, final=True)
        self._settle(job)
        return False

    def retry_due(self, job_id: str, attempt: int) -> None:
        """The backoff of ``attempt`` ran out: requeue once its runs have all ended."""
        job = self.jobs.get(job_id)
        if job is None or job.state is not JobState.FAILED or job.final or job.attempt != attempt:
            return
        if job.draining:
            job.retry_pending = True  # the failed attempt's runs have not all ended yet
        else:
            self.requeue(job)

    def drained(self, job: JobRecord, run: tuple[str, int, int]) -> None:
        """A run of an earlier attempt of ``job`` ended."""
        job.draining.discard(run)
        if job.retry_pending and not job.draining:
            self.requeue(job)

    def requeue(self, job: JobRecord, reason: str = "recovery attempt") -> None:
        """The next attempt of ``job``: same identity, attempt + 1, ready to start."""
        job.retry_pending = False
        job.attempt += 1
        job.cancel_requested = False
        job.final = False
        self._mark_read(job)
        job.finished_at = None
        job.result = None
        job.evidence = ""
        self._transition(job, JobState.QUEUED, reason)
        self.ready.append(job.spec.job_id)
        self.effects.schedule()

    # -- requests ------------------------------------------------------------------------

    def cancel(self, job_id: str) -> JobView | Refused:
        job = self.jobs.get(job_id)
        if job is None:
            return Refused(job_id=job_id, error=str(UnknownJob(job_id)), unknown=True)
        if job.settled:
            return Refused(job_id=job_id, error=f"job {job_id!r} has already ended")
        job.cancel_requested = True
        if job.state is JobState.RUNNING:
            self.effects.abort(job, "cancelled")
        else:  # queued, waiting, or failed and waiting for a recovery attempt
            self.deps.cancel(job_id)
            self._end_waiting(job, "cancelled")
        return self.view(job)

    def acknowledge(self, request: Acknowledge, now: float) -> Acknowledged | Refused:
        job = self.jobs.get(request.job_id)
        if job is None:
            return Refused(
                job_id=request.job_id, error=str(UnknownJob(request.job_id)), unknown=True
            )
        if not (job.settled and job.unread):
            return Refused(
                job_id=request.job_id,
                error=f"job {request.job_id!r} is not an unread terminal job "
                f"(state {job.state.value}, unread {job.unread})",
            )
        action = request.action
        if action is Acknowledgement.SPLIT:
            parts = split(job.spec, request.parts, self.jobs)
            if isinstance(parts, Refused):
                return parts
            self._mark_read(job)
            if not job.final:  # a needs_review job split: this one ends here
                job.final = True
                self._transition(job, JobState.FAILED, "split", final=True)
                self._release_dependents(job)
            new_jobs = []
            for part in parts:
                reply = self.accept(part, now)
                if isinstance(reply, Submitted):
                    new_jobs.append(reply.job_id)
            self.effects.schedule()
            return Acknowledged(job_id=request.job_id, action=action, new_jobs=tuple(new_jobs))
        if action is Acknowledgement.RETRY:
            refused = self._retry(job, request)
            if refused is not None:
                return refused
        else:
            self._mark_read(job)
            if job.state is JobState.NEEDS_REVIEW:  # the external acknowledgement is the evidence
                job.final = True
                job.evidence = "acknowledged"
                self._transition(
                    job,
                    JobState.COMPLETED,
                    "accepted on review",
                    final=True,
                    extra={"result": job.result, "evidence": job.evidence},
                )
                self._settle(job)
        self.effects.schedule()
        return Acknowledged(job_id=request.job_id, action=action)

    def _retry(self, job: JobRecord, request: Acknowledge) -> Refused | None:
        job_id = job.spec.job_id
        after = request.after
        if after is not None and (after == job_id or after not in self.jobs):
            return Refused(job_id=job_id, error=f"retry after {after!r}: no such other job")
        if request.amend is not None:
            try:
                amended = msgspec.structs.replace(
                    job.spec, metadata={**job.spec.metadata, **request.amend}
                )
                validate_job(amended)
            except (InvalidJob, TypeError) as exc:
                return Refused(job_id=job_id, error=f"cannot amend: {exc}")
            job.spec = amended
        reason = "retry (amended)" if request.amend is not None else "retry"
        if after is not None and self.wait_for(job, (after,)):
            # Waits (queued, not ready); the attempt is counted when the wait ends.
            self._mark_read(job)
            job.final = False
            self._transition(job, JobState.QUEUED, f"{reason}, waiting for {after!r}")
            return None
        self.requeue(job, reason)
        return None

    # -- transitions, unread, settling ---------------------------------------------------

    def _transition(
        self,
        job: JobRecord,
        to: JobState,
        reason: str,
        *,
        final: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> None:
        previous = job.state
        job.state = to
        job.reason = reason
        self.effects.changed(job, previous, reason, final, extra)

    def _mark_unread(self, job: JobRecord) -> None:
        if not job.unread:
            job.unread = True
            self.unread_held += 1

    def _mark_read(self, job: JobRecord) -> None:
        if job.unread:
            job.unread = False
            self.unread_held -= 1

    def _settle(self, job: JobRecord) -> None:
        if self.auto_acknowledge and job.state is not JobState.NEEDS_REVIEW:
            self._mark_read(job)
        self.effects.settled(job, self.view(job))
        if job.final:
            self._release_dependents(job)
        self.effects.schedule()
