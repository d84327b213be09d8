"""The job intake contract and the job lifecycle's data.

A job is submitted as a mapping (decoded JSON, say) or a :class:`JobSpec`:

========================================  ========  ===========================================
field                                     required  rule
========================================  ========  ===========================================
``job_id``                                yes       non-empty string, at most 128 characters
``objective``                             yes       non-empty string (selects the handler)
``requested_resources.compute_units``     yes       integer >= 0
``requested_resources.memory_mb``         yes       integer >= 0
``requested_resources.bandwidth_mbps``    yes       integer >= 0
``tadpole_count``                         yes       integer, 1..128
``worker_id``                             no        non-empty string (a preferred tadpole)
``expected_duration_seconds``             no        finite number > 0
``reward_signal``                         no        number in -1..1
``metadata``                              no        mapping with string keys
========================================  ========  ===========================================

Known ``metadata`` keys are checked too: ``mode`` (a channel name),
``urgency``, ``novelty_gap``, ``dependency_depth``, ``sandbox_debt``,
``complexity`` (numbers in 0..1), ``parent_artifact``, ``specialization``
and ``acceptance`` (strings), ``depends_on`` (a list of job ids).
Any other top-level field is refused. The first broken rule raises
:class:`~actors.roles.InvalidJob` naming the field's dotted path.

Lifecycle::

    queued --allocate, spawn--> running --release, metrics, notify--> completed
                                   |
                                   +--release, publish, schedule recovery--> failed
    failed --recovery attempt (attempt + 1, cancel flag cleared)--> queued
    running --success without the declared evidence--> needs_review
    needs_review --accept--> completed;  --retry (input amended or not)--> queued
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import Any

import msgspec

from protocol import Message

from ._errors import InvalidJob
from ._scoring import SCORE_INPUTS, Channel

__all__ = [
    "MAX_TADPOLE_COUNT",
    "Acknowledgement",
    "JobEvent",
    "JobSpec",
    "JobState",
    "JobView",
    "ResourceRequest",
    "parse_job",
    "validate_job",
]

MAX_TADPOLE_COUNT = 128
"""No job can ask for more tadpoles than the overall thread pool has threads."""

_REQUIRED = ("job_id", "objective", "requested_resources", "tadpole_count")
_OPTIONAL = ("worker_id", "expected_duration_seconds", "reward_signal", "metadata")
_RESOURCES = ("compute_units", "memory_mb", "bandwidth_mbps")


class JobState(enum.Enum):
    """Where a job is in its lifecycle; see :mod:`actors.roles._table`."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"
    """The handler returned, without the evidence the job declared: never "done"."""

    @property
    def terminal(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.NEEDS_REVIEW)


class Acknowledgement(enum.Enum):
    """What a reader does with a terminal, unread job."""

    ACCEPT = "accept"
    """Mark it read."""
    RETRY = "retry"
    """Queue it again: same identity, next attempt, cancel flag cleared; its input may be
    amended (``amend``) and it may wait for another job first (``after``)."""
    SPLIT = "split"
    """Mark it read and submit it again as parts, each with a share of its resources."""


class ResourceRequest(msgspec.Struct, frozen=True):
    """What a job asks of the pools: compute units, memory and bandwidth."""

    compute_units: int
    memory_mb: int
    bandwidth_mbps: int


class JobSpec(msgspec.Struct, frozen=True):
    """A job as submitted; see the module docstring for the contract."""

    job_id: str
    objective: str
    requested_resources: ResourceRequest
    tadpole_count: int
    worker_id: str | None = None
    expected_duration_seconds: float | None = None
    reward_signal: float | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)  # Any: free-form

    @property
    def mode(self) -> Channel:
        mode = self.metadata.get("mode")
        return Channel(mode) if mode is not None else Channel.BALANCED


def parse_job(data: Mapping[str, Any] | JobSpec) -> JobSpec:  # Any: decoded input
    """Check ``data`` against the contract and build a :class:`JobSpec`."""
    if isinstance(data, JobSpec):
        validate_job(data)
        return data
    if not isinstance(data, Mapping):
        raise InvalidJob("(job)", "must be a mapping of fields", type(data).__name__)
    job_id = data.get("job_id")
    label = job_id if isinstance(job_id, str) else ""
    for name in _REQUIRED:
        if name not in data:
            raise InvalidJob(name, "is required", None, job_id=label)
    for name in data:
        if name not in _REQUIRED and name not in _OPTIONAL:
            raise InvalidJob(str(name), "is not part of the job contract", data[name], job_id=label)
    resources = data["requested_resources"]
    if not isinstance(resources, Mapping):
        raise InvalidJob("requested_resources", "must be a mapping", resources, job_id=label)
    for name in _RESOURCES:
        if name not in resources:
            raise InvalidJob(f"requested_resources.{name}", "is required", None, job_id=label)
    for name in resources:
        if name not in _RESOURCES:
            raise InvalidJob(
                f"requested_resources.{name}",
                "is not part of the job contract",
                resources[name],
                job_id=label,
            )
    metadata = data.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, Mapping):
        raise InvalidJob("metadata", "must be a mapping", metadata, job_id=label)
    spec = JobSpec(
        job_id=data["job_id"],
        objective=data["objective"],
        requested_resources=ResourceRequest(
            compute_units=resources["compute_units"],
            memory_mb=resources["memory_mb"],
            bandwidth_mbps=resources["bandwidth_mbps"],
        ),
        tadpole_count=data["tadpole_count"],
        worker_id=data.get("worker_id"),
        expected_duration_seconds=data.get("expected_duration_seconds"),
        reward_signal=data.get("reward_signal"),
        metadata=dict(metadata),
    )
    validate_job(spec)
    return spec


def validate_job(spec: JobSpec) -> None:
    """Raise :class:`InvalidJob` naming the first field of ``spec`` that breaks the contract."""
    job_id = spec.job_id
    if not isinstance(job_id, str) or not job_id or len(job_id) > 128:
        raise InvalidJob("job_id", "must be a non-empty string of at most 128 characters", job_id)

    def bad(field: str, problem: str, value: object) -> InvalidJob:
        return InvalidJob(field, problem, value, job_id=job_id)

    if not isinstance(spec.objective, str) or not spec.objective:
        raise bad("objective", "must be a non-empty string", spec.objective)
    resources = spec.requested_resources
    if not isinstance(resources, ResourceRequest):
        raise bad("requested_resources", "must be a mapping", resources)
    for name in _RESOURCES:
        value = getattr(resources, name)
        if not _is_int(value) or value < 0:
            raise bad(f"requested_resources.{name}", "must be an integer >= 0", value)
    count = spec.tadpole_count
    if not _is_int(count) or not 1 <= count <= MAX_TADPOLE_COUNT:
        raise bad("tadpole_count", f"must be an integer in 1..{MAX_TADPOLE_COUNT}", count)
    if spec.worker_id is not None and (not isinstance(spec.worker_id, str) or not spec.worker_id):
        raise bad("worker_id", "must be a non-empty string", spec.worker_id)
    duration = spec.expected_duration_seconds
    if duration is not None and (
        not _is_number(duration) or not math.isfinite(duration) or duration <= 0
    ):
        raise bad("expected_duration_seconds", "must be a finite number > 0", duration)
    reward = spec.reward_signal
    if reward is not None and (not _is_number(reward) or not -1.0 <= reward <= 1.0):
        raise bad("reward_signal", "must be a number in -1..1", reward)
    metadata = spec.metadata
    if not isinstance(metadata, dict):
        raise bad("metadata", "must be a mapping", metadata)
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise bad("metadata", "must have string keys", key)
        if key == "mode" and value not in {channel.value for channel in Channel}:
            raise bad("metadata.mode", "must be one of strict, balanced, creative", value)
        if key in SCORE_INPUTS and (not _is_number(value) or not 0.0 <= value <= 1.0):
            raise bad(f"metadata.{key}", "must be a number in 0..1", value)
        if key in ("parent_artifact", "specialization", "acceptance") and (
            not isinstance(value, str) or not value
        ):
            raise bad(f"metadata.{key}", "must be a non-empty string", value)
        if key == "complexity" and (not _is_number(value) or not 0.0 <= value <= 1.0):
            raise bad("metadata.complexity", "must be a number in 0..1", value)
        if key == "depends_on" and (
            not isinstance(value, list | tuple)
            or not all(isinstance(item, str) and item for item in value)
            or job_id in value
        ):
            raise bad("metadata.depends_on", "must be a list of other jobs' ids", value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class JobView(msgspec.Struct, frozen=True):
    """A snapshot of one job as its supervisor sees it."""

    job_id: str
    state: JobState
    attempt: int
    channel: Channel | None
    unread: bool
    cancel_requested: bool
    tadpoles: tuple[str, ...]
    reason: str
    submitted_at: float
    started_at: float | None
    finished_at: float | None
    lineage_digest: str | None
    result: Any = None  # Any: the handler's (bounded) return value
    """What the handler returned (a list for several shards); see :func:`bound_result`."""
    evidence: str = ""
    """Why a finished job counts as done, or why it needs review."""
    waiting_on: tuple[str, ...] = ()
    """Jobs this one waits for before it runs (again)."""


class JobEvent(Message, tag="roles.job_event"):
    """Published on ``control_plane.job_events`` at every lifecycle step.

    ``state`` is a :class:`JobState` value or ``"rejected"``; ``final`` is true
    on the one terminal event that ends a job (no recovery attempt follows).
    """

    job_id: str
    state: str
    attempt: int
    at: float
    reason: str = ""
    final: bool = False
    channel: str | None = None
    tadpoles: tuple[str, ...] = ()
