"""Job outcomes: results kept and returned, unread jobs hold the window, evidence, dependencies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors.roles import (
    JOB_EVENTS,
    Acknowledgement,
    GetJob,
    GetStatistics,
    InvalidJob,
    JobContext,
    JobEvent,
    JobState,
    JobSupervisor,
    ListJobs,
    SupervisorConfig,
    WindowConfig,
    acknowledge,
    await_job,
    submit_job,
)
from actors.testing import Simulation, simulate
from tests.unit.actors.roles.swarm_helpers import Events, ListSink, job

ONE_AT_A_TIME = WindowConfig(initial=1, maximum=1, minimum=1)


async def answer(ctx: JobContext) -> Any:
    await asyncio.sleep(0.1)
    metadata = ctx.job.metadata
    if "size" in metadata:
        return "x" * int(metadata["size"])
    if metadata.get("hint"):
        return {"answer": metadata["hint"]}
    if metadata.get("fail"):
        raise RuntimeError("blocked by a defect elsewhere")
    return {"answer": 42} if not metadata.get("empty") else {}


def crunch(ctx: JobContext) -> int:
    return sum(range(10))


def test_a_jobs_result_is_kept_returned_to_its_waiter_shown_and_recorded() -> None:
    async def scenario(sim: Simulation) -> None:
        sink = ListSink()
        async with sim.system("results") as system:
            config = SupervisorConfig(max_result_bytes=256)
            handlers = {"*": answer, "crunch": crunch}
            sup = await system.spawn(JobSupervisor, handlers, config, kwargs={"ledger": sink})
            await submit_job(sup, job("a"))
            await submit_job(sup, job("sync", objective="crunch"))
            await submit_job(sup, job("big", metadata={"size": 10_000}))
            await submit_job(sup, job("two", tadpole_count=2))
            done = await await_job(sup, "a")
            assert done.state is JobState.COMPLETED
            assert done.result == {"answer": 42}
            assert (await await_job(sup, "sync")).result == 45
            big = await await_job(sup, "big")
            assert big.result["truncated"] is True
            assert big.result["bytes"] == 10_002
            assert len(big.result["preview"]) <= 256
            assert (await await_job(sup, "two")).result == [{"answer": 42}, {"answer": 42}]
            view = await sup.ask(GetJob("a"), timeout=1.0)
            assert view.result == {"answer": 42}
            listed = await sup.ask(ListJobs(unread=True), timeout=1.0)
            assert {v.job_id: v.result for v in listed}["sync"] == 45
            completed = [r for r in sink.of("roles.job") if r["to"] == "completed"]
            assert {r["job_id"]: r["result"] for r in completed}["a"] == {"answer": 42}

    simulate(scenario, seed=21)


def test_an_unread_terminal_job_holds_its_window_slot_until_acknowledged() -> None:
    async def scenario(sim: Simulation) -> None:
        async with sim.system("unread") as system:
            config = SupervisorConfig(window=ONE_AT_A_TIME, balancer=None)
            sup = await system.spawn(JobSupervisor, {"*": answer}, config)
            await submit_job(sup, job("first"))
            await submit_job(sup, job("second"))
            assert (await await_job(sup, "first")).unread
            await sim.sleep(5.0)
            # The first ended, but nobody read it: the window does not refill.
            assert (await sup.ask(GetJob("second"), timeout=1.0)).state is JobState.QUEUED
            await acknowledge(sup, "first")
            second = await await_job(sup, "second")
            assert second.state is JobState.COMPLETED
            assert second.started_at is not None
            assert second.started_at >= sim.now() - 1.0

    simulate(scenario, seed=22)


def test_completed_without_the_declared_evidence_is_needs_review_never_done() -> None:
    async def scenario(sim: Simulation) -> None:
        events: list[Any] = []
        async with sim.system("evidence") as system:
            listener = await system.spawn(Events, events)
            system.topics.subscribe(JOB_EVENTS, listener)
            sup = await system.spawn(
                JobSupervisor,
                {"*": answer},
                kwargs={"acceptance": {"has_answer": lambda r: bool(r.get("answer"))}},
            )
            with pytest.raises(InvalidJob, match=r"metadata\.acceptance"):
                await submit_job(sup, job("x", metadata={"acceptance": "no-such-check"}))
            await submit_job(sup, job("good", metadata={"acceptance": "has_answer"}))
            await submit_job(
                sup, job("hollow", metadata={"acceptance": "has_answer", "empty": True})
            )
            await submit_job(sup, job("manual", metadata={"acceptance": "external"}))
            assert (await await_job(sup, "good")).state is JobState.COMPLETED
            hollow = await await_job(sup, "hollow")
            assert hollow.state is JobState.NEEDS_REVIEW
            assert "did not hold" in hollow.evidence
            assert hollow.unread
            manual = await await_job(sup, "manual")
            assert manual.state is JobState.NEEDS_REVIEW
            stats = await sup.ask(GetStatistics(), timeout=1.0)
            assert (stats.completed, stats.needs_review) == (1, 2)
            done = {e.job_id for e in events if isinstance(e, JobEvent) and e.state == "completed"}
            assert done == {"good"}
            # An external acknowledgement is the evidence.
            await acknowledge(sup, "manual", Acknowledgement.ACCEPT)
            manual = await sup.ask(GetJob("manual"), timeout=1.0)
            assert (manual.state, manual.evidence) == (JobState.COMPLETED, "acknowledged")
            # A focused continuation: same identity, next attempt, amended input.
            await acknowledge(sup, "hollow", Acknowledgement.RETRY, amend={"hint": "found it"})
            again = await await_job(sup, "hollow")
            assert (again.job_id, again.attempt, again.state) == (
                "hollow",
                2,
                JobState.COMPLETED,
            )
            assert again.result == {"answer": "found it"}

    simulate(scenario, seed=23)


def test_a_job_waits_on_another_and_runs_when_it_completes() -> None:
    async def scenario(sim: Simulation) -> None:
        async with sim.system("deps") as system:
            config = SupervisorConfig(max_attempts=1)
            sup = await system.spawn(JobSupervisor, {"*": answer}, config)
            await submit_job(sup, job("fix", metadata={"seconds": 1}))
            await submit_job(sup, job("after-fix", metadata={"depends_on": ["fix"]}))
            with pytest.raises(InvalidJob, match=r"metadata\.depends_on"):
                await submit_job(sup, job("orphan", metadata={"depends_on": ["nope"]}))
            waiting = await sup.ask(GetJob("after-fix"), timeout=1.0)
            assert waiting.waiting_on == ("fix",)
            fix = await await_job(sup, "fix")
            after = await await_job(sup, "after-fix")
            assert after.state is JobState.COMPLETED
            assert after.started_at is not None
            assert fix.finished_at is not None
            assert after.started_at >= fix.finished_at
            await acknowledge(sup, "fix")
            await acknowledge(sup, "after-fix")
            # A job blocked by a defect elsewhere: retried once that job completes.
            await submit_job(sup, job("blocked", metadata={"fail": True}))
            assert (await await_job(sup, "blocked")).state is JobState.FAILED
            await submit_job(sup, job("repair"))
            await acknowledge(
                sup, "blocked", Acknowledgement.RETRY, after="repair", amend={"fail": False}
            )
            assert (await sup.ask(GetJob("blocked"), timeout=1.0)).waiting_on in (
                ("repair",),
                (),
            )
            retried = await await_job(sup, "blocked")
            repair = await sup.ask(GetJob("repair"), timeout=1.0)
            assert (retried.state, retried.attempt) == (JobState.COMPLETED, 2)
            assert retried.started_at is not None
            assert retried.started_at >= repair.finished_at

    simulate(scenario, seed=24)


def test_the_balancer_scores_a_job_with_its_reward_and_complexity() -> None:
    async def scenario(sim: Simulation) -> None:
        sink = ListSink()
        async with sim.system("classify") as system:
            config = SupervisorConfig(auto_acknowledge=True)
            sup = await system.spawn(JobSupervisor, {"*": answer}, config, kwargs={"ledger": sink})
            await submit_job(sup, job("plain"))
            await submit_job(sup, job("rewarded", reward_signal=1.0))
            await submit_job(sup, job("complex", metadata={"complexity": 1.0}))
            for job_id in ("plain", "rewarded", "complex"):
                await await_job(sup, job_id)
            scores = {r["task_id"]: r["score"] for r in sink.of("roles.dispatch")}
            assert abs(scores["rewarded"] - (scores["plain"] + 0.4 * 0.1)) < 1e-12
            assert abs(scores["complex"] - (scores["plain"] + 0.2 * 0.2)) < 1e-12

    simulate(scenario, seed=25)
