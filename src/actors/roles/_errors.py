"""Errors of the swarm roles.

The tree (all under :class:`~actors.ActorError`)::

    RoleError                            root of everything raised by ``actors.roles``
    ├── InvalidJob (ValueError)          a job breaks the intake contract; names the field
    ├── InvalidTask (ValueError)         a balancer task input is out of range; names the field
    ├── InvalidWeights (ValueError)      score weights are negative or do not sum to 1
    ├── UnknownJob (LookupError)         no job with that id
    ├── JobStateError                    the job is not in a state that allows the request
    ├── HandlerNotFound (LookupError)    no handler for a job's objective
    └── TadpoleCrashed                   a tadpole was told to crash (chaos testing)
"""

from __future__ import annotations

from .. import ActorError

__all__ = [
    "HandlerNotFound",
    "InvalidJob",
    "InvalidTask",
    "InvalidWeights",
    "JobStateError",
    "RoleError",
    "TadpoleCrashed",
    "UnknownJob",
]


class RoleError(ActorError):
    """Root of the errors raised by :mod:`actors.roles`."""


class InvalidJob(RoleError, ValueError):
    """A submitted job breaks the intake contract; ``field`` is its dotted path."""

    def __init__(
        self,
        field: str,
        problem: str,
        value: object = None,
        *,
        job_id: str = "",
        shown: str | None = None,
    ) -> None:
        where = f"job {job_id!r}: " if job_id else "job: "
        super().__init__(f"{where}{field} {problem}, got {shown or repr(value)}")
        self.field = field
        self.problem = problem
        self.value = value
        self.job_id = job_id


class InvalidTask(RoleError, ValueError):
    """A balancer task has an input out of range; ``field`` names it."""

    def __init__(self, field: str, problem: str, value: object = None) -> None:
        super().__init__(f"task {field} {problem}, got {value!r}")
        self.field = field
        self.value = value


class InvalidWeights(RoleError, ValueError):
    """Priority weights must be non-negative and sum to 1."""


class UnknownJob(RoleError, LookupError):
    """No job with this id is known."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}")
        self.job_id = job_id


class JobStateError(RoleError):
    """The request does not fit the job's state (acknowledging a running job, ...)."""


class HandlerNotFound(RoleError, LookupError):
    """No handler is registered for a job's objective, and there is no default."""

    def __init__(self, objective: str) -> None:
        super().__init__(f"no handler for objective {objective!r}")
        self.objective = objective


class TadpoleCrashed(RoleError):
    """Raised inside a tadpole told to :class:`~actors.roles.Crash` (chaos testing)."""
