"""Every message the roles exchange, by role: a reader finds a message here.

=================================== ==================================================
section                             messages
=================================== ==================================================
**supervisor** (asked by clients)   :class:`SubmitJob` -> :class:`Submitted` |
                                    :class:`Rejected`; :class:`Acknowledge` ->
                                    :class:`Acknowledged` | :class:`Refused`;
                                    :class:`CancelJob`, :class:`AwaitJob`,
                                    :class:`GetJob`, :class:`ListJobs`,
                                    :class:`GetLiveness` (-> :class:`ShardLiveness`),
                                    :class:`GetTadpoles` (-> :class:`TadpoleInfo`),
                                    :class:`GetStatistics`
                                    (-> :class:`SupervisorStatistics`), :class:`Reward`
**supervisor** (published)          :class:`~actors.roles.JobEvent` on
                                    :data:`JOB_EVENTS`; :class:`ResourceUpdate` on
                                    :data:`RESOURCE_UPDATES`
**tadpole** (from its supervisor)   :class:`RunJob`, :class:`CancelRun`,
                                    :class:`SetThreadBudget`, :class:`Crash`,
                                    :class:`GetTadpoleStatus` (-> :class:`TadpoleStatus`)
**tadpole** (to its supervisor)     :class:`JobReport`, :class:`Heartbeat` (of
                                    :class:`BeatEntry`), :class:`TadpoleRestarted`
**balancer**                        :class:`SubmitTask` -> :class:`TaskAccepted` |
                                    :class:`TaskRejected`; :class:`RunCycle`,
                                    :class:`PlanCycle`, :class:`GetSummary`;
                                    to its parent: :class:`~actors.roles.Dispatched`,
                                    :class:`BalancerRestarted`
=================================== ==================================================

Each actor keeps its own timer messages private (``_Admit``, ``_Cycle``, ...).
"""

from __future__ import annotations

from typing import Any

import msgspec

from protocol import Message

from ._jobs import Acknowledgement, JobSpec
from ._liveness import LivenessReport
from ._resources import Resources
from ._scoring import Task

__all__ = [
    "JOB_EVENTS",
    "RESOURCE_UPDATES",
    "Acknowledge",
    "Acknowledged",
    "AwaitJob",
    "BalancerRestarted",
    "BeatEntry",
    "CancelJob",
    "CancelRun",
    "Crash",
    "GetJob",
    "GetLiveness",
    "GetStatistics",
    "GetSummary",
    "GetTadpoleStatus",
    "GetTadpoles",
    "Heartbeat",
    "JobReport",
    "ListJobs",
    "PlanCycle",
    "Refused",
    "Rejected",
    "ResourceUpdate",
    "Reward",
    "RunCycle",
    "RunJob",
    "SetThreadBudget",
    "ShardLiveness",
    "SubmitJob",
    "SubmitTask",
    "Submitted",
    "SupervisorStatistics",
    "TadpoleInfo",
    "TadpoleRestarted",
    "TadpoleStatus",
    "TaskAccepted",
    "TaskRejected",
]


# -- supervisor ------------------------------------------------------------------------

JOB_EVENTS = "control_plane.job_events"
"""The topic of every job transition (:class:`~actors.roles.JobEvent`)."""
RESOURCE_UPDATES = "control_plane.resource_updates"
"""The topic of every allocation, release and saturation change (:class:`ResourceUpdate`)."""


class SubmitJob(Message, tag="roles.submit_job"):
    """Submit a job (asked): the reply is :class:`Submitted`, or :class:`Rejected` (why)."""

    job: JobSpec


class Submitted(Message, tag="roles.submitted"):
    """The job was accepted and queued (or waits for its dependencies)."""

    job_id: str


class Rejected(Message, tag="roles.rejected"):
    """The job broke the contract (``field`` names where) or its id is taken."""

    job_id: str
    field: str
    problem: str
    value: str
    error: str


class CancelJob(Message, tag="roles.cancel_job"):
    """Cancel an unsettled job (asked): the reply is its view, or :class:`Refused`."""

    job_id: str


class Acknowledge(Message, tag="roles.acknowledge"):
    """Acknowledge an unread settled job: ``accept``, ``retry`` or ``split`` it."""

    job_id: str
    action: Acknowledgement = Acknowledgement.ACCEPT
    parts: int = 2
    """For ``split``: how many parts."""
    amend: dict[str, Any] | None = None  # Any: metadata values
    """For ``retry``: metadata merged into the job's own (a focused continuation)."""
    after: str | None = None
    """For ``retry``: wait for this job to complete first (a dependency)."""


class AwaitJob(Message, tag="roles.await_job"):
    """Asked locally: the job's view once it is terminal (an ``asyncio.Future`` until then)."""

    job_id: str


class Acknowledged(Message, tag="roles.acknowledged"):
    """The acknowledgement was applied; ``new_jobs`` names the parts of a split."""

    job_id: str
    action: Acknowledgement
    new_jobs: tuple[str, ...] = ()


class Refused(Message, tag="roles.refused"):
    """A request about a job that does not exist or is in the wrong state."""

    job_id: str
    error: str
    unknown: bool = False


class Reward(Message, tag="roles.reward"):
    """Nudge the allocation weight of ``objective`` by ``signal`` (-1..1)."""

    objective: str
    signal: float


class GetJob(Message, tag="roles.get_job"):
    """Ask for one job's :class:`~actors.roles.JobView` (``None`` if unknown)."""

    job_id: str


class ListJobs(Message, tag="roles.list_jobs"):
    """Ask for the views of the jobs in ``state`` (a value) and with ``unread`` (``None``: any)."""

    state: str | None = None
    unread: bool | None = None


class GetStatistics(Message, tag="roles.get_statistics"):
    """Ask for the supervisor's :class:`SupervisorStatistics`."""

    pass


class GetTadpoles(Message, tag="roles.get_tadpoles"):
    """Ask for a :class:`TadpoleInfo` of each of the supervisor's tadpoles."""

    pass


class GetLiveness(Message, tag="roles.get_liveness"):
    """Ask for the :class:`ShardLiveness` of each running shard of a job."""

    job_id: str


class ShardLiveness(msgspec.Struct, frozen=True):
    """How liveness assesses one running shard of a job, on which tadpole."""

    shard: int
    tadpole_id: str
    report: LivenessReport


class TadpoleInfo(msgspec.Struct, frozen=True):
    """One tadpole as its supervisor sees it: budget, incarnation, runs, risk."""

    tadpole_id: str
    path: str
    specialization: str
    thread_budget: int
    incarnation: int
    running: tuple[str, ...]
    at_risk: bool


class ResourceUpdate(Message, tag="roles.resource_update"):
    """Published on ``control_plane.resource_updates``."""

    action: str
    """``allocate``, ``release``, ``saturated``, ``mitigated`` or ``cleared``."""
    job_id: str
    free: Resources
    utilization: float
    at: float


class SupervisorStatistics(msgspec.Struct, frozen=True):
    """A snapshot of a supervisor's counters, window, tadpoles, pools and latencies."""

    submitted: int
    rejected: int
    queued: int
    running: int
    completed: int
    failed: int
    retries: int
    reclaimed: int
    unread: int
    window: int
    tadpoles: int
    threads: int
    utilization: float
    saturated: bool
    mitigations: int
    free: Resources
    per_channel: dict[str, int]
    latency_p50: float
    latency_p90: float
    latency_p99: float
    needs_review: int = 0
    waiting: int = 0
    """Jobs waiting for another job (a dependency)."""


# -- tadpole ---------------------------------------------------------------------------


class RunJob(Message, tag="roles.run_job"):
    """Run shard ``shard`` of ``shards`` of one attempt of a job."""

    job: JobSpec
    attempt: int
    shard: int = 0
    shards: int = 1
    incarnation: int = 0
    granted: Resources = Resources()


class CancelRun(Message, tag="roles.cancel_run"):
    """Stop the runs of one attempt of a job (the tadpole reports each as ended)."""

    job_id: str
    attempt: int


class Crash(Message, tag="roles.crash"):
    """Make the tadpole fail (chaos testing): its restart goes through its supervisor."""

    reason: str = "told to crash"


class SetThreadBudget(Message, tag="roles.set_thread_budget"):
    """How many runs the tadpole may have at once from now on."""

    threads: int


class GetTadpoleStatus(Message, tag="roles.get_tadpole_status"):
    """Ask a tadpole for its :class:`TadpoleStatus`."""

    pass


class BeatEntry(msgspec.Struct, frozen=True):
    """One run in a :class:`Heartbeat`: which attempt and shard, and its progress (0..1)."""

    job_id: str
    attempt: int
    shard: int
    progress: float


class Heartbeat(Message, tag="roles.heartbeat"):
    """Sent by a working tadpole every heartbeat interval: the runs it has, with progress."""

    tadpole_id: str
    at: float
    jobs: tuple[BeatEntry, ...]


class JobReport(Message, tag="roles.job_report"):
    """How one run ended; ``ok`` false carries the reason."""

    tadpole_id: str
    job_id: str
    attempt: int
    shard: int
    ok: bool
    reason: str = ""
    duration: float = 0.0
    lost: bool = False
    """The run ended because its tadpole stopped or crashed."""
    result: Any = None  # Any: whatever the handler returned
    """The handler's return value (successful runs)."""


class TadpoleRestarted(Message, tag="roles.tadpole_restarted"):
    """Sent by a restarted tadpole to its supervisor: its previous runs are gone."""

    tadpole_id: str
    incarnation: int
    reason: str


class TadpoleStatus(msgspec.Struct, frozen=True):
    """A tadpole's own view: budget, incarnation, runs, and how many ended each way."""

    tadpole_id: str
    specialization: str
    thread_budget: int
    incarnation: int
    running: tuple[str, ...]
    completed: int
    failed: int


# -- balancer --------------------------------------------------------------------------


class SubmitTask(Message, tag="roles.submit_task"):
    """Queue a task with the balancer; the reply: :class:`TaskAccepted` or :class:`TaskRejected`."""

    task: Task


class TaskAccepted(Message, tag="roles.task_accepted"):
    """The task was queued (or deferred by the creative backlog cap) with this score."""

    task_id: str
    score: float
    deferred: bool = False
    """Held outside the dispatch queue by the creative backlog cap (it still waits)."""


class TaskRejected(Message, tag="roles.task_rejected"):
    """The task broke the contract; ``field`` names where."""

    task_id: str
    field: str
    error: str


class RunCycle(Message, tag="roles.run_cycle"):
    """Run a dispatch cycle now (in the balancer's mode); the reply is its report."""


class PlanCycle(Message, tag="roles.plan_cycle"):
    """Plan the next cycle without dispatching anything (a dry run, in any mode)."""


class GetSummary(Message, tag="roles.get_summary"):
    """Ask the balancer for its :class:`~actors.roles.DispatchSummary`."""

    pass


class BalancerRestarted(Message, tag="roles.balancer_restarted"):
    """Told to the parent by a restarted balancer: its queue is empty again."""

    reason: str
