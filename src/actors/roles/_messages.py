"""What a :class:`~actors.roles.JobSupervisor` accepts and answers, and what it publishes."""

from __future__ import annotations

from typing import Any

import msgspec

from protocol import Message

from ._jobs import Acknowledgement, JobSpec
from ._liveness import LivenessReport
from ._resources import Resources

__all__ = [
    "JOB_EVENTS",
    "RESOURCE_UPDATES",
    "Acknowledge",
    "Acknowledged",
    "AwaitJob",
    "CancelJob",
    "GetJob",
    "GetLiveness",
    "GetStatistics",
    "GetTadpoles",
    "ListJobs",
    "Refused",
    "Rejected",
    "ResourceUpdate",
    "Reward",
    "ShardLiveness",
    "SubmitJob",
    "Submitted",
    "SupervisorStatistics",
    "TadpoleInfo",
]

JOB_EVENTS = "control_plane.job_events"
RESOURCE_UPDATES = "control_plane.resource_updates"


class SubmitJob(Message, tag="roles.submit_job"):
    job: JobSpec


class Submitted(Message, tag="roles.submitted"):
    job_id: str


class Rejected(Message, tag="roles.rejected"):
    """The job broke the contract (``field`` names where) or its id is taken."""

    job_id: str
    field: str
    problem: str
    value: str
    error: str


class CancelJob(Message, tag="roles.cancel_job"):
    job_id: str


class Acknowledge(Message, tag="roles.acknowledge"):
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
    job_id: str


class ListJobs(Message, tag="roles.list_jobs"):
    state: str | None = None
    unread: bool | None = None


class GetStatistics(Message, tag="roles.get_statistics"):
    pass


class GetTadpoles(Message, tag="roles.get_tadpoles"):
    pass


class GetLiveness(Message, tag="roles.get_liveness"):
    job_id: str


class ShardLiveness(msgspec.Struct, frozen=True):
    shard: int
    tadpole_id: str
    report: LivenessReport


class TadpoleInfo(msgspec.Struct, frozen=True):
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
