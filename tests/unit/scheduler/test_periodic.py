"""The periodic-job table on a virtual clock: schedule, no overlap, overruns, failures."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import pytest

from scheduler import DuplicateJobName, PeriodicJobSpec, SchedulerConfigError
from scheduler._periodic import PeriodicRun, PeriodicTable
from scheduler._work import DROPPED, RAISED, RAN

if TYPE_CHECKING:
    from conftest import FakeClock

LOGGER = "scheduler._periodic"


def noop() -> None:
    pass


def names(runs: list[PeriodicRun]) -> list[str]:
    return [r.name for r in runs]


def test_job_is_first_due_one_interval_after_registration(clock: FakeClock) -> None:
    table = PeriodicTable(clock)
    table.add(PeriodicJobSpec("decay", 10.0, noop))
    assert table.next_due == clock() + 10.0
    clock.advance(9.999)
    assert table.collect_due(clock()) == []
    clock.advance(0.001)
    assert names(table.collect_due(clock())) == ["decay"]


def test_first_delay_sets_the_first_deadline(clock: FakeClock) -> None:
    table = PeriodicTable(clock)
    table.add(PeriodicJobSpec("snapshot", 60.0, noop, first_delay=0.0))
    assert names(table.collect_due(clock())) == ["snapshot"]


def test_schedule_is_fixed_rate_and_does_not_drift_with_late_polls(clock: FakeClock) -> None:
    table = PeriodicTable(clock)
    job = table.add(PeriodicJobSpec("rollup", 5.0, noop))
    start = clock()
    for k, lateness in enumerate([0.7, 0.2, 4.9], start=1):
        clock.advance(start + k * 5.0 + lateness - clock())
        (run,) = table.collect_due(clock())
        assert run.run() == RAN
        assert job.statistics().next_due == start + (k + 1) * 5.0
    stats = job.statistics()
    assert (stats.runs, stats.skipped) == (3, 0)


def test_running_job_is_not_dispatched_again_and_its_tick_is_skipped(clock: FakeClock) -> None:
    table = PeriodicTable(clock)
    job = table.add(PeriodicJobSpec("lease-aging", 1.0, noop))
    clock.advance(1.0)
    (run,) = table.collect_due(clock())
    clock.advance(1.0)
    assert table.collect_due(clock()) == []  # still running: no second instance
    assert job.statistics().skipped == 1
    assert job.statistics().running
    run.run()
    clock.advance(1.0)
    assert names(table.collect_due(clock())) == ["lease-aging"]


def test_late_poll_runs_once_and_counts_the_missed_ticks(clock: FakeClock) -> None:
    table = PeriodicTable(clock)
    job = table.add(PeriodicJobSpec("heat", 1.0, noop))
    clock.advance(3.5)  # ticks at +1, +2 and +3 have all passed
    assert len(table.collect_due(clock())) == 1
    stats = job.statistics()
    assert stats.skipped == 2
    assert stats.next_due == pytest.approx(clock() + 0.5)


def test_run_longer_than_its_interval_is_an_overrun_and_is_logged(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    table = PeriodicTable(clock)

    def slow() -> None:
        clock.advance(2.5)

    job = table.add(PeriodicJobSpec("ledger-snapshot", 2.0, slow))
    clock.advance(2.0)
    (run,) = table.collect_due(clock())
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert run.run() == RAN
    stats = job.statistics()
    assert (stats.runs, stats.overruns, stats.last_duration) == (1, 1, 2.5)
    (record,) = [r for r in caplog.records if r.msg == "periodic_job_overran"]
    assert record.levelno == logging.WARNING
    assert record.__dict__["job_id"] == "ledger-snapshot"
    assert record.__dict__["duration"] == 2.5
    assert record.__dict__["interval"] == 2.0


def test_failing_job_is_logged_counted_and_stays_scheduled(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    table = PeriodicTable(clock)

    def broken() -> None:
        raise ValueError("bad heat map")

    job = table.add(PeriodicJobSpec("heat-decay", 1.0, broken))
    clock.advance(1.0)
    (run,) = table.collect_due(clock())
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        assert run.run() == RAISED  # does not raise
    (record,) = [r for r in caplog.records if r.msg == "periodic_job_failed"]
    assert record.__dict__["job_id"] == "heat-decay"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)
    assert (job.statistics().failures, job.statistics().runs) == (1, 1)
    clock.advance(1.0)
    assert names(table.collect_due(clock())) == ["heat-decay"]


def test_cancelled_job_is_not_dispatched_and_its_queued_run_is_dropped(
    clock: FakeClock,
) -> None:
    calls: list[int] = []
    table = PeriodicTable(clock)
    job = table.add(PeriodicJobSpec("metrics", 1.0, lambda: calls.append(1)))
    clock.advance(1.0)
    (queued,) = table.collect_due(clock())
    assert job.cancel() is True
    assert job.cancel() is False
    assert queued.run() == DROPPED
    assert calls == []
    assert table.next_due == math.inf
    clock.advance(10.0)
    assert table.collect_due(clock()) == []
    assert job.statistics().cancelled
    assert table.statistics() == ()


def test_cancelled_name_can_be_registered_again(clock: FakeClock) -> None:
    table = PeriodicTable(clock)
    table.add(PeriodicJobSpec("rollup", 1.0, noop)).cancel()
    assert table.add(PeriodicJobSpec("rollup", 2.0, noop)).interval == 2.0


def test_duplicate_job_name_is_refused(clock: FakeClock) -> None:
    table = PeriodicTable(clock)
    table.add(PeriodicJobSpec("rollup", 1.0, noop))
    with pytest.raises(DuplicateJobName, match="'rollup'"):
        table.add(PeriodicJobSpec("rollup", 5.0, noop))


@pytest.mark.parametrize(
    ("name", "interval", "first_delay"),
    [
        ("", 1.0, None),
        ("job", 0.0, None),
        ("job", -1.0, None),
        ("job", math.inf, None),
        ("job", math.nan, None),
        ("job", 1.0, -0.5),
        ("job", 1.0, math.inf),
    ],
)
def test_invalid_job_spec_is_refused_with_the_offending_value(
    name: str, interval: float, first_delay: float | None
) -> None:
    with pytest.raises(SchedulerConfigError) as err:
        PeriodicJobSpec(name, interval, noop, first_delay)
    assert isinstance(err.value, ValueError)


def test_closed_table_dispatches_nothing(clock: FakeClock) -> None:
    table = PeriodicTable(clock)
    table.add(PeriodicJobSpec("rollup", 1.0, noop))
    table.close()
    clock.advance(5.0)
    assert table.collect_due(clock()) == []
    assert table.next_due == math.inf


def test_next_due_is_the_earliest_deadline_of_all_jobs(clock: FakeClock) -> None:
    table = PeriodicTable(clock)
    assert table.next_due == math.inf
    table.add(PeriodicJobSpec("slow", 30.0, noop))
    table.add(PeriodicJobSpec("fast", 2.0, noop))
    assert table.next_due == clock() + 2.0
    clock.advance(2.0)
    assert names(table.collect_due(clock())) == ["fast"]
    assert table.next_due == clock() + 2.0


def test_a_table_times_runs_with_its_timer_not_its_clock() -> None:
    readings = iter([100.0, 100.25])
    table = PeriodicTable(lambda: 0.0, timer=lambda: next(readings))
    job = table.add(PeriodicJobSpec("timed", interval=1.0, fn=lambda: None))
    (run,) = table.collect_due(1.0)
    run.run()
    assert job.statistics().last_duration == 0.25
