"""The job supervisor: owns job outcomes, as an OTP supervisor owns its children.

Its tadpoles (and its balancer) are its children under the runtime's one
restart engine (``supervisor_flags``): a crashed tadpole is restarted by that
engine, and tells its supervisor, which reclaims the runs it lost. The
supervisor itself adds what jobs need on top:

* **intake**: :class:`SubmitJob` is checked against the contract
  (:func:`~actors.roles.parse_job`); a bad job is answered with
  :class:`Rejected` naming the field and is not queued. Nothing else changes.
* **admission**: accepted jobs are queued at once and handed to the balancer
  at a bounded rate (a token bucket), never dropped;
* **balancing**: the balancer child scores each job and dispatches it to a
  channel, with lineage;
* **start** (queued -> running) when the concurrency window has room, the
  pools grant resources and enough tadpoles have room (spawning more up to
  ``max_tadpoles``): allocate and spawn;
* **completion** (running -> completed): release, record metrics (latency,
  window, reward weight), notify; **failure** (running -> failed): release,
  publish, schedule a recovery attempt with backoff if attempts remain.
  A retry keeps the job's id, increments its attempt and clears its cancel
  flag; it starts only once every run of the failed attempt has ended.
* **liveness**: every heartbeat interval each running shard is assessed
  (:func:`~actors.roles.assess`): at-risk tadpoles get no new work, dead ones
  are stopped and their jobs reclaimed and retried, split-brain-live jobs are
  kept and logged.
* a terminal job stays **unread** until acknowledged (accept, retry, split),
  and holds its place in the concurrency window until then: only an
  acknowledgement lets the window refill (unless ``auto_acknowledge``);
* **results and evidence**: a handler's return value is kept with its job
  (bounded, :mod:`actors.roles._outcome`), shown by the job views, recorded
  with the completion and returned by :func:`await_job`. A job that declared
  acceptance evidence and lacks it ends ``needs_review``, never "completed";
* **dependencies**: a job may wait for others (``metadata.depends_on``, or a
  retry ``after`` another job) and runs once they have completed.

Every transition is published on ``control_plane.job_events``; every
allocation and release on ``control_plane.resource_updates``; all of them,
and the mitigation of saturation, are appended to the ledger.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any, ClassVar

from protocol import Message

from .._actor import Actor
from .._mailbox import MailboxConfig
from .._watch import Terminated
from ..supervision._spec import Backoff, ChildSpec, SupervisorFlags
from ._balancer import Balancer, BalancerRestarted, CycleHook, SubmitTask
from ._classify import classify
from ._client import acknowledge, await_job, submit_job
from ._config import SupervisorConfig
from ._errors import UnknownJob
from ._jobs import JobEvent, JobState, JobView
from ._messages import (
    JOB_EVENTS,
    RESOURCE_UPDATES,
    Acknowledge,
    AwaitJob,
    CancelJob,
    GetJob,
    GetLiveness,
    GetStatistics,
    GetTadpoles,
    ListJobs,
    Refused,
    ResourceUpdate,
    Reward,
    SubmitJob,
    SupervisorStatistics,
)
from ._planner import Dispatched
from ._pods import Pod, Pods
from ._records import ALLOCATE, JOB, MITIGATE, RELEASE, RecordSink, append_record
from ._resources import Allocation, ResourcePools
from ._sweep import LivenessDuty, Sweep
from ._table import JobRecord, JobTable, ShardRecord
from ._tadpole import (
    CancelRun,
    Handler,
    Heartbeat,
    JobReport,
    RunJob,
    SetThreadBudget,
    Tadpole,
    TadpoleRestarted,
    ThreadPool,
)
from ._window import AdmissionGate, ConcurrencyWindow

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from .._ref import ActorRef
    from ._errors import InvalidJob
    from ._outcome import Acceptance

__all__ = ["JobSupervisor", "SupervisorConfig", "acknowledge", "await_job", "submit_job"]


class _RetryDue(Message, tag="roles.retry_due"):
    job_id: str
    attempt: int


class _Admit(Message, tag="roles.admit"):
    pass


class _Effects:
    """The supervisor's side of its job table (:class:`TableEffects`): its own methods."""

    __slots__ = ("abort", "admit", "changed", "rejected", "schedule", "settled")

    def __init__(self, supervisor: JobSupervisor) -> None:
        self.changed = supervisor._changed
        self.rejected = supervisor._rejected
        self.settled = supervisor._settled
        self.abort = supervisor._abort
        self.admit = supervisor._admit
        self.schedule = supervisor._schedule


class JobSupervisor(LivenessDuty, Actor[Message]):
    """Runs jobs on tadpoles to an outcome; see the module docstring.

    ``handlers`` maps an objective to its handler (``"*"``: the default).
    ``ledger`` defaults to the system's. ``tadpole_factory`` builds tadpoles
    (a :class:`Tadpole` subclass, for instance); ``hooks`` go to the balancer.
    """

    mailbox: ClassVar[MailboxConfig] = MailboxConfig(capacity=1_000_000)
    """Room for bursts: submissions are queued, never dropped (a full mailbox fails the tell)."""
    supervisor_flags: ClassVar[SupervisorFlags] = SupervisorFlags(
        intensity=100, period=10.0, backoff=Backoff(initial=0.01, maximum=1.0)
    )

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        config: SupervisorConfig | None = None,
        *,
        ledger: RecordSink | None = None,
        tadpole_factory: Callable[..., Tadpole] = Tadpole,
        hooks: Sequence[CycleHook] = (),
        acceptance: Mapping[str, Acceptance] | None = None,
    ) -> None:
        self.handlers = dict(handlers)
        self.acceptance = dict(acceptance or {})
        self.config = config = config or SupervisorConfig()
        self._ledger = ledger
        self._hooks = tuple(hooks)
        self._balancer: ActorRef[Any] | None = None
        self.pools = ResourcePools(config.pools)
        self.window = ConcurrencyWindow(config.window)
        self.table = JobTable(
            _Effects(self),
            self.window,
            max_attempts=config.max_attempts,
            max_result_bytes=config.max_result_bytes,
            auto_acknowledge=config.auto_acknowledge,
            acceptance=self.acceptance,
            tadpole_limit=config.tadpole_limit,
        )
        self.pods = Pods(config, self.handlers, tadpole_factory, ThreadPool(config.max_threads))
        self._waiters: dict[str, list[asyncio.Future[JobView]]] = {}
        self._admit_scheduled = False
        self._sweeping = False
        self._saturated = False
        self.mitigations = 0

    @property
    def rejected(self) -> int:
        return self.table.rejected

    @property
    def retries(self) -> int:
        return self.table.retries

    @property
    def reclaimed(self) -> int:
        return self.table.reclaimed

    # -- lifecycle -----------------------------------------------------------------------

    async def on_start(self) -> None:
        context = self.context
        system = context.system
        # Looked up once per incarnation: these are on every job's path.
        self._ctx = context
        self._clock = system.clock
        self._topics = system.topics
        self._log = self.table.log = context.log
        if self._ledger is None:
            self._ledger = system.ledger
        window = self.config.window
        self._gate = AdmissionGate(window.admission_rate, window.admission_burst, self._now())
        if self.config.balancer is not None:
            self._balancer = self.context.spawn_spec(
                ChildSpec(
                    factory=Balancer,
                    args=(self.config.balancer,),
                    kwargs={"hooks": self._hooks, "ledger": self._ledger},
                    name="balancer",
                )
            )
        for _ in range(self.config.tadpoles):
            self.pods.spawn(context)

    def _now(self) -> float:
        return self._clock.now()

    # -- messages: each type to its handler ----------------------------------------------

    async def receive(self, message: Message) -> Any:
        handler = _HANDLERS.get(type(message)) or _handler_for(type(message))
        if handler is None:
            return None
        return handler(self, message)

    def _on_balancer_restarted(self, _: BalancerRestarted) -> None:
        for job in self.table.undispatched():
            self._to_balancer(job)

    def _on_admit(self, _: _Admit) -> None:
        self._admit_scheduled = False
        self._admit()

    def _on_get_job(self, request: GetJob) -> JobView | None:
        found = self.table.jobs.get(request.job_id)
        return None if found is None else self.table.view(found)

    def _on_list(self, request: ListJobs) -> tuple[JobView, ...]:
        table = self.table
        return tuple(
            table.view(job)
            for job in table.jobs.values()
            if (request.state is None or job.state.value == request.state)
            and (request.unread is None or job.unread == request.unread)
        )

    def _on_await(self, request: AwaitJob) -> JobView | asyncio.Future[JobView] | Refused:
        job = self.table.jobs.get(request.job_id)
        if job is None:
            return Refused(
                job_id=request.job_id, error=str(UnknownJob(request.job_id)), unknown=True
            )
        if job.settled:
            return self.table.view(job)
        future: asyncio.Future[JobView] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(request.job_id, []).append(future)
        return future

    # -- the table's effects (TableEffects) ----------------------------------------------

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

    def _settled(self, job: JobRecord, view: JobView) -> None:
        for future in self._waiters.pop(job.spec.job_id, ()):
            if not future.done():
                future.set_result(view)

    def _abort(self, job: JobRecord, reason: str) -> None:
        self._fail_attempt(job, reason, retry=False)

    def _admit(self) -> None:
        """Hand queued jobs to the balancer at the admission rate; the rest wait for a timer."""
        table = self.table
        intake = table.intake
        if not intake:
            return
        now = self._now()
        for _ in range(self._gate.take(now, len(intake))):
            job = table.jobs.get(intake.popleft())
            if job is None or job.state is not JobState.QUEUED:
                continue
            job.admitted = True
            self._to_balancer(job)
        if intake and not self._admit_scheduled:
            self._admit_scheduled = True
            delay = max(self._gate.wait_for(now), 1e-4)
            self._ctx.timers.send_after(delay, _Admit(), key="admit")
        self._schedule()

    def _schedule(self) -> None:
        """Start ready jobs while the window has room, tadpoles have room and pools grant."""
        table = self.table
        ready = table.ready
        budget = len(ready)
        while ready and budget and table.has_room():
            budget -= 1
            job_id = ready.popleft()
            job = table.jobs.get(job_id)
            if job is None or job.state is not JobState.QUEUED:
                continue
            pods = self.pods.pick(job.spec, self._ctx)
            if pods is None:
                ready.appendleft(job_id)
                break
            allocation = self.pools.allocate(
                job_id, job.spec.requested_resources, job.spec.objective
            )
            if allocation is None:
                ready.append(job_id)  # waits for resources; others may fit meanwhile
                continue
            self._start(job, pods, allocation)

    # -- intake, dispatch, start ---------------------------------------------------------

    def _to_balancer(self, job: JobRecord) -> None:
        spec = job.spec
        if self._balancer is None:
            job.dispatched = True
            job.channel = spec.mode
            self.table.ready.append(spec.job_id)
            return
        self._balancer.tell(
            SubmitTask(
                classify(
                    spec,
                    pressure=self.pools.utilization(),
                    totals=self.config.pools.totals,
                    submitted_at=job.submitted_at,
                )
            )
        )

    def _on_dispatched(self, dispatch: Dispatched) -> None:
        if self.table.dispatched(dispatch.task.task_id, dispatch.channel, dispatch.lineage.digest):
            self._schedule()

    def _start(self, job: JobRecord, pods: list[Pod], allocation: Allocation) -> None:
        spec = job.spec
        job_id = spec.job_id
        now = self._now()
        self._record_allocation(job, allocation)
        shards = len(pods)
        for shard, pod in enumerate(pods):
            tadpole_id = self.pods.tadpole_id(pod)
            job.shards[shard] = ShardRecord(tadpole_id, now)
            pod.active.add((job_id, job.attempt, shard))
            pod.ref.tell(
                RunJob(
                    job=spec,
                    attempt=job.attempt,
                    shard=shard,
                    shards=shards,
                    incarnation=pod.incarnation,
                    granted=allocation.granted,
                )
            )
        self.table.start(job, now)
        self._ensure_sweep()
        self._check_saturation()

    # -- outcomes ------------------------------------------------------------------------

    def _on_report(self, report: JobReport) -> None:
        key = (report.job_id, report.attempt, report.shard)
        pod = self.pods.get(report.tadpole_id)
        if pod is not None:
            pod.active.discard(key)
        job = self.table.jobs.get(report.job_id)
        if job is not None:
            shard = job.shards.get(report.shard)
            current = (
                job.state is JobState.RUNNING
                and report.attempt == job.attempt
                and shard is not None
                and shard.tadpole_id == report.tadpole_id
            )
            if not current:
                self.table.drained(job, (report.tadpole_id, report.attempt, report.shard))
            elif report.ok:
                del job.shards[report.shard]
                job.results[report.shard] = report.result
                if not job.shards:
                    self._complete(job)
            else:
                del job.shards[report.shard]
                if report.lost:
                    self.table.reclaimed += 1
                self._fail_attempt(
                    job, f"shard {report.shard} on tadpole {report.tadpole_id}: {report.reason}"
                )
        self._schedule()

    def _complete(self, job: JobRecord) -> None:
        spec = job.spec
        self._release(job)
        if spec.reward_signal is not None:
            self.pools.reward(spec.objective, spec.reward_signal)
        self.table.complete(job, self._now())

    def _fail_attempt(self, job: JobRecord, reason: str, *, retry: bool = True) -> None:
        spec = job.spec
        cancelled_on: set[str] = set()
        for shard_no, shard in job.shards.items():
            pod = self.pods.get(shard.tadpole_id)
            if pod is None:
                continue
            job.draining.add((shard.tadpole_id, job.attempt, shard_no))
            if shard.tadpole_id not in cancelled_on:
                cancelled_on.add(shard.tadpole_id)
                pod.ref.tell(CancelRun(job_id=spec.job_id, attempt=job.attempt))
        job.shards.clear()
        self._release(job)
        if self.table.fail(job, reason, self._now(), retry=retry):
            delay = self.config.retry_backoff.delay(job.attempt, self._ctx.system.random)
            self._ctx.timers.send_after(
                delay,
                _RetryDue(job_id=spec.job_id, attempt=job.attempt),
                key=("retry", spec.job_id),
            )

    def _on_retry_due(self, due: _RetryDue) -> None:
        self.table.retry_due(due.job_id, due.attempt)

    # -- tadpoles ------------------------------------------------------------------------

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

    # -- resources -----------------------------------------------------------------------

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


_HANDLERS: dict[type[Any], Callable[[JobSupervisor, Any], Any]] = {
    # Hottest first does not matter here: one dict lookup per message.
    JobReport: JobSupervisor._on_report,
    Heartbeat: JobSupervisor._on_heartbeat,
    Dispatched: JobSupervisor._on_dispatched,
    SubmitJob: lambda sup, m: sup.table.accept(m.job, sup._now()),
    _Admit: JobSupervisor._on_admit,
    Sweep: JobSupervisor._sweep,
    _RetryDue: JobSupervisor._on_retry_due,
    TadpoleRestarted: JobSupervisor._on_tadpole_restarted,
    Terminated: JobSupervisor._on_terminated,
    BalancerRestarted: JobSupervisor._on_balancer_restarted,
    Acknowledge: lambda sup, m: sup.table.acknowledge(m, sup._now()),
    CancelJob: lambda sup, m: sup.table.cancel(m.job_id),
    Reward: lambda sup, m: sup.pools.reward(m.objective, m.signal),
    AwaitJob: JobSupervisor._on_await,
    GetJob: JobSupervisor._on_get_job,
    ListJobs: JobSupervisor._on_list,
    GetLiveness: lambda sup, m: sup._liveness(m.job_id),
    GetTadpoles: lambda sup, m: sup.pods.infos(),
    GetStatistics: lambda sup, m: sup.statistics(),
}
"""Message type -> what the supervisor does with it (the reply, if any, is returned)."""


def _handler_for(kind: type[Any]) -> Callable[[JobSupervisor, Any], Any] | None:
    """The handler of a subclass of a handled message type (remembered); ``None`` if none."""
    for base in kind.__mro__[1:]:
        handler = _HANDLERS.get(base)
        if handler is not None:
            _HANDLERS[kind] = handler
            return handler
    return None
