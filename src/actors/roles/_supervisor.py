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
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from protocol import Message

from .. import Actor, Backoff, ChildSpec, MailboxConfig, SupervisorFlags, Terminated
from ._balancer import Balancer, BalancerRestarted, CycleHook, SubmitTask
from ._classify import classify
from ._deps import Dependencies
from ._errors import InvalidJob, JobStateError, UnknownJob
from ._jobs import (
    Acknowledgement,
    JobEvent,
    JobSpec,
    JobState,
    JobView,
    ResourceRequest,
    validate_job,
)
from ._liveness import Liveness, LivenessConfig, LivenessReport, assess
from ._messages import (
    JOB_EVENTS,
    RESOURCE_UPDATES,
    Acknowledge,
    Acknowledged,
    AwaitJob,
    CancelJob,
    GetJob,
    GetLiveness,
    GetStatistics,
    GetTadpoles,
    ListJobs,
    Refused,
    Rejected,
    ResourceUpdate,
    Reward,
    ShardLiveness,
    SubmitJob,
    Submitted,
    SupervisorStatistics,
    TadpoleInfo,
)
from ._outcome import EXTERNAL, Acceptance, bound_result, judge
from ._planner import BalancerConfig, Dispatched
from ._records import ALLOCATE, JOB, MITIGATE, RELEASE, RecordSink, append_record
from ._resources import Allocation, PoolConfig, ResourcePools
from ._tadpole import (
    MAX_THREADS,
    MAX_THREADS_PER_TADPOLE,
    CancelRun,
    Handler,
    Heartbeat,
    JobReport,
    RunJob,
    SetThreadBudget,
    Tadpole,
    TadpoleRestarted,
    ThreadPool,
    new_tadpole_id,
)
from ._window import AdmissionGate, ConcurrencyWindow, WindowConfig

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from .. import ActorRef
    from ._scoring import Channel

__all__ = ["JobSupervisor", "SupervisorConfig", "acknowledge", "await_job", "submit_job"]


class SupervisorConfig(msgspec.Struct, frozen=True):
    """Every number of the supervisor; the defaults are SPEC part 6's."""

    tadpoles: int = 4
    """Tadpoles started with (and kept at least)."""
    max_tadpoles: int = 32
    thread_budget: int = 4
    """Threads per tadpole at the start (at most 16)."""
    max_threads: int = MAX_THREADS
    """Threads of all tadpoles together (at most 128)."""
    specializations: tuple[str, ...] = ("generalist",)
    """Given to new tadpoles in turn."""
    pools: PoolConfig = PoolConfig()
    window: WindowConfig = WindowConfig()
    liveness: LivenessConfig = LivenessConfig()
    balancer: BalancerConfig | None = BalancerConfig()
    """``None``: no balancer; a job's channel is its ``metadata.mode``."""
    max_attempts: int = 3
    retry_backoff: Backoff = Backoff(initial=0.1, maximum=5.0, factor=2.0, jitter=0.2)
    mitigation_tadpoles: int = 2
    mitigation_threads: int = 2
    thread_grace: float = 30.0
    max_result_bytes: int = 65_536
    """A result that encodes to more JSON than this is kept as a bounded note."""
    auto_acknowledge: bool = False
    """Mark completed and failed jobs read as they end (fire and forget): they then
    free their window slot at once. ``needs_review`` jobs always wait for a reader."""

    def __post_init__(self) -> None:
        if not 1 <= self.tadpoles <= self.max_tadpoles:
            raise ValueError(f"need 1 <= tadpoles <= max_tadpoles, got {self!r}")
        if not 1 <= self.thread_budget <= MAX_THREADS_PER_TADPOLE:
            raise ValueError(f"thread_budget must be in 1..{MAX_THREADS_PER_TADPOLE}")
        if not 1 <= self.max_threads <= MAX_THREADS:
            raise ValueError(f"max_threads must be in 1..{MAX_THREADS}")
        if self.tadpoles * self.thread_budget > self.max_threads:
            raise ValueError("the initial tadpoles' thread budgets exceed max_threads")
        if self.max_attempts < 1 or not self.specializations:
            raise ValueError("max_attempts must be >= 1 and specializations non-empty")
        if self.max_result_bytes < 64:
            raise ValueError(f"max_result_bytes must be >= 64, got {self.max_result_bytes!r}")

    @property
    def tadpole_limit(self) -> int:
        return min(self.max_tadpoles, self.max_threads // self.thread_budget)


class _RetryDue(Message, tag="roles.retry_due"):
    job_id: str
    attempt: int


class _Admit(Message, tag="roles.admit"):
    pass


class _Sweep(Message, tag="roles.sweep"):
    pass


class _Shard:
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


class _Job:
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
        "waiters",
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
        self.shards: dict[int, _Shard] = {}
        self.draining: set[tuple[str, int, int]] = set()
        self.retry_pending = False
        self.admitted = False
        self.dispatched = False
        self.results: dict[int, Any] = {}
        self.result: Any = None
        self.evidence = ""
        self.waiters: list[asyncio.Future[JobView]] = []

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


class _Pod:
    __slots__ = ("active", "at_risk", "budget", "incarnation", "ref", "specialization", "stopping")

    def __init__(self, ref: ActorRef[Any], specialization: str, budget: int) -> None:
        self.ref = ref
        self.specialization = specialization
        self.budget = budget
        self.incarnation = 0
        self.active: set[tuple[str, int, int]] = set()
        self.at_risk = False
        self.stopping = False


class JobSupervisor(Actor[Message]):
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
        self.config = config or SupervisorConfig()
        self._ledger = ledger
        self._factory = tadpole_factory
        self._hooks = tuple(hooks)
        self._jobs: dict[str, _Job] = {}
        self._intake: deque[str] = deque()
        self._ready: deque[str] = deque()
        self._running: dict[str, None] = {}
        self._pods: dict[str, _Pod] = {}
        self._by_path: dict[str, str] = {}
        self._balancer: ActorRef[Any] | None = None
        self.pools = ResourcePools(self.config.pools)
        self.window = ConcurrencyWindow(self.config.window)
        self._pool = ThreadPool(self.config.max_threads)
        self._latencies: list[float] = []
        self._per_channel: dict[str, int] = {}
        self._admit_scheduled = False
        self._sweeping = False
        self._unhealthy = False
        self._saturated = False
        self._spawned = 0
        self._unread_held = 0
        """Settled jobs not yet acknowledged: each holds a window slot."""
        self._deps = Dependencies()
        self.rejected = 0
        self.retries = 0
        self.reclaimed = 0
        self.mitigations = 0

    # -- lifecycle -----------------------------------------------------------------------

    async def on_start(self) -> None:
        context = self.context
        system = context.system
        # Looked up once per incarnation: these are on every job's path.
        self._ctx = context
        self._clock = system.clock
        self._topics = system.topics
        self._log = context.log
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
            self._spawn_pod()

    def _now(self) -> float:
        return self._clock.now()

    # -- messages ------------------------------------------------------------------------

    async def receive(self, message: Message) -> Any:
        if isinstance(message, JobReport):
            self._on_report(message)
        elif isinstance(message, Heartbeat):
            self._on_heartbeat(message)
        elif isinstance(message, Dispatched):
            self._on_dispatched(message)
        elif isinstance(message, SubmitJob):
            return self._accept(message.job)
        elif isinstance(message, _Admit):
            self._admit_scheduled = False
            self._admit()
        elif isinstance(message, _Sweep):
            self._sweep()
        elif isinstance(message, _RetryDue):
            self._on_retry_due(message)
        elif isinstance(message, TadpoleRestarted):
            self._on_tadpole_restarted(message)
        elif isinstance(message, Terminated):
            self._on_terminated(message)
        elif isinstance(message, BalancerRestarted):
            for job in self._jobs.values():
                if job.state is JobState.QUEUED and job.admitted and not job.dispatched:
                    self._to_balancer(job)
        elif isinstance(message, Acknowledge):
            return self._acknowledge(message)
        elif isinstance(message, CancelJob):
            return self._cancel(message.job_id)
        elif isinstance(message, Reward):
            return self.pools.reward(message.objective, message.signal)
        elif isinstance(message, AwaitJob):
            return self._await(message.job_id)
        elif isinstance(message, GetJob):
            found = self._jobs.get(message.job_id)
            return None if found is None else self._view(found)
        elif isinstance(message, ListJobs):
            return self._list(message)
        elif isinstance(message, GetLiveness):
            return self._liveness(message.job_id)
        elif isinstance(message, GetTadpoles):
            return self._tadpoles()
        elif isinstance(message, GetStatistics):
            return self.statistics()
        return None

    # -- intake and admission ------------------------------------------------------------

    def _accept(self, spec: JobSpec) -> Submitted | Rejected:
        try:
            validate_job(spec)
            if spec.job_id in self._jobs:
                raise InvalidJob("job_id", "is already known", spec.job_id, job_id=spec.job_id)
            limit = self.config.tadpole_limit
            if spec.tadpole_count > limit:
                raise InvalidJob(
                    "tadpole_count",
                    f"exceeds the {limit} tadpoles this supervisor can run",
                    spec.tadpole_count,
                    job_id=spec.job_id,
                )
            acceptance = spec.metadata.get("acceptance")
            if acceptance not in (None, EXTERNAL, *self.acceptance):
                raise InvalidJob(
                    "metadata.acceptance",
                    f"names no predicate registered with this supervisor "
                    f"(known: {sorted(self.acceptance)}, or {EXTERNAL!r})",
                    acceptance,
                    job_id=spec.job_id,
                )
            for other in spec.metadata.get("depends_on", ()):
                if other not in self._jobs:
                    raise InvalidJob(
                        "metadata.depends_on",
                        f"names unknown job {other!r}",
                        list(spec.metadata["depends_on"]),
                        job_id=spec.job_id,
                    )
        except InvalidJob as exc:
            self.rejected += 1
            job_id = spec.job_id if isinstance(spec.job_id, str) else repr(spec.job_id)
            self._log.warning("job_rejected", job_id=job_id, field=exc.field, error=str(exc))
            self._publish_job(
                JobEvent(
                    job_id=job_id,
                    state="rejected",
                    attempt=0,
                    at=self._now(),
                    reason=str(exc),
                    final=True,
                )
            )
            return Rejected(
                job_id=job_id,
                field=exc.field,
                problem=exc.problem,
                value=repr(exc.value),
                error=str(exc),
            )
        job = self._jobs[spec.job_id] = _Job(spec, self._now())
        self._record_transition(job, None, "submitted")
        if not self._wait_for(job, spec.metadata.get("depends_on", ())):
            self._intake.append(spec.job_id)
            self._admit()
        return Submitted(job_id=spec.job_id)

    # -- dependencies --------------------------------------------------------------------

    def _wait_for(self, job: _Job, others: Sequence[str]) -> bool:
        """Make ``job`` wait for the ``others`` not completed yet; true if it waits."""

        def completed(job_id: str) -> bool:
            found = self._jobs.get(job_id)
            return found is not None and found.state is JobState.COMPLETED

        on = self._deps.wait(job.spec.job_id, others, completed)
        if on:
            self._log.info("job_waiting", job_id=job.spec.job_id, on=sorted(on))
        return bool(on)

    def _release_dependents(self, job: _Job) -> None:
        """``job`` settled: its dependents run (completed) or fail (it failed for good)."""
        job_id = job.spec.job_id
        ready, failed = self._deps.settle(job_id, completed=job.state is JobState.COMPLETED)
        for dependent_id in failed:
            self._end_waiting(
                self._jobs[dependent_id], f"dependency {job_id!r} ended {job.state.value}"
            )
        for dependent_id in ready:
            dependent = self._jobs[dependent_id]
            if dependent.attempt == 1 and not dependent.admitted:
                self._intake.append(dependent_id)
                self._admit()
            else:
                self._requeue(dependent)

    def _view(self, job: _Job) -> JobView:
        return job.view(self._deps.waiting_on(job.spec.job_id))

    def _end_waiting(self, job: _Job, reason: str) -> None:
        job.final = True
        job.retry_pending = False
        self._mark_unread(job)
        self._transition(job, JobState.FAILED, reason, final=True)
        self._settle(job)

    def _admit(self) -> None:
        intake = self._intake
        if not intake:
            return
        now = self._now()
        for _ in range(self._gate.take(now, len(intake))):
            job = self._jobs.get(intake.popleft())
            if job is None or job.state is not JobState.QUEUED:
                continue
            job.admitted = True
            self._to_balancer(job)
        if intake and not self._admit_scheduled:
            self._admit_scheduled = True
            delay = max(self._gate.wait_for(now), 1e-4)
            self._ctx.timers.send_after(delay, _Admit(), key="admit")
        self._schedule()

    def _to_balancer(self, job: _Job) -> None:
        spec = job.spec
        if self._balancer is None:
            job.dispatched = True
            job.channel = spec.mode
            self._ready.append(spec.job_id)
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
        job = self._jobs.get(dispatch.task.task_id)
        if job is None or job.state is not JobState.QUEUED or job.dispatched:
            return
        job.dispatched = True
        job.channel = dispatch.channel
        job.lineage = dispatch.lineage.digest
        self._ready.append(job.spec.job_id)
        self._schedule()

    # -- starting ------------------------------------------------------------------------

    def _schedule(self) -> None:
        ready = self._ready
        running = self._running
        budget = len(ready)
        while ready and budget and len(running) + self._unread_held < self.window.size:
            budget -= 1
            job_id = ready.popleft()
            job = self._jobs.get(job_id)
            if job is None or job.state is not JobState.QUEUED:
                continue
            pods = self._pick_pods(job.spec)
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

    def _pick_pods(self, spec: JobSpec) -> list[_Pod] | None:
        wanted = spec.tadpole_count
        free = [
            (tadpole_id, pod)
            for tadpole_id, pod in self._pods.items()
            if not pod.at_risk and not pod.stopping and len(pod.active) < pod.budget
        ]
        while len(free) < wanted and self._can_spawn():
            tadpole_id = self._spawn_pod()
            free.append((tadpole_id, self._pods[tadpole_id]))
        if len(free) < wanted:
            return None
        prefer = spec.worker_id
        specialization = spec.metadata.get("specialization")

        def rank(item: tuple[str, _Pod]) -> tuple[bool, bool, int]:
            tadpole_id, pod = item
            return (
                tadpole_id != prefer,
                specialization is not None and pod.specialization != specialization,
                len(pod.active),
            )

        if wanted == 1:
            return [min(free, key=rank)[1]]
        return [pod for _, pod in sorted(free, key=rank)[:wanted]]

    def _start(self, job: _Job, pods: list[_Pod], allocation: Allocation) -> None:
        spec = job.spec
        job_id = spec.job_id
        now = self._now()
        self._record_allocation(job, allocation)
        job.started_at = now
        shards = len(pods)
        for shard, pod in enumerate(pods):
            tadpole_id = self._tadpole_id(pod)
            job.shards[shard] = _Shard(tadpole_id, now)
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
        self._running[job_id] = None
        self._transition(job, JobState.RUNNING, "")
        self._ensure_sweep()
        self._check_saturation()

    # -- outcomes ------------------------------------------------------------------------

    def _on_report(self, report: JobReport) -> None:
        key = (report.job_id, report.attempt, report.shard)
        pod = self._pods.get(report.tadpole_id)
        if pod is not None:
            pod.active.discard(key)
        job = self._jobs.get(report.job_id)
        if job is not None:
            shard = job.shards.get(report.shard)
            current = (
                job.state is JobState.RUNNING
                and report.attempt == job.attempt
                and shard is not None
                and shard.tadpole_id == report.tadpole_id
            )
            if not current:
                self._drained(job, (report.tadpole_id, report.attempt, report.shard))
            elif report.ok:
                del job.shards[report.shard]
                job.results[report.shard] = report.result
                if not job.shards:
                    self._complete(job)
            else:
                del job.shards[report.shard]
                if report.lost:
                    self.reclaimed += 1
                self._fail_attempt(
                    job, f"shard {report.shard} on tadpole {report.tadpole_id}: {report.reason}"
                )
        self._schedule()

    def _complete(self, job: _Job) -> None:
        spec = job.spec
        now = self._now()
        self._release(job)
        self._running.pop(spec.job_id, None)
        job.finished_at = now
        self._latencies.append(now - job.submitted_at)
        channel = job.channel.value if job.channel is not None else "none"
        self._per_channel[channel] = self._per_channel.get(channel, 0) + 1
        if spec.reward_signal is not None:
            self.pools.reward(spec.objective, spec.reward_signal)
        self.window.record(True, healthy=not self._unhealthy)
        results, job.results = job.results, {}
        raw = results.get(0) if len(results) <= 1 else [results[n] for n in sorted(results)]
        job.result = bound_result(raw, self.config.max_result_bytes)
        verdict = judge(spec.metadata.get("acceptance"), raw, self.acceptance)
        job.evidence = verdict.evidence
        self._mark_unread(job)
        extra = {"result": job.result, "evidence": verdict.evidence}
        if verdict.done:
            job.final = True
            self._transition(job, JobState.COMPLETED, "", final=True, extra=extra)
        else:
            self._log.info("job_needs_review", job_id=spec.job_id, evidence=verdict.evidence)
            self._transition(job, JobState.NEEDS_REVIEW, verdict.evidence, extra=extra)
        self._settle(job)

    def _fail_attempt(self, job: _Job, reason: str, *, retry: bool = True) -> None:
        spec = job.spec
        cancelled_on: set[str] = set()
        for shard_no, shard in job.shards.items():
            pod = self._pods.get(shard.tadpole_id)
            if pod is None:
                continue
            job.draining.add((shard.tadpole_id, job.attempt, shard_no))
            if shard.tadpole_id not in cancelled_on:
                cancelled_on.add(shard.tadpole_id)
                pod.ref.tell(CancelRun(job_id=spec.job_id, attempt=job.attempt))
        job.shards.clear()
        self._release(job)
        self._running.pop(spec.job_id, None)
        job.finished_at = self._now()
        retry = retry and not job.cancel_requested and job.attempt < self.config.max_attempts
        self.window.record(False, healthy=not self._unhealthy)
        if retry:
            self._transition(job, JobState.FAILED, reason)
            self.retries += 1
            delay = self.config.retry_backoff.delay(job.attempt, self._ctx.system.random)
            self._ctx.timers.send_after(
                delay,
                _RetryDue(job_id=spec.job_id, attempt=job.attempt),
                key=("retry", spec.job_id),
            )
        else:
            job.final = True
            self._mark_unread(job)
            self._transition(job, JobState.FAILED, reason, final=True)
            self._settle(job)

    # -- settling: unread, waiters, dependents -------------------------------------------

    def _mark_unread(self, job: _Job) -> None:
        if not job.unread:
            job.unread = True
            self._unread_held += 1

    def _mark_read(self, job: _Job) -> None:
        if job.unread:
            job.unread = False
            self._unread_held -= 1

    def _settle(self, job: _Job) -> None:
        """``job`` reached a state a reader acknowledges: wake waiters and dependents."""
        if self.config.auto_acknowledge and job.state is not JobState.NEEDS_REVIEW:
            self._mark_read(job)
        view = self._view(job)
        waiters, job.waiters = job.waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(view)
        if job.final:
            self._release_dependents(job)
        self._schedule()

    def _await(self, job_id: str) -> JobView | asyncio.Future[JobView] | Refused:
        job = self._jobs.get(job_id)
        if job is None:
            return Refused(job_id=job_id, error=str(UnknownJob(job_id)), unknown=True)
        if job.settled:
            return self._view(job)
        future: asyncio.Future[JobView] = asyncio.get_running_loop().create_future()
        job.waiters.append(future)
        return future

    def _on_retry_due(self, due: _RetryDue) -> None:
        job = self._jobs.get(due.job_id)
        if (
            job is None
            or job.state is not JobState.FAILED
            or job.final
            or job.attempt != due.attempt
        ):
            return
        if job.draining:
            job.retry_pending = True  # the failed attempt's runs have not all ended yet
        else:
            self._requeue(job)

    def _drained(self, job: _Job, run: tuple[str, int, int]) -> None:
        job.draining.discard(run)
        if job.retry_pending and not job.draining:
            self._requeue(job)

    def _requeue(self, job: _Job, reason: str = "recovery attempt") -> None:
        job.retry_pending = False
        job.attempt += 1
        job.cancel_requested = False
        job.final = False
        self._mark_read(job)
        job.finished_at = None
        job.result = None
        job.evidence = ""
        self._transition(job, JobState.QUEUED, reason)
        self._ready.append(job.spec.job_id)
        self._schedule()

    # -- tadpoles ------------------------------------------------------------------------

    def _tadpole_id(self, pod: _Pod) -> str:
        return self._by_path[pod.ref.path]

    def _can_spawn(self) -> bool:
        config = self.config
        threads = sum(pod.budget for pod in self._pods.values())
        return len(self._pods) < config.max_tadpoles and (
            threads + config.thread_budget <= config.max_threads
        )

    def _spawn_pod(self) -> str:
        config = self.config
        tadpole_id = new_tadpole_id(self._ctx.system.random)
        specialization = config.specializations[self._spawned % len(config.specializations)]
        self._spawned += 1
        ref = self._ctx.spawn_spec(
            ChildSpec(
                factory=self._factory,
                args=(tadpole_id, self.handlers),
                kwargs={
                    "specialization": specialization,
                    "thread_budget": config.thread_budget,
                    "pool": self._pool,
                    "heartbeat_interval": config.liveness.heartbeat_interval,
                    "thread_grace": config.thread_grace,
                },
                name=f"tadpole-{tadpole_id[:8]}",
            )
        )
        self._ctx.watch(ref)
        self._pods[tadpole_id] = _Pod(ref, specialization, config.thread_budget)
        self._by_path[ref.path] = tadpole_id
        self._log.debug("tadpole_spawned", tadpole_id=tadpole_id)
        return tadpole_id

    def _on_tadpole_restarted(self, message: TadpoleRestarted) -> None:
        pod = self._pods.get(message.tadpole_id)
        if pod is None:
            return
        pod.incarnation = message.incarnation
        pod.at_risk = False
        if pod.budget != self.config.thread_budget:
            pod.ref.tell(SetThreadBudget(threads=pod.budget))
        self._runs_lost(message.tadpole_id, pod, f"tadpole crashed: {message.reason}")
        self._schedule()

    def _on_terminated(self, message: Terminated) -> None:
        tadpole_id = self._by_path.pop(message.path, None)
        if tadpole_id is None:
            return
        pod = self._pods.pop(tadpole_id)
        self._runs_lost(tadpole_id, pod, f"tadpole stopped: {message.reason}")
        while len(self._pods) < self.config.tadpoles and self._can_spawn():
            self._spawn_pod()
        self._schedule()

    def _runs_lost(self, tadpole_id: str, pod: _Pod, reason: str) -> None:
        runs, pod.active = pod.active, set()
        for job_id, attempt, shard_no in sorted(runs):
            job = self._jobs.get(job_id)
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
                self.reclaimed += 1
                self._fail_attempt(job, reason)
            else:
                self._drained(job, (tadpole_id, attempt, shard_no))

    # -- liveness ------------------------------------------------------------------------

    def _on_heartbeat(self, beat: Heartbeat) -> None:
        pod = self._pods.get(beat.tadpole_id)
        if pod is not None and pod.at_risk:
            pod.at_risk = False
            self._log.info("tadpole_recovered", tadpole_id=beat.tadpole_id)
        now = self._now()
        reported: set[tuple[str, int, int]] = set()
        for entry in beat.jobs:
            key = (entry.job_id, entry.attempt, entry.shard)
            reported.add(key)
            job = self._jobs.get(entry.job_id)
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
            job = self._jobs.get(job_id)
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

    def _ensure_sweep(self) -> None:
        if not self._sweeping:
            self._sweeping = True
            interval = self.config.liveness.heartbeat_interval
            self._ctx.timers.send_periodically(interval, _Sweep(), key="sweep")

    def _assess(self, job: _Job, shard: _Shard, now: float) -> LivenessReport:
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

    def _sweep(self) -> None:
        now = self._now()
        unhealthy = False
        log = self._log
        for job_id in list(self._running):
            job = self._jobs[job_id]
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
                    pod = self._pods.get(shard.tadpole_id)
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
        if unhealthy and not self._unhealthy:
            self.window.unhealthy()
        self._unhealthy = unhealthy
        if not self._running and self._sweeping:
            self._sweeping = False
            self._ctx.cancel_timer("sweep")

    def _reclaim(self, job: _Job, shard_no: int, shard: _Shard, report: LivenessReport) -> None:
        pod = self._pods.get(shard.tadpole_id)
        self.reclaimed += 1
        self._fail_attempt(job, f"tadpole {shard.tadpole_id} lost: {report.reason}")
        if pod is not None and not pod.stopping:
            pod.stopping = True
            self._ctx.stop(pod.ref)

    def _liveness(self, job_id: str) -> tuple[ShardLiveness, ...]:
        job = self._jobs.get(job_id)
        if job is None:
            return ()
        now = self._now()
        return tuple(
            ShardLiveness(shard=n, tadpole_id=s.tadpole_id, report=self._assess(job, s, now))
            for n, s in sorted(job.shards.items())
        )

    # -- resources -----------------------------------------------------------------------

    def _record_allocation(self, job: _Job, allocation: Allocation) -> None:
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

    def _release(self, job: _Job) -> None:
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
            # The mitigation's extra threads come back down (its tadpoles stay, idle).
            base = self.config.thread_budget
            for pod in self._pods.values():
                if pod.budget > base:
                    pod.budget = base
                    pod.ref.tell(SetThreadBudget(threads=base))
            threads = sum(pod.budget for pod in self._pods.values())
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
        config = self.config
        spawned = 0
        for _ in range(config.mitigation_tadpoles):
            if not self._can_spawn():
                break
            self._spawn_pod()
            spawned += 1
        for pod in self._pods.values():
            room = config.max_threads - sum(p.budget for p in self._pods.values())
            budget = min(
                MAX_THREADS_PER_TADPOLE, pod.budget + config.mitigation_threads, pod.budget + room
            )
            if budget > pod.budget:
                pod.budget = budget
                pod.ref.tell(SetThreadBudget(threads=budget))
        utilization = self.pools.utilization()
        threads = sum(pod.budget for pod in self._pods.values())
        self._log.warning(
            "saturation_mitigated",
            utilization=round(utilization, 4),
            tadpoles_spawned=spawned,
            tadpoles=len(self._pods),
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

    # -- transitions and events ----------------------------------------------------------

    def _transition(
        self,
        job: _Job,
        to: JobState,
        reason: str,
        *,
        final: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> None:
        previous = job.state
        job.state = to
        job.reason = reason
        self._record_transition(job, previous, reason, final=final, extra=extra)

    def _record_transition(
        self,
        job: _Job,
        previous: JobState | None,
        reason: str,
        *,
        final: bool = False,
        extra: dict[str, Any] | None = None,
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
        self._publish_job(
            JobEvent(
                job_id=spec.job_id,
                state=job.state.value,
                attempt=job.attempt,
                at=self._now(),
                reason=reason,
                final=final,
                channel=channel,
                tadpoles=tadpoles,
            )
        )

    def _publish_job(self, event: JobEvent) -> None:
        self._topics.publish(JOB_EVENTS, event)

    # -- requests ------------------------------------------------------------------------

    def _cancel(self, job_id: str) -> JobView | Refused:
        job = self._jobs.get(job_id)
        if job is None:
            return Refused(job_id=job_id, error=str(UnknownJob(job_id)), unknown=True)
        if job.settled:
            return Refused(job_id=job_id, error=f"job {job_id!r} has already ended")
        job.cancel_requested = True
        if job.state is JobState.RUNNING:
            self._fail_attempt(job, "cancelled", retry=False)
        else:  # queued, waiting, or failed and waiting for a recovery attempt
            self._deps.cancel(job_id)
            self._end_waiting(job, "cancelled")
        return self._view(job)

    def _acknowledge(self, request: Acknowledge) -> Acknowledged | Refused:
        job = self._jobs.get(request.job_id)
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
            parts = self._split(job.spec, request.parts)
            if isinstance(parts, Refused):
                return parts
            self._mark_read(job)
            if not job.final:  # a needs_review job split: this one ends here
                job.final = True
                self._transition(job, JobState.FAILED, "split", final=True)
                self._release_dependents(job)
            new_jobs = []
            for part in parts:
                reply = self._accept(part)
                if isinstance(reply, Submitted):
                    new_jobs.append(reply.job_id)
            self._schedule()
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
        self._schedule()
        return Acknowledged(job_id=request.job_id, action=action)

    def _retry(self, job: _Job, request: Acknowledge) -> Refused | None:
        job_id = job.spec.job_id
        after = request.after
        if after is not None and (after == job_id or after not in self._jobs):
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
        if after is not None and self._wait_for(job, (after,)):
            # Waits (queued, not ready); the attempt is counted when the wait ends.
            self._mark_read(job)
            job.final = False
            self._transition(job, JobState.QUEUED, f"{reason}, waiting for {after!r}")
            return None
        self._requeue(job, reason)
        return None

    def _split(self, spec: JobSpec, parts: int) -> list[JobSpec] | Refused:
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
            if part.job_id in self._jobs:
                return Refused(job_id=spec.job_id, error=f"cannot split: {part.job_id!r} exists")
        return specs

    def _list(self, request: ListJobs) -> tuple[JobView, ...]:
        return tuple(
            self._view(job)
            for job in self._jobs.values()
            if (request.state is None or job.state.value == request.state)
            and (request.unread is None or job.unread == request.unread)
        )

    def _tadpoles(self) -> tuple[TadpoleInfo, ...]:
        return tuple(
            TadpoleInfo(
                tadpole_id=tadpole_id,
                path=pod.ref.path,
                specialization=pod.specialization,
                thread_budget=pod.budget,
                incarnation=pod.incarnation,
                running=tuple(sorted({key[0] for key in pod.active})),
                at_risk=pod.at_risk,
            )
            for tadpole_id, pod in self._pods.items()
        )

    def statistics(self) -> SupervisorStatistics:
        counts = dict.fromkeys(JobState, 0)
        unread = 0
        for job in self._jobs.values():
            counts[job.state] += 1
            unread += job.unread
        latencies = sorted(self._latencies)
        return SupervisorStatistics(
            submitted=len(self._jobs),
            rejected=self.rejected,
            queued=counts[JobState.QUEUED],
            running=counts[JobState.RUNNING],
            completed=counts[JobState.COMPLETED],
            failed=counts[JobState.FAILED],
            retries=self.retries,
            reclaimed=self.reclaimed,
            unread=unread,
            window=self.window.size,
            tadpoles=len(self._pods),
            threads=sum(pod.budget for pod in self._pods.values()),
            utilization=self.pools.utilization(),
            saturated=self._saturated,
            mitigations=self.mitigations,
            free=self.pools.free,
            per_channel=dict(sorted(self._per_channel.items())),
            latency_p50=_percentile(latencies, 0.50),
            latency_p90=_percentile(latencies, 0.90),
            latency_p99=_percentile(latencies, 0.99),
            needs_review=counts[JobState.NEEDS_REVIEW],
            waiting=len(self._deps),
        )


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


# -- client helpers ----------------------------------------------------------------------


async def submit_job(
    supervisor: ActorRef[Any], job: Mapping[str, Any] | JobSpec, *, timeout: float = 5.0
) -> str:
    """Check ``job`` against the contract, submit it and return its id.

    Raises :class:`~actors.roles.InvalidJob` naming the field, before sending
    when the contract is broken, or when the supervisor refuses it (a
    duplicate id, more tadpoles than it can run).
    """
    from ._jobs import parse_job

    spec = parse_job(job)
    reply = await supervisor.ask(SubmitJob(job=spec), timeout=timeout)
    if isinstance(reply, Rejected):
        raise InvalidJob(reply.field, reply.problem, job_id=reply.job_id, shown=reply.value)
    job_id: str = reply.job_id
    return job_id


async def await_job(
    supervisor: ActorRef[Any], job_id: str, *, timeout: float | None = None
) -> JobView:
    """Wait until ``job_id`` is terminal (completed, failed, or needs_review) and return its view.

    The view carries the handler's result (``JobView.result``). Local
    supervisors only (the reply is a future until the job ends). Raises
    :class:`UnknownJob`, or :class:`TimeoutError` after ``timeout`` seconds.
    """
    reply = await supervisor.ask(AwaitJob(job_id=job_id), timeout=timeout)
    if isinstance(reply, Refused):
        raise UnknownJob(job_id)
    if isinstance(reply, JobView):
        return reply
    view: JobView = await asyncio.wait_for(reply, timeout)
    return view


async def acknowledge(
    supervisor: ActorRef[Any],
    job_id: str,
    action: Acknowledgement = Acknowledgement.ACCEPT,
    *,
    parts: int = 2,
    amend: Mapping[str, Any] | None = None,
    after: str | None = None,
    timeout: float = 5.0,
) -> Acknowledged:
    """Acknowledge an unread terminal job; raises :class:`UnknownJob` or :class:`JobStateError`.

    ``retry`` may ``amend`` the job's metadata (its identity and attempt count
    are kept) and wait ``after`` another job has completed.
    """
    reply = await supervisor.ask(
        Acknowledge(
            job_id=job_id,
            action=action,
            parts=parts,
            amend=None if amend is None else dict(amend),
            after=after,
        ),
        timeout=timeout,
    )
    if isinstance(reply, Refused):
        if reply.unknown:
            raise UnknownJob(job_id)
        raise JobStateError(reply.error)
    assert isinstance(reply, Acknowledged)
    return reply
