"""The job table without actors: dependencies, splits, amended retries, waiters."""

from __future__ import annotations

from actors.roles import (
    Acknowledge,
    Acknowledged,
    Acknowledgement,
    JobState,
    Refused,
    Rejected,
    WindowConfig,
    parse_job,
)
from actors.roles._table import JobTable
from actors.roles._window import ConcurrencyWindow
from tests.unit.actors.roles.swarm_helpers import TableEffectsLog, job


def _table(window: int = 4) -> tuple[JobTable, TableEffectsLog]:
    effects = TableEffectsLog()
    table = JobTable(effects, ConcurrencyWindow(WindowConfig(initial=window, maximum=window)))
    effects.table = table
    return table, effects


def _run(table: JobTable, job_id: str, *, ok: bool = True) -> None:
    table.ready.remove(job_id)
    record = table.jobs[job_id]
    table.start(record, 1.0)
    if ok:
        record.results[0] = job_id
        table.complete(record, 2.0)
    else:
        table.fail(record, "boom", 2.0, retry=False)


def test_a_dependent_waits_and_runs_once_its_dependency_completed() -> None:
    table, _ = _table()
    table.accept(parse_job(job("a")), 0.0)
    table.accept(parse_job(job("b", metadata={"depends_on": ["a"]})), 0.0)
    assert list(table.ready) == ["a"]
    assert table.find("b") is not None
    assert table.find("b").waiting_on == ("a",)  # type: ignore[union-attr]
    _run(table, "a")
    assert list(table.ready) == ["b"]
    assert table.jobs["b"].attempt == 1


def test_a_dependent_fails_for_good_when_its_dependency_did() -> None:
    table, effects = _table()
    table.accept(parse_job(job("a")), 0.0)
    table.accept(parse_job(job("b", metadata={"depends_on": ["a"]})), 0.0)
    _run(table, "a", ok=False)
    b = table.jobs["b"]
    assert (b.state, b.final, b.unread) == (JobState.FAILED, True, True)
    assert b.reason == "dependency 'a' ended failed"
    assert [view.job_id for view in effects.settled_views] == ["a", "b"]


def test_a_dependency_on_an_unknown_job_is_rejected_and_nothing_is_queued() -> None:
    table, effects = _table()
    reply = table.accept(parse_job(job("b", metadata={"depends_on": ["nope"]})), 0.0)
    assert isinstance(reply, Rejected)
    assert reply.field == "metadata.depends_on"
    assert table.jobs == {}
    assert effects.rejections == ["b"]
    assert table.rejected == 1


def test_a_split_ends_the_job_and_queues_its_parts() -> None:
    table, _ = _table()
    table.accept(parse_job(job("big", metadata={"acceptance": "external"})), 0.0)
    _run(table, "big")
    assert table.jobs["big"].state is JobState.NEEDS_REVIEW
    reply = table.acknowledge(Acknowledge(job_id="big", action=Acknowledgement.SPLIT, parts=3), 3.0)
    assert isinstance(reply, Acknowledged)
    assert reply.new_jobs == ("big.part1", "big.part2", "big.part3")
    big = table.jobs["big"]
    assert (big.state, big.final, big.unread) == (JobState.FAILED, True, False)
    assert table.unread_held == 0
    assert table.jobs["big.part2"].spec.metadata["split_from"] == "big"


def test_a_bad_amendment_is_refused_and_changes_nothing() -> None:
    table, _ = _table()
    table.accept(parse_job(job("a")), 0.0)
    _run(table, "a", ok=False)
    before = table.jobs["a"].spec
    reply = table.acknowledge(
        Acknowledge(job_id="a", action=Acknowledgement.RETRY, amend={"depends_on": "x"}), 3.0
    )
    assert isinstance(reply, Refused)
    assert "cannot amend" in reply.error
    a = table.jobs["a"]
    assert (a.spec, a.attempt, a.unread, a.state) == (before, 1, True, JobState.FAILED)


def test_a_retry_after_another_job_waits_for_it_then_counts_the_attempt() -> None:
    table, _ = _table()
    table.accept(parse_job(job("a")), 0.0)
    table.accept(parse_job(job("fix")), 0.0)
    _run(table, "a", ok=False)
    reply = table.acknowledge(
        Acknowledge(job_id="a", action=Acknowledgement.RETRY, after="fix"), 3.0
    )
    assert isinstance(reply, Acknowledged)
    a = table.jobs["a"]
    assert (a.state, a.attempt, a.unread) == (JobState.QUEUED, 1, False)
    assert "a" not in table.ready
    _run(table, "fix")
    assert (a.state, a.attempt) == (JobState.QUEUED, 2)
    assert list(table.ready) == ["a"]
