"""Balancer tasks, their channels and their priority score.

``score = 0.4·urgency + 0.3·novelty_gap + 0.2·dependency_depth + 0.1·sandbox_debt``

Every input is normalised to ``0..1`` (anything outside is an
:class:`~actors.roles.InvalidTask` naming the input); the weights are
configurable, each non-negative, summing to 1.
"""

from __future__ import annotations

import enum
import math

import msgspec

from ._errors import InvalidTask, InvalidWeights

__all__ = ["SCORE_INPUTS", "Channel", "ScoreWeights", "Task", "validate_task"]

SCORE_INPUTS = ("urgency", "novelty_gap", "dependency_depth", "sandbox_debt")
"""The four normalised inputs of the priority score."""


class Channel(enum.Enum):
    """The worker channels the balancer dispatches to, in round-robin order."""

    STRICT = "strict"
    BALANCED = "balanced"
    CREATIVE = "creative"


class ScoreWeights(msgspec.Struct, frozen=True):
    """Weights of the priority score (defaults 0.4, 0.3, 0.2, 0.1)."""

    urgency: float = 0.4
    novelty_gap: float = 0.3
    dependency_depth: float = 0.2
    sandbox_debt: float = 0.1

    def __post_init__(self) -> None:
        values = [getattr(self, name) for name in SCORE_INPUTS]
        for name, value in zip(SCORE_INPUTS, values, strict=True):
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise InvalidWeights(f"weight {name} must be a finite number >= 0, got {value!r}")
        total = math.fsum(values)
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise InvalidWeights(f"weights must sum to 1, got {total!r} ({self!r})")

    def score(self, task: Task) -> float:
        """The task's priority in ``0..1``."""
        return (
            self.urgency * task.urgency
            + self.novelty_gap * task.novelty_gap
            + self.dependency_depth * task.dependency_depth
            + self.sandbox_debt * task.sandbox_debt
        )


class Task(msgspec.Struct, frozen=True):
    """One unit of work for the balancer.

    ``mode`` is the channel it belongs to; ``parent_artifact`` (a task id or
    any artifact name) links it into a lineage; ``payload`` travels with it
    untouched (the supervisor puts its job id there). ``submitted_at`` (the
    system clock's time when the work was submitted, default: when the
    balancer receives it) is where its dispatch delay is counted from.
    """

    task_id: str
    mode: Channel = Channel.BALANCED
    urgency: float = 0.5
    novelty_gap: float = 0.5
    dependency_depth: float = 0.0
    sandbox_debt: float = 0.0
    parent_artifact: str | None = None
    submitted_at: float | None = None


def validate_task(task: Task) -> None:
    """Raise :class:`InvalidTask` naming the first input that is not a number in ``0..1``."""
    if not isinstance(task.task_id, str) or not task.task_id:
        raise InvalidTask("task_id", "must be a non-empty string", task.task_id)
    if not isinstance(task.mode, Channel):
        raise InvalidTask("mode", "must be a Channel", task.mode)
    for name in SCORE_INPUTS:
        value = getattr(task, name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0.0 <= value <= 1.0  # NaN fails this too
        ):
            raise InvalidTask(name, "must be a number in 0..1", value)
    parent = task.parent_artifact
    if parent is not None and (not isinstance(parent, str) or not parent):
        raise InvalidTask("parent_artifact", "must be a non-empty string or None", parent)
    at = task.submitted_at
    if at is not None and (
        isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at)
    ):
        raise InvalidTask("submitted_at", "must be a finite number or None", at)
