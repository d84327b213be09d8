"""Periodic maintenance jobs: a schedule table the pool's workers drive.

A job is data — a :class:`PeriodicJobSpec` (name, interval, function, first
delay) — so that any part of the runtime (lease aging, heat decay, ledger
snapshots, metric rollups) can describe its maintenance and hand it to the
pool (:meth:`scheduler.WorkStealingPool.schedule`).

Schedule: fixed rate. A job registered at time ``t0`` is due at
``t0 + first_delay + k * interval``. When the pool notices a due tick it
dispatches one run and moves the deadline to the first grid point after
"now", so a late pool does not fire a burst of catch-up runs.

Rules, each counted in :class:`PeriodicJobStatistics`:

- never two instances of one job at once: a tick that comes due while the
  previous run is still queued or running is *skipped*;
- a run that lasts longer than the interval is an *overrun*, logged at
  warning level (``periodic_job_overran``);
- a run that raises is a *failure*, logged with its traceback
  (``periodic_job_failed``); the job stays scheduled and the worker lives on.

Log records use the event name as the message and carry ``job_id`` (and
``duration``, ``interval`` for overruns) as record attributes.

Time comes only from the clock the table is given, so tests drive the
schedule on a virtual clock.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._errors import DuplicateJobName, SchedulerConfigError
from ._work import DROPPED, RAISED, RAN

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "PeriodicJob",
    "PeriodicJobSpec",
    "PeriodicJobStatistics",
    "PeriodicRun",
    "PeriodicTable",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PeriodicJobSpec:
    """What a part of the runtime asks the pool to run on a schedule."""

    name: str
    """Unique among the pool's periodic jobs; the ``job_id`` in logs."""
    interval: float
    """Seconds between scheduled runs (> 0)."""
    fn: Callable[[], object]
    """Called with no arguments on a worker thread; its return value is ignored."""
    first_delay: float | None = None
    """Seconds from registration to the first run; ``None`` means one interval."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SchedulerConfigError(
                f"periodic job name must be a non-empty string, got {self.name!r}"
            )
        if not (self.interval > 0 and math.isfinite(self.interval)):
            raise SchedulerConfigError(
                f"interval of periodic job {self.name!r} must be a positive number "
                f"of seconds, got {self.interval!r}"
            )
        if self.first_delay is not None and not (
            self.first_delay >= 0 and math.isfinite(self.first_delay)
        ):
            raise SchedulerConfigError(
                f"first_delay of periodic job {self.name!r} must be >= 0 seconds, "
                f"got {self.first_delay!r}"
            )


@dataclass(frozen=True, slots=True)
class PeriodicJobStatistics:
    """A snapshot of one periodic job's record."""

    name: str
    """The job's name (its ``job_id`` in logs)."""
    interval: float
    """Seconds between scheduled runs."""
    runs: int
    """Runs that finished (successfully or not)."""
    failures: int
    """Runs that raised."""
    overruns: int
    """Runs that lasted longer than the interval."""
    skipped: int
    """Ticks not run: the previous run was still going, or the pool was late."""
    running: bool
    """Whether a run is queued or in progress now."""
    next_due: float
    """Clock time of the next tick (``inf`` once cancelled)."""
    last_duration: float | None
    """Seconds the last finished run took, by the table's timer (its clock by default)."""
    cancelled: bool
    """Whether the job was cancelled (it is dispatched no more)."""


class _Entry:
    __slots__ = (
        "cancelled",
        "due",
        "failures",
        "last_duration",
        "overruns",
        "running",
        "runs",
        "skipped",
        "spec",
    )

    def __init__(self, spec: PeriodicJobSpec, due: float) -> None:
        self.spec = spec
        self.due = due
        self.running = False
        self.cancelled = False
        self.runs = 0
        self.failures = 0
        self.overruns = 0
        self.skipped = 0
        self.last_duration: float | None = None

    def snapshot(self) -> PeriodicJobStatistics:
        return PeriodicJobStatistics(
            name=self.spec.name,
            interval=self.spec.interval,
            runs=self.runs,
            failures=self.failures,
            overruns=self.overruns,
            skipped=self.skipped,
            running=self.running,
            next_due=math.inf if self.cancelled else self.due,
            last_duration=self.last_duration,
            cancelled=self.cancelled,
        )


class PeriodicJob:
    """Handle to a registered periodic job: observe it or cancel it."""

    __slots__ = ("_entry", "_table")

    def __init__(self, table: PeriodicTable, entry: _Entry) -> None:
        self._table = table
        self._entry = entry

    @property
    def name(self) -> str:
        """The job's name."""
        return self._entry.spec.name

    @property
    def interval(self) -> float:
        """Seconds between scheduled runs."""
        return self._entry.spec.interval

    def cancel(self) -> bool:
        """Stop scheduling this job; a run already in progress finishes.

        Returns ``False`` if the job was already cancelled. A run queued but
        not started when the job is cancelled is dropped.
        """
        return self._table.cancel(self._entry)

    def statistics(self) -> PeriodicJobStatistics:
        """A snapshot of this job's record."""
        with self._table.lock:
            return self._entry.snapshot()

    def __repr__(self) -> str:
        return f"<PeriodicJob {self.name!r} every {self.interval}s>"


class PeriodicRun:
    """One dispatched run of a periodic job: the unit of work a pool worker executes."""

    __slots__ = ("_entry", "_table")

    def __init__(self, table: PeriodicTable, entry: _Entry) -> None:
        self._table = table
        self._entry = entry

    @property
    def name(self) -> str:
        return self._entry.spec.name

    def run(self) -> int:
        """Call the job's function, time it, record the outcome; never raises."""
        table = self._table
        entry = self._entry
        if entry.cancelled:
            table.finish(entry, None)
            return DROPPED
        timer = table.timer
        started = timer()
        try:
            entry.spec.fn()
        except BaseException as exc:  # logged and counted: a job must not kill its worker
            table.finish(entry, timer() - started, exc)
            return RAISED
        table.finish(entry, timer() - started)
        return RAN

    def cancel(self) -> None:
        """Drop this run without calling the function (pool shutdown)."""
        self._table.finish(self._entry, None)


class PeriodicTable:
    """The schedule of periodic jobs; thread-safe, driven by whoever polls it.

    :param clock: monotonic seconds, for the schedule; the pool passes its own clock.
    :param timer: monotonic seconds, read on the thread that runs a job to time
        the run (durations, overruns); defaults to ``clock``. An owner whose
        clock can only be read on its own thread (an event loop's clock, which
        may be virtual) passes a thread-safe timer such as ``time.perf_counter``.
    """

    def __init__(
        self, clock: Callable[[], float], *, timer: Callable[[], float] | None = None
    ) -> None:
        self.clock = clock
        self.timer = clock if timer is None else timer
        self.lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._closed = False
        self.next_due: float = math.inf
        """Earliest deadline of any job (``inf`` if none); read without the lock
        as a hint by the pool's workers, written only under it."""

    def add(self, spec: PeriodicJobSpec) -> PeriodicJob:
        """Register ``spec``; its first run is due after ``first_delay`` (or one interval)."""
        delay = spec.interval if spec.first_delay is None else spec.first_delay
        with self.lock:
            if spec.name in self._entries:
                raise DuplicateJobName(spec.name)
            entry = _Entry(spec, self.clock() + delay)
            self._entries[spec.name] = entry
            self._recompute()
        return PeriodicJob(self, entry)

    def cancel(self, entry: _Entry) -> bool:
        with self.lock:
            if entry.cancelled:
                return False
            entry.cancelled = True
            if self._entries.get(entry.spec.name) is entry:
                del self._entries[entry.spec.name]
            self._recompute()
            return True

    def close(self) -> None:
        """Dispatch nothing more (pool shutdown); registered jobs stay observable."""
        with self.lock:
            self._closed = True
            self.next_due = math.inf

    def collect_due(self, now: float) -> list[PeriodicRun]:
        """Runs due at ``now``, marking each job running; skips ticks of running jobs."""
        runs: list[PeriodicRun] = []
        with self.lock:
            if self._closed or now < self.next_due:
                return runs
            for entry in self._entries.values():
                if entry.due > now:
                    continue
                interval = entry.spec.interval
                ticks = int((now - entry.due) // interval) + 1
                due = entry.due + ticks * interval
                while due <= now:  # float rounding
                    due += interval
                    ticks += 1
                entry.due = due
                if entry.running:
                    entry.skipped += ticks
                else:
                    entry.skipped += ticks - 1
                    entry.running = True
                    runs.append(PeriodicRun(self, entry))
            self._recompute()
        return runs

    def finish(
        self, entry: _Entry, duration: float | None, error: BaseException | None = None
    ) -> None:
        """Record the end of a run; ``duration=None`` means it never ran."""
        overran = False
        with self.lock:
            entry.running = False
            if duration is not None:
                entry.runs += 1
                entry.last_duration = duration
                if error is not None:
                    entry.failures += 1
                if duration > entry.spec.interval:
                    entry.overruns += 1
                    overran = True
        name = entry.spec.name
        if error is not None:
            logger.error(
                "periodic_job_failed",
                exc_info=(type(error), error, error.__traceback__),
                extra={"job_id": name},
            )
        if overran:
            logger.warning(
                "periodic_job_overran",
                extra={"job_id": name, "duration": duration, "interval": entry.spec.interval},
            )

    def statistics(self) -> tuple[PeriodicJobStatistics, ...]:
        """One snapshot per registered (not cancelled) job, in registration order."""
        with self.lock:
            return tuple(entry.snapshot() for entry in self._entries.values())

    def _recompute(self) -> None:
        if self._closed:
            self.next_due = math.inf
            return
        self.next_due = min((e.due for e in self._entries.values()), default=math.inf)
