"""The job supervisor on virtual time: intake, lifecycle, retries, liveness, window, resources."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from structlog.testing import capture_logs

from actors import Backoff
from actors.roles import (
    JOB_EVENTS,
    RESOURCE_UPDATES,
    Acknowledgement,
    BeatEntry,
    CancelJob,
    Crash,
    GetJob,
    GetLiveness,
    GetStatistics,
    GetTadpoles,
    GetTadpoleStatus,
    Heartbeat,
    InvalidJob,
    JobContext,
    JobEvent,
    JobSpec,
    JobState,
    JobStateError,
    JobSupervisor,
    JobView,
    Liveness,
    PoolConfig,
    Rejected,
    ResourceRequest,
    Resources,
    ResourceUpdate,
    Reward,
    SubmitJob,
    SupervisorConfig,
    Tadpole,
    UnknownJob,
    WindowConfig,
    acknowledge,
    submit_job,
)
from actors.testing import Simulation, simulate
from tests.unit.actors.roles.swarm_helpers import Events, ListSink, finals, job

NO_JITTER = Backoff(initial=0.1, maximum=5.0, factor=2.0, jitter=0.0)


async def sleepy(ctx: JobContext) -> None:
    await asyncio.sleep(float(ctx.job.metadata.get("seconds", 0.2)))
    if ctx.attempt <= int(ctx.job.metadata.get("fail_attempts", 0)):
        raise RuntimeError(f"attempt {ctx.attempt} failed")


async def wait_for_final(sim: Simulation, sup: Any, job_id: str, limit: float = 60.0) -> JobView:
    deadline = sim.now() + limit
    while sim.now() < deadline:
        view = await sup.ask(GetJob(job_id), timeout=1.0)
        if view is not None and (view.unread or view.state is JobState.COMPLETED):
            return view  # type: ignore[no-any-return]
        await sim.sleep(0.05)
    raise AssertionError(f"{job_id} did not end within {limit}s")


def test_a_bad_job_is_rejected_by_field_and_nothing_else_is_lost() -> None:
    async def scenario(sim: Simulation) -> None:
        async with sim.system("intake") as system:
            sup = await system.spawn(JobSupervisor, {"*": sleepy}, name="sup")
            assert await submit_job(sup, job("a")) == "a"
            with pytest.raises(InvalidJob) as caught:
                await submit_job(sup, job("b", tadpole_count=0))
            assert caught.value.field == "tadpole_count"
            bad = JobSpec("c", "work", ResourceRequest(1, -5, 1), 1)
            reply = await sup.ask(SubmitJob(bad), timeout=1.0)
            assert isinstance(reply, Rejected)
            assert reply.field == "requested_resources.memory_mb"
            assert "-5" in reply.error
            with pytest.raises(InvalidJob) as duplicate:
                await submit_job(sup, job("a"))
            assert duplicate.value.field == "job_id"
            with pytest.raises(InvalidJob) as too_many:
                await submit_job(sup, job("d", tadpole_count=100))
            assert too_many.value.field == "tadpole_count"
            assert await submit_job(sup, job("e")) == "e"
            for job_id in ("a", "e"):
                assert (await wait_for_final(sim, sup, job_id)).state is JobState.COMPLETED
            assert await sup.ask(GetJob("c"), timeout=1.0) is None
            stats = await sup.ask(GetStatistics(), timeout=1.0)
            assert (stats.submitted, stats.rejected, stats.completed) == (2, 3, 2)
            assert system.statistics().restarts == 0

    simulate(scenario, seed=1)


def test_the_lifecycle_is_published_and_recorded() -> None:
    async def scenario(sim: Simulation) -> None:
        sink = ListSink()
        async with sim.system("life") as system:
            events: list[Any] = []
            listener = await system.spawn(Events, events)
            system.topics.subscribe(JOB_EVENTS, listener)
            system.topics.subscribe(RESOURCE_UPDATES, listener)
            sup = await system.spawn(JobSupervisor, {"*": sleepy}, kwargs={"ledger": sink})
            await submit_job(sup, job("one", metadata={"mode": "strict", "parent_artifact": "p"}))
            view = await wait_for_final(sim, sup, "one")
            assert view.state is JobState.COMPLETED
            assert view.channel is not None
            assert view.channel.value == "strict"
            job_events = [e for e in events if isinstance(e, JobEvent)]
            assert [(e.state, e.final) for e in job_events] == [
                ("queued", False),
                ("running", False),
                ("completed", True),
            ]
            assert len(job_events[1].tadpoles) == 1
            assert [e.action for e in events if isinstance(e, ResourceUpdate)] == [
                "allocate",
                "release",
            ]
            assert [(r["from"], r["to"]) for r in sink.of("roles.job")] == [
                (None, "queued"),
                ("queued", "running"),
                ("running", "completed"),
            ]
            (allocation,) = sink.of("roles.allocate")
            assert allocation["granted"] == [4, 512, 100]
            assert sink.of("roles.release")[0]["granted"] == [4, 512, 100]
            (dispatch,) = sink.of("roles.dispatch")
            assert dispatch["parent_artifact"] == "p"
            assert dispatch["lineage_digest"] == view.lineage_digest
            assert dispatch["queue_slot"] == 1

    simulate(scenario, seed=2)


def test_a_failed_attempt_is_retried_after_the_backoff_keeping_its_identity() -> None:
    async def scenario(sim: Simulation) -> None:
        async with sim.system("retry") as system:
            events: list[Any] = []
            listener = await system.spawn(Events, events)
            system.topics.subscribe(JOB_EVENTS, listener)
            config = SupervisorConfig(retry_backoff=NO_JITTER)
            sup = await system.spawn(JobSupervisor, {"*": sleepy}, config)
            await submit_job(sup, job("flaky", metadata={"fail_attempts": 2}))
            view = await wait_for_final(sim, sup, "flaky")
            assert (view.state, view.attempt) == (JobState.COMPLETED, 3)
            timeline = [(e.state, e.attempt, e.at) for e in events if e.job_id == "flaky"]
            states = [(state, attempt) for state, attempt, _ in timeline]
            assert states == [
                ("queued", 1),
                ("running", 1),
                ("failed", 1),
                ("queued", 2),
                ("running", 2),
                ("failed", 2),
                ("queued", 3),
                ("running", 3),
                ("completed", 3),
            ]
            at = [moment for _, _, moment in timeline]
            assert at[3] - at[2] == pytest.approx(0.1)  # backoff 1: initial
            assert at[6] - at[5] == pytest.approx(0.2)  # backoff 2: doubled
            assert [e.final for e in events if e.job_id == "flaky"].count(True) == 1

    simulate(scenario, seed=3)


async def first_attempt_of_bad_and_big_fails(ctx: JobContext) -> None:
    # Shard 0 ends first, on purpose: at one and the same virtual instant the
    # order would be the event loop's timer heap's (which moves whenever the
    # runtime arms one timer more or less); with shard 1 first, see
    # test_split_after_the_second_shard_fails_first below.
    await asyncio.sleep(0.2 if ctx.shard == 0 else 0.201)
    if ctx.job.job_id in ("bad", "big") and ctx.attempt == 1:
        raise RuntimeError("first attempt fails")


async def first_attempt_fails_second_shard_first(ctx: JobContext) -> None:
    await asyncio.sleep(0.201 if ctx.shard == 0 else 0.2)
    if ctx.job.job_id in ("bad", "big") and ctx.attempt == 1:
        raise RuntimeError("first attempt fails")


def test_split_after_the_second_shard_fails_first() -> None:
    terminal_jobs_scenario(first_attempt_fails_second_shard_first)


def test_terminal_jobs_stay_unread_until_acknowledged() -> None:
    terminal_jobs_scenario(first_attempt_of_bad_and_big_fails)


def terminal_jobs_scenario(handler: Any) -> None:
    async def scenario(sim: Simulation) -> None:
        async with sim.system("ack") as system:
            config = SupervisorConfig(max_attempts=1)
            handlers = {"*": handler}
            sup = await system.spawn(JobSupervisor, handlers, config)
            await submit_job(sup, job("ok"))
            await submit_job(sup, job("bad"))
            await submit_job(sup, job("big", tadpole_count=2))
            with pytest.raises(JobStateError):
                await acknowledge(sup, "ok")  # still running
            with pytest.raises(UnknownJob):
                await acknowledge(sup, "nope")
            for job_id in ("ok", "bad", "big"):
                await wait_for_final(sim, sup, job_id)
            assert (await sup.ask(GetStatistics(), timeout=1.0)).unread == 3
            await acknowledge(sup, "ok", Acknowledgement.ACCEPT)
            assert not (await sup.ask(GetJob("ok"), timeout=1.0)).unread
            with pytest.raises(JobStateError):
                await acknowledge(sup, "ok")  # read already
            await acknowledge(sup, "bad", Acknowledgement.RETRY)
            retried = await sup.ask(GetJob("bad"), timeout=1.0)
            assert retried.state in (JobState.QUEUED, JobState.RUNNING)  # started at once
            assert (retried.attempt, retried.unread) == (2, False)
            final = await wait_for_final(sim, sup, "bad")
            assert (final.state, final.attempt) == (JobState.COMPLETED, 2)
            await acknowledge(sup, "bad")  # frees its window slot for the parts
            split = await acknowledge(sup, "big", Acknowledgement.SPLIT, parts=2)
            assert split.new_jobs == ("big.part1", "big.part2")
            for part in split.new_jobs:
                assert (await wait_for_final(sim, sup, part)).state is JobState.COMPLETED
                await acknowledge(sup, part)

    simulate(scenario, seed=4)


def test_a_retry_clears_the_cancel_flag() -> None:
    async def scenario(sim: Simulation) -> None:
        async with sim.system("cancel") as system:
            sup = await system.spawn(JobSupervisor, {"*": sleepy})
            await submit_job(sup, job("long", metadata={"seconds": 10}))
            await sim.sleep(1.0)
            cancelled = await sup.ask(CancelJob("long"), timeout=1.0)
            assert cancelled.cancel_requested
            view = await wait_for_final(sim, sup, "long")
            assert (view.state, view.reason, view.cancel_requested) == (
                JobState.FAILED,
                "cancelled",
                True,
            )
            await acknowledge(sup, "long", Acknowledgement.RETRY)
            again = await sup.ask(GetJob("long"), timeout=1.0)
            assert (again.attempt, again.cancel_requested) == (2, False)
            assert (await wait_for_final(sim, sup, "long")).state is JobState.COMPLETED

    simulate(scenario, seed=5)


class _Concurrency:
    def __init__(self) -> None:
        self.active: dict[str, int] = {}
        self.overlaps = 0
        self.peak = 0
        self.now_running = 0

    async def handler(self, ctx: JobContext) -> None:
        job_id = ctx.job.job_id
        if self.active.get(job_id):
            self.overlaps += 1
        self.active[job_id] = self.active.get(job_id, 0) + 1
        self.now_running += 1
        self.peak = max(self.peak, self.now_running)
        try:
            await asyncio.sleep(float(ctx.job.metadata.get("seconds", 0.5)))
        finally:
            self.active[job_id] -= 1
            self.now_running -= 1


def test_a_crashed_tadpoles_job_is_reclaimed_and_retried_never_twice_at_once() -> None:
    async def scenario(sim: Simulation) -> None:
        watch = _Concurrency()
        async with sim.system("crash") as system:
            sup = await system.spawn(JobSupervisor, {"*": watch.handler})
            await submit_job(sup, job("victim", metadata={"seconds": 3}))
            await sim.sleep(1.0)
            (view,) = [await sup.ask(GetJob("victim"), timeout=1.0)]
            assert view.state is JobState.RUNNING
            (tadpole_id,) = view.tadpoles
            pods = {t.tadpole_id: t for t in await sup.ask(GetTadpoles(), timeout=1.0)}
            system.lookup(pods[tadpole_id].path).tell(Crash("chaos"))
            final = await wait_for_final(sim, sup, "victim")
            assert (final.state, final.attempt) == (JobState.COMPLETED, 2)
            assert watch.overlaps == 0
            stats = await sup.ask(GetStatistics(), timeout=1.0)
            assert stats.reclaimed == 1
            pods = {t.tadpole_id: t for t in await sup.ask(GetTadpoles(), timeout=1.0)}
            assert pods[tadpole_id].incarnation == 1  # restarted in place, same id
            assert system.statistics().restarts == 1

    simulate(scenario, seed=6)


class SilentTadpole(Tadpole):
    """A tadpole whose heartbeats never arrive."""

    def _heartbeat(self) -> None:
        pass


def test_a_silent_tadpole_goes_at_risk_then_dead_and_its_job_is_reclaimed() -> None:
    async def scenario(sim: Simulation) -> None:
        async with sim.system("silent") as system:
            config = SupervisorConfig(tadpoles=1, retry_backoff=NO_JITTER)
            sup = await system.spawn(
                JobSupervisor,
                {"*": sleepy},
                config,
                kwargs={"tadpole_factory": SilentTadpole},
            )
            with capture_logs() as logs:
                await submit_job(sup, job("hung", metadata={"seconds": 30, "fail_attempts": 0}))
                await sim.sleep(2.5)
                (report,) = await sup.ask(GetLiveness("hung"), timeout=1.0)
                assert report.report.state is Liveness.AT_RISK
                assert report.report.action == "hold_new_work"
                pods = await sup.ask(GetTadpoles(), timeout=1.0)
                assert [p.at_risk for p in pods] == [True]
                # No new work for the at-risk tadpole: a second job gets a new one.
                await submit_job(sup, job("next", metadata={"seconds": 0.5}))
                await sim.sleep(0.2)
                nxt = await sup.ask(GetJob("next"), timeout=1.0)
                assert nxt.state is JobState.RUNNING
                assert nxt.tadpoles[0] != pods[0].tadpole_id
                await sim.sleep(4.0)
            events = [entry["event"] for entry in logs]
            assert "tadpole_at_risk" in events
            assert "tadpole_lost" in events
            hung = await sup.ask(GetJob("hung"), timeout=1.0)
            assert hung.attempt == 2
            assert pods[0].tadpole_id not in {
                t.tadpole_id for t in await sup.ask(GetTadpoles(), timeout=1.0)
            }
            assert (await sup.ask(GetStatistics(), timeout=1.0)).reclaimed >= 1

    simulate(scenario, seed=7)


def test_an_overrunning_job_is_live_not_split_brain_and_completes() -> None:
    async def scenario(sim: Simulation) -> None:
        async with sim.system("overrun") as system:
            sup = await system.spawn(JobSupervisor, {"*": sleepy})
            with capture_logs() as logs:
                await submit_job(
                    sup, job("slow", expected_duration_seconds=1.0, metadata={"seconds": 6})
                )
                await sim.sleep(3.0)
                (report,) = await sup.ask(GetLiveness("slow"), timeout=1.0)
                assert report.report.state is Liveness.LIVE
                assert report.report.overrunning
                view = await wait_for_final(sim, sup, "slow")
            assert (view.state, view.attempt) == (JobState.COMPLETED, 1)
            assert not [entry for entry in logs if entry["event"] == "job_split_brain"]

    simulate(scenario, seed=8)


class _Forgetful(Tadpole):
    """Beats on time, but its beats leave out the jobs marked ``hidden``: its own
    state disagrees with its supervisor's view."""

    def _heartbeat(self) -> None:
        if not self._runs:
            return
        self._tell(
            Heartbeat(
                tadpole_id=self.tadpole_id,
                at=self._clock.now(),
                jobs=tuple(
                    BeatEntry(job_id=k[0], attempt=k[1], shard=k[2], progress=0.0)
                    for k, run in self._runs.items()
                    if not run.context.job.metadata.get("hidden")
                ),
            )
        )


def test_a_split_brain_live_job_is_kept_and_completes() -> None:
    async def scenario(sim: Simulation) -> None:
        async with sim.system("split") as system:
            config = SupervisorConfig(tadpoles=1)
            sup = await system.spawn(
                JobSupervisor, {"*": sleepy}, config, kwargs={"tadpole_factory": _Forgetful}
            )
            with capture_logs() as logs:
                await submit_job(sup, job("seen", metadata={"seconds": 8}))
                await submit_job(sup, job("hidden", metadata={"seconds": 8, "hidden": True}))
                await sim.sleep(7.0)  # past dead_after (5 s): still not killed
                (report,) = await sup.ask(GetLiveness("hidden"), timeout=1.0)
                assert report.report.state is Liveness.SPLIT_BRAIN_LIVE
                assert report.report.action == "keep_supervising"
                assert "do not report it" in report.report.reason
                (seen,) = await sup.ask(GetLiveness("seen"), timeout=1.0)
                assert seen.report.state is Liveness.LIVE
                view = await wait_for_final(sim, sup, "hidden")
            assert (view.state, view.attempt) == (JobState.COMPLETED, 1)
            split = [entry for entry in logs if entry["event"] == "job_split_brain"]
            assert len(split) == 1
            assert (await sup.ask(GetStatistics(), timeout=1.0)).reclaimed == 0

    simulate(scenario, seed=8)


def test_the_window_grows_to_ten_while_healthy_and_bounds_concurrency() -> None:
    async def scenario(sim: Simulation) -> None:
        watch = _Concurrency()
        async with sim.system("window") as system:
            config = SupervisorConfig(tadpoles=4, balancer=None, auto_acknowledge=True)
            sup = await system.spawn(JobSupervisor, {"*": watch.handler}, config)
            for i in range(120):
                await submit_job(sup, job(f"j{i}", metadata={"seconds": 0.2}))
            for i in range(120):
                await wait_for_final(sim, sup, f"j{i}")
            stats = await sup.ask(GetStatistics(), timeout=1.0)
            assert stats.window == 10
            assert watch.peak == 10
            assert stats.completed == 120

    simulate(scenario, seed=9)


def test_the_window_halves_when_jobs_fail() -> None:
    async def scenario(sim: Simulation) -> None:
        async with sim.system("halve") as system:
            config = SupervisorConfig(max_attempts=1, balancer=None)
            sup = await system.spawn(JobSupervisor, {"*": sleepy}, config)
            for i in range(4):
                await submit_job(sup, job(f"bad{i}", metadata={"fail_attempts": 1}))
            for i in range(4):
                await wait_for_final(sim, sup, f"bad{i}")
            # 5 -> 2 on the first failure; the next 2 outcomes may not halve it
            # again; the one after them does: 2 -> 1.
            assert (await sup.ask(GetStatistics(), timeout=1.0)).window == 1

    simulate(scenario, seed=10)


def test_a_burst_is_admitted_at_the_bounded_rate_and_nothing_is_dropped() -> None:
    async def scenario(sim: Simulation) -> None:
        async with sim.system("burst") as system:
            events: list[Any] = []
            listener = await system.spawn(Events, events)
            system.topics.subscribe(JOB_EVENTS, listener)
            window = WindowConfig(admission_rate=100.0, admission_burst=10)
            config = SupervisorConfig(window=window, auto_acknowledge=True)
            sup = await system.spawn(JobSupervisor, {"*": sleepy}, config)
            start = sim.now()
            for i in range(200):
                sup.tell(SubmitJob(JobSpec(f"b{i}", "work", ResourceRequest(2, 256, 100), 1)))
            await sim.sleep(0.0)
            for i in range(200):
                await wait_for_final(sim, sup, f"b{i}", limit=120.0)
            stats = await sup.ask(GetStatistics(), timeout=1.0)
            assert stats.completed == 200
            assert finals(events) == {f"b{i}": 1 for i in range(200)}
            first_run = {}
            for event in events:
                if event.state == "running":
                    first_run.setdefault(event.job_id, event.at)
            # 10 at once, then 100 per second: job 110 cannot start before 1 s.
            assert first_run["b110"] - start >= 1.0 - 1e-9

    simulate(scenario, seed=11)


def test_saturation_spawns_tadpoles_and_rebalances_threads() -> None:
    async def scenario(sim: Simulation) -> None:
        sink = ListSink()
        async with sim.system("saturate") as system:
            events: list[Any] = []
            listener = await system.spawn(Events, events)
            system.topics.subscribe(RESOURCE_UPDATES, listener)
            pools = PoolConfig(totals=Resources(20, 65_536, 10_000))
            config = SupervisorConfig(pools=pools)
            sup = await system.spawn(JobSupervisor, {"*": sleepy}, config, kwargs={"ledger": sink})
            before = await sup.ask(GetStatistics(), timeout=1.0)
            with capture_logs() as logs:
                await submit_job(
                    sup,
                    job(
                        "hog",
                        requested_resources={
                            "compute_units": 18,
                            "memory_mb": 256,
                            "bandwidth_mbps": 100,
                        },
                    ),
                )
                await wait_for_final(sim, sup, "hog")
            (mitigated,) = [e for e in logs if e["event"] == "saturation_mitigated"]
            assert mitigated["tadpoles_spawned"] == 2
            after = await sup.ask(GetStatistics(), timeout=1.0)
            assert after.tadpoles == before.tadpoles + 2
            assert mitigated["threads"] == 6 * after.tadpoles  # raised by 2 each while saturated
            assert after.mitigations == 1
            assert not after.saturated  # cleared once released
            # Cleared: the thread budgets come back down to the configured 4.
            assert {t.thread_budget for t in await sup.ask(GetTadpoles(), timeout=1.0)} == {4}
            assert after.threads == 4 * after.tadpoles
            assert [r["spawned"] for r in sink.of("roles.mitigate")] == [2, 0]
            assert sink.of("roles.mitigate")[1]["cleared"] is True
            statuses = [
                await system.lookup(t.path).ask(GetTadpoleStatus(), timeout=1.0)
                for t in await sup.ask(GetTadpoles(), timeout=1.0)
            ]
            assert {s.thread_budget for s in statuses} == {4}
            actions = [e.action for e in events if isinstance(e, ResourceUpdate)]
            assert actions == ["allocate", "mitigated", "release", "cleared"]

    simulate(scenario, seed=12)


def test_rewards_adjust_allocation_weights_within_bounds() -> None:
    async def scenario(sim: Simulation) -> None:
        sink = ListSink()
        async with sim.system("reward") as system:
            sup = await system.spawn(JobSupervisor, {"*": sleepy}, kwargs={"ledger": sink})
            await submit_job(sup, job("good", reward_signal=1.0, objective="search"))
            await wait_for_final(sim, sup, "good")
            await submit_job(sup, job("next", objective="search"))
            await wait_for_final(sim, sup, "next")
            weights = [record["weight"] for record in sink.of("roles.allocate")]
            assert weights == [1.0, pytest.approx(1.1)]
            assert sink.of("roles.allocate")[1]["granted"] == [6, 768, 200]
            for _ in range(10):
                weight = await sup.ask(Reward("search", -1.0), timeout=1.0)
            assert weight == 0.5

    simulate(scenario, seed=13)


def test_a_job_runs_its_shards_on_distinct_tadpoles_and_prefers_its_worker() -> None:
    async def scenario(sim: Simulation) -> None:
        async with sim.system("shards") as system:
            sup = await system.spawn(JobSupervisor, {"*": sleepy})
            await submit_job(sup, job("wide", tadpole_count=3, metadata={"seconds": 1}))
            await sim.sleep(0.5)
            view = await sup.ask(GetJob("wide"), timeout=1.0)
            assert len(set(view.tadpoles)) == 3
            pods = await sup.ask(GetTadpoles(), timeout=1.0)
            last = pods[-1].tadpole_id
            await submit_job(sup, job("pinned", worker_id=last, metadata={"seconds": 1}))
            await sim.sleep(0.5)
            assert (await sup.ask(GetJob("pinned"), timeout=1.0)).tadpoles == (last,)
            await wait_for_final(sim, sup, "wide")

    simulate(scenario, seed=14)
