"""Tadpoles on real time: threads, budgets, heartbeats from outside the job's thread."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import anyio
import pytest

from actors import ActorSystem
from actors.roles import (
    GetTadpoleStatus,
    Heartbeat,
    JobContext,
    JobReport,
    JobSpec,
    ResourceRequest,
    RunJob,
    Tadpole,
    ThreadPool,
    new_tadpole_id,
)
from actors.testing import Probe
from tests.helpers import WAIT

pytestmark = pytest.mark.anyio


def run(job_id: str, objective: str = "work", **kwargs: Any) -> RunJob:
    return RunJob(
        job=JobSpec(job_id, objective, ResourceRequest(2, 256, 100), 1), attempt=1, **kwargs
    )


async def start(system: ActorSystem, handlers: dict[str, Any], **kwargs: Any) -> tuple[Any, Probe]:
    probe = await Probe.start(system)
    tadpole = await system.spawn(
        Tadpole, new_tadpole_id(system.random), handlers, kwargs={"report_to": probe.ref, **kwargs}
    )
    return tadpole, probe


async def next_report(probe: Probe) -> JobReport:
    while True:
        message = await probe.next(timeout=WAIT)
        if isinstance(message, JobReport):
            return message


def test_a_tadpole_id_is_a_uuid4_from_the_seeded_stream() -> None:
    import random

    first = new_tadpole_id(random.Random(1))
    assert uuid.UUID(first).version == 4
    assert first == new_tadpole_id(random.Random(1))


async def test_a_cpu_bound_sync_job_cannot_silence_the_heartbeat() -> None:
    release = threading.Event()

    def busy(ctx: JobContext) -> None:
        deadline = time.monotonic() + WAIT
        while not release.is_set() and time.monotonic() < deadline:
            sum(range(1000))  # CPU-bound, in the job's thread
        ctx.progress(1.0)

    async with ActorSystem("beats") as system:
        tadpole, probe = await start(system, {"work": busy}, heartbeat_interval=0.01)
        tadpole.tell(run("cpu"))
        beats = []
        while len(beats) < 3:
            message = await probe.next(timeout=WAIT)
            assert isinstance(message, Heartbeat), message
            beats.append(message)
        assert {entry.job_id for beat in beats for entry in beat.jobs} == {"cpu"}
        release.set()
        report = await next_report(probe)
        assert (report.job_id, report.ok) == ("cpu", True)


async def test_sync_jobs_run_in_threads_within_the_budget() -> None:
    lock = threading.Lock()
    running = [0, 0]  # now, peak
    gate = threading.Event()

    def work(ctx: JobContext) -> None:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        gate.wait(0.05)
        with lock:
            running[0] -= 1

    async with ActorSystem("budget") as system:
        tadpole, probe = await start(system, {"work": work}, thread_budget=2, pool=ThreadPool(8))
        for i in range(6):
            tadpole.tell(run(f"j{i}"))
        reports = [await next_report(probe) for _ in range(6)]
        assert all(report.ok for report in reports)
        assert running[1] == 2


async def test_failures_are_reported_with_a_reason() -> None:
    async def broken(ctx: JobContext) -> None:
        raise ValueError("bad input")

    async with ActorSystem("fail") as system:
        tadpole, probe = await start(system, {"work": broken})
        tadpole.tell(run("x"))
        report = await next_report(probe)
        assert (report.ok, report.reason) == (False, "ValueError: bad input")
        tadpole.tell(run("y", objective="unknown"))
        report = await next_report(probe)
        assert report.reason == "HandlerNotFound: no handler for objective 'unknown'"
        tadpole.tell(run("z", incarnation=3))
        report = await next_report(probe)
        assert (report.job_id, report.reason) == ("z", "stale incarnation")
        status = await tadpole.ask(GetTadpoleStatus(), timeout=WAIT)
        assert (status.specialization, status.thread_budget, status.failed) == (
            "generalist",
            4,
            2,  # the stale request never ran
        )


async def test_stopping_a_tadpole_waits_for_its_thread_and_reports_the_run_lost() -> None:
    entered = threading.Event()
    finished = threading.Event()

    def cooperative(ctx: JobContext) -> None:
        entered.set()
        deadline = time.monotonic() + WAIT
        while not ctx.cancelled and time.monotonic() < deadline:
            time.sleep(0.001)
        finished.set()

    async with ActorSystem("stop") as system:
        tadpole, probe = await start(system, {"work": cooperative}, heartbeat_interval=0.01)
        tadpole.tell(run("long"))
        await probe.expect(Heartbeat, timeout=WAIT)
        # Heartbeats start with the run, not with its thread: under load the
        # thread may not have begun yet (a run cancelled before that never runs).
        assert await anyio.to_thread.run_sync(entered.wait, WAIT)
        await system.stop(tadpole)
        assert finished.is_set()  # the thread ended before the stop completed
        report = await next_report(probe)
        assert (report.ok, report.reason, report.lost) == (False, "tadpole stopped", True)
