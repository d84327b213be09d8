"""Errors of the scheduler.

The tree::

    SchedulerError                  root of everything raised by ``scheduler``
    ├── SchedulerConfigError        a parameter is out of range (ValueError; local misuse)
    │   └── DuplicateJobName        two periodic jobs registered under one name
    └── PoolStateError              the pool cannot do that in its state (RuntimeError)
        ├── PoolNotStarted          work submitted before ``start()`` / ``with``
        └── PoolClosed              work submitted after shutdown began

A job's own exception is never wrapped: it reaches the submitter unchanged,
through the job's future. A job cancelled by a shutdown policy ends with
:class:`concurrent.futures.CancelledError`, as any cancelled future does.
"""

from __future__ import annotations


class SchedulerError(Exception):
    """Root of the errors raised by the ``scheduler`` package."""


class SchedulerConfigError(SchedulerError, ValueError):
    """A scheduler parameter (worker count, capacity, interval, ...) is invalid."""


class DuplicateJobName(SchedulerConfigError):
    """A periodic job is registered under a name that is already taken."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"a periodic job named {name!r} is already registered; "
            "cancel it first or choose another name"
        )
        self.name = name


class PoolStateError(SchedulerError, RuntimeError):
    """The pool is not in a state that allows the requested operation."""


class PoolNotStarted(PoolStateError):
    """Work was submitted to a pool whose workers have not been started."""


class PoolClosed(PoolStateError):
    """Work was submitted to a pool that is shutting down or shut down."""
