"""Errors of the testing helpers: each one is a failed test, so an ``AssertionError``.

::

    AssertionError
     +-- ProbeTimeout              a probe did not receive the expected message in time
     +-- SimulationError           a simulation could not finish (carries its seed)
          +-- SimulationDeadlock   every task waits on something that can never come
          +-- SimulationTimeout    still running at the virtual-time limit (also a TimeoutError)
"""

from __future__ import annotations

__all__ = ["ProbeTimeout", "SimulationDeadlock", "SimulationError", "SimulationTimeout"]


class ProbeTimeout(AssertionError):
    """The probe did not receive the expected message in time."""


class SimulationError(AssertionError):
    """A simulation could not finish; ``seed`` replays it."""

    def __init__(self, message: str, *, seed: int, virtual_time: float) -> None:
        super().__init__(message)
        self.seed = seed
        self.virtual_time = virtual_time


class SimulationDeadlock(SimulationError):
    """No callback ready, no timer scheduled, no I/O: nothing can ever happen again."""


class SimulationTimeout(SimulationError, TimeoutError):
    """The scenario was still running when virtual time reached its limit."""
