"""Jobs waiting on other jobs, as plain data (no actors): the supervisor's dependency table.

A job waits on others (``metadata.depends_on`` at submission, or a retry
``after`` another job). :meth:`Dependencies.settle` is told how each job
settled: every job whose last dependency completed is *ready*; every job
waiting on one that failed for good is *failed* (it can never run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["Dependencies"]


class Dependencies:
    """Who waits on whom; see the module docstring."""

    def __init__(self) -> None:
        self._on: dict[str, set[str]] = {}
        """job -> the jobs it still waits on (never empty)."""
        self._for: dict[str, set[str]] = {}
        """job -> the jobs waiting on it."""

    def wait(self, job: str, others: Iterable[str], done: Callable[[str], bool]) -> frozenset[str]:
        """Make ``job`` wait on each of ``others`` not ``done`` yet; returns what it waits on."""
        for other in others:
            if other == job or done(other):
                continue
            self._on.setdefault(job, set()).add(other)
            self._for.setdefault(other, set()).add(job)
        return self.waiting_on(job)

    def waiting_on(self, job: str) -> frozenset[str]:
        return frozenset(self._on.get(job, ()))

    def __len__(self) -> int:
        """How many jobs wait."""
        return len(self._on)

    def settle(self, job: str, *, completed: bool) -> tuple[list[str], list[str]]:
        """``job`` settled for good; returns the jobs now (ready, failed), each sorted."""
        ready: list[str] = []
        failed: list[str] = []
        for waiting in sorted(self._for.pop(job, ())):
            on = self._on.get(waiting)
            if on is None or job not in on:
                continue
            if not completed:
                self.cancel(waiting)
                failed.append(waiting)
                continue
            on.discard(job)
            if not on:
                del self._on[waiting]
                ready.append(waiting)
        return ready, failed

    def cancel(self, job: str) -> None:
        """``job`` no longer waits (it was cancelled, or failed)."""
        for other in self._on.pop(job, ()):
            waiting = self._for.get(other)
            if waiting is not None:
                waiting.discard(job)
                if not waiting:
                    del self._for[other]
