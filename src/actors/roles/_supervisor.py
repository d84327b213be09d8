"""The job supervisor: owns job outcomes, as an OTP supervisor owns its children.

Its tadpoles (and its balancer) are its children under the runtime's one
restart engine (``supervisor_flags``): a crashed tadpole is restarted by that
engine and tells its supervisor, which reclaims the runs it lost.

The jobs themselves live in a :class:`~actors.roles._table.JobTable`, plain
data with the lifecycle, attempts, unread/acknowledge, window slots,
dependencies and evidence (see :mod:`actors.roles._table`). This actor only
turns each message into table operations (one handler per message type, in
``_HANDLERS``) and carries out what the table asks of the world:

* **admission**: accepted jobs are handed to the balancer at a bounded rate
  (a token bucket, with a timer for the rest), never dropped; the balancer
  scores each job and dispatches it to a channel, with lineage;
* **start** when the window has room, the pools grant resources and enough
  tadpoles have room (:mod:`actors.roles._pods`, spawning up to
  ``max_tadpoles``); a failed attempt's retry waits for its backoff timer;
* **liveness** (:mod:`actors.roles._sweep`) and **records**: every transition
  is published on ``control_plane.job_events``, every allocation and release
  on ``control_plane.resource_updates``, and all of them, with the mitigation
  of saturation, appended to the ledger (:mod:`actors.roles._publish`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

from protocol import Message

from .. import Actor, Backoff, ChildSpec, MailboxConfig, SupervisorFlags, Terminated
from ._balancer import Balancer, CycleHook
from ._classify import classify
from ._client import acknowledge, await_job, submit_job
from ._config import SupervisorConfig
from ._errors import UnknownJob
from ._jobs import JobState, JobView
from ._messages import (
    Acknowledge,
    AwaitJob,
    BalancerRestarted,
    CancelJob,
    CancelRun,
    GetJob,
    GetLiveness,
    GetStatistics,
    GetTadpoles,
    Heartbeat,
    JobReport,
    ListJobs,
    Refused,
    Reward,
    RunJob,
    SubmitJob,
    SubmitTask,
    TadpoleRestarted,
)
from ._planner import Dispatched
from ._pods import Pod, Pods
from ._publish import Publishing
from ._resources import Allocation, ResourcePools
from ._sweep import LivenessDuty, Sweep
from ._table import JobRecord, JobTable, ShardRecord
from ._tadpole import Handler, Tadpole, ThreadPool
from ._window import AdmissionGate, ConcurrencyWindow

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from .. import ActorRef
    from ._outcome import Acceptance
    from ._records import RecordSink

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


class JobSupervisor(LivenessDuty, Publishing, Actor[Message]):
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
            self._balancer = await self.context.spawn_spec(
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
    GetJob: lambda sup, m: sup.table.find(m.job_id),
    ListJobs: lambda sup, m: sup.table.listing(m.state, m.unread),
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
