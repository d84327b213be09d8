"""The dependency table: a job runs once everything it waits on completed, fails if one failed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.roles._deps import Dependencies


def never(job_id: str) -> bool:
    return False


def test_a_job_is_ready_once_its_last_dependency_completes() -> None:
    deps = Dependencies()
    assert deps.wait("c", ["a", "b"], never) == {"a", "b"}
    assert deps.settle("a", completed=True) == ([], [])
    assert deps.waiting_on("c") == {"b"}
    assert deps.settle("b", completed=True) == (["c"], [])
    assert len(deps) == 0


def test_completed_dependencies_and_itself_are_not_waited_on() -> None:
    deps = Dependencies()
    assert deps.wait("c", ["a", "c"], lambda job: job == "a") == frozenset()
    assert len(deps) == 0


def test_a_failed_dependency_fails_its_waiters_and_cancel_forgets() -> None:
    deps = Dependencies()
    deps.wait("c", ["a", "b"], never)
    deps.wait("d", ["a"], never)
    assert deps.settle("a", completed=False) == ([], ["c", "d"])
    assert deps.settle("b", completed=True) == ([], [])  # c already failed
    deps.wait("e", ["f"], never)
    deps.cancel("e")
    assert deps.settle("f", completed=True) == ([], [])


@settings(max_examples=200, deadline=None)
@given(data=st.data(), jobs=st.integers(2, 12))
def test_every_waiting_job_ends_ready_or_failed_exactly_once(
    data: st.DataObject, jobs: int
) -> None:
    deps = Dependencies()
    waits: dict[int, set[int]] = {}
    for job in range(jobs):
        # Only on earlier jobs: no cycles, as at submission.
        on = data.draw(st.sets(st.integers(0, job - 1), max_size=3)) if job else set()
        waits[job] = on
        deps.wait(str(job), [str(o) for o in on], never)
    outcome = {job: data.draw(st.booleans()) for job in range(jobs)}
    ready: list[str] = []
    failed: list[str] = []
    for job in data.draw(st.permutations(range(jobs))):
        r, f = deps.settle(str(job), completed=outcome[job])
        ready += r
        failed += f
    assert len(ready) == len(set(ready))
    assert len(failed) == len(set(failed))
    assert not set(ready) & set(failed)
    for job, on in waits.items():
        if not on:
            continue
        if all(outcome[o] for o in on):
            assert str(job) in ready
        else:
            assert str(job) in failed
    assert len(deps) == 0
