"""`make demo`: the swarm. Jobs in a burst, balanced, run by tadpoles, supervised to an end.

Three hundred jobs of mixed modes (strict, balanced, creative) arrive at once.
The job supervisor checks each against the intake contract, admits them at a
bounded rate, and its balancer scores them and dispatches them to channels
under the mode quotas. Tadpoles run them (async handlers on the loop, a
CPU-bound one in threads) inside a concurrency window that grows while things
go well. Some jobs fail and are retried with backoff; a few never succeed.
Midway, one tadpole is killed while it runs a job: its supervisor restarts it
and the job is reclaimed and retried. Every handler returns a result, kept
with its job. A reader acknowledges finished jobs (a finished job holds its
window slot until it is read); some jobs declare what counts as done, and one
that returns without that evidence waits in ``needs_review`` until the reader
retries it with an amended input. The failures and one review are left unread
for a person. At the end: results, the unread jobs, a summary per channel,
per state, latency percentiles, and a verification of the run's ledger.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import structlog

import actors
from actors import ActorSystem, Backoff
from actors.ledger import open_ledger
from actors.roles import (
    Acknowledgement,
    Crash,
    GetStatistics,
    GetTadpoles,
    InvalidJob,
    JobContext,
    JobState,
    JobSupervisor,
    ListJobs,
    LivenessConfig,
    SupervisorConfig,
    WindowConfig,
    acknowledge,
    await_job,
    job_table_reducers,
    submit_job,
)

JOBS = 300
MODES = ("strict", "balanced", "balanced", "creative", "creative")


async def think(ctx: JobContext) -> dict[str, Any]:
    """An async job: waits on 'I/O', reports progress, sometimes fails; returns a summary."""
    metadata = ctx.job.metadata
    steps = 4
    for step in range(steps):
        await asyncio.sleep(float(metadata["seconds"]) / steps)
        ctx.progress((step + 1) / steps)
    if metadata.get("poison"):
        raise RuntimeError("poisoned input")
    if metadata.get("flaky") and ctx.attempt == 1:
        raise TimeoutError("upstream timed out")
    if metadata.get("hollow"):
        return {}  # returns, but without the evidence the job declared
    return {"summary": f"{ctx.job.objective} of {ctx.job.job_id}", "shard": ctx.shard}


def crunch(ctx: JobContext) -> str | None:
    """A CPU-bound job, run in one of its tadpole's threads; returns a digest."""
    digest = ctx.job.job_id.encode()
    for _ in range(2_000):
        if ctx.cancelled:
            return None
        digest = hashlib.sha256(digest).digest()
    ctx.progress(1.0)
    return digest.hex()[:16]


def has_summary(result: Any) -> bool:
    """The acceptance evidence some jobs declare: a non-empty summary."""
    return isinstance(result, dict) and bool(result.get("summary"))


REVIEWED = "job-007"
"""Returns without evidence; the reader retries it with an amended input."""
LEFT_FOR_REVIEW = "job-012"
"""Returns without evidence; left unread for a person."""


def why(view: Any) -> str:
    return str(view.evidence or view.reason).split(": ", 1)[-1][:60]


async def reader(sup: Any, stop: asyncio.Event) -> None:
    """Acknowledges finished jobs as they come; leaves failures and one review unread."""
    while not stop.is_set():
        for view in await sup.ask(ListJobs(unread=True), timeout=5.0):
            if view.state is JobState.NEEDS_REVIEW and view.job_id == REVIEWED:
                await acknowledge(sup, view.job_id, Acknowledgement.RETRY, amend={"hollow": False})
            elif view.state is JobState.COMPLETED:
                await acknowledge(sup, view.job_id)
        await asyncio.sleep(0.02)


def configure_logging() -> None:
    # The library never configures structlog; an application does. Warnings
    # and up: restarts, reclaims, saturation; per-job events are debug.
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        cache_logger_on_first_use=True,
    )


def job(i: int, rng: Any) -> dict[str, Any]:
    mode = MODES[i % len(MODES)]
    cpu = i % 10 == 3
    return {
        "job_id": f"job-{i:03d}",
        "objective": "crunch" if cpu else "think",
        "requested_resources": {
            "compute_units": rng.choice([2, 4, 8]),
            "memory_mb": rng.choice([256, 512, 1024]),
            "bandwidth_mbps": 100,
        },
        "tadpole_count": 2 if i % 25 == 0 else 1,
        "expected_duration_seconds": 1.0,
        "reward_signal": round(rng.uniform(-0.2, 0.6), 2),
        "metadata": {
            **({"acceptance": "has_summary"} if i % 5 == 2 else {}),
            "mode": mode,
            "seconds": rng.uniform(0.02, 0.12),
            "urgency": rng.random(),
            "novelty_gap": rng.random(),
            "dependency_depth": rng.random() * 0.5,
            "flaky": rng.random() < 0.04,
            "poison": i in (41, 167),
            "hollow": f"job-{i:03d}" in (REVIEWED, LEFT_FOR_REVIEW),
            "parent_artifact": f"job-{i - 5:03d}" if i >= 5 and mode == "creative" else "corpus",
        },
    }


def table(title: str, rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    print(f"\n{title}")
    for n, row in enumerate(rows):
        print(
            "  "
            + "  ".join(
                cell.rjust(w) if c else cell.ljust(w)
                for c, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


async def main() -> None:
    import random

    configure_logging()
    rng = random.Random(2026)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "swarm.ledger"
        async with (
            open_ledger(path) as ledger,
            ActorSystem("swarm", seed=7, ledger=ledger) as system,
        ):
            config = SupervisorConfig(
                # Unread jobs hold their window slots; the three left for a person
                # must not take all of them, so the window never shrinks below 4.
                window=WindowConfig(minimum=4),
                tadpoles=6,
                liveness=LivenessConfig(heartbeat_interval=0.1, at_risk_after=0.5, dead_after=2.0),
                retry_backoff=Backoff(initial=0.05, maximum=0.5, jitter=0.2),
            )
            sup = await system.spawn(
                JobSupervisor,
                {"think": think, "crunch": crunch},
                config,
                kwargs={"acceptance": {"has_summary": has_summary}},
                name="supervisor",
            )
            stop = asyncio.Event()
            reading = asyncio.create_task(reader(sup, stop))
            # One bad job: the contract names the field; nothing else is affected.
            try:
                bad = job(999, rng)
                bad["requested_resources"]["memory_mb"] = -1
                await submit_job(sup, bad)
            except InvalidJob as exc:
                print(f"rejected at intake: {exc}")
            for i in range(JOBS):
                await submit_job(sup, job(i, rng))
            print(f"submitted {JOBS} jobs in a burst")

            # Kill a tadpole while it runs a job.
            killed = None
            while killed is None:
                await asyncio.sleep(0.05)
                for pod in await sup.ask(GetTadpoles(), timeout=5.0):
                    if pod.running:
                        killed = (pod.tadpole_id[:8], pod.running[0])
                        system.lookup(pod.path).tell(Crash("killed by the demo"))
                        break
            print(f"killed tadpole {killed[0]} while it ran {killed[1]}")

            for i in range(JOBS):
                view = await await_job(sup, f"job-{i:03d}", timeout=60.0)
                while view.job_id == REVIEWED and view.state is JobState.NEEDS_REVIEW:
                    await asyncio.sleep(0.02)  # the reader retries it
                    view = await await_job(sup, view.job_id, timeout=60.0)
            stop.set()
            await reading
            stats = await sup.ask(GetStatistics(), timeout=5.0)
            views = await sup.ask(ListJobs(), timeout=5.0)
            victim = next(v for v in views if v.job_id == killed[1])
            print(f"{victim.job_id}: {victim.state.value} on attempt {victim.attempt} (reclaimed)")
            await ledger.flush()
            report = await ledger.verify()
            replayed = (await ledger.replay(job_table_reducers())).state
        elapsed = time.perf_counter() - started

    by_id = {v.job_id: v for v in views}
    table(
        "results (kept with each job)",
        [("job", "state", "attempt", "result")]
        + [
            (v.job_id, v.state.value, str(v.attempt), repr(v.result)[:48])
            for v in (by_id[f"job-{i:03d}"] for i in (0, 3, 7, 25))
        ],
    )
    unread = [v for v in views if v.unread]
    table(
        f"unread, awaiting a reader ({len(unread)})",
        [("job", "state", "why")]
        + [
            (v.job_id, v.state.value, (v.evidence or v.reason).split(": ", 1)[-1][:60])
            for v in unread
        ],
    )
    states = Counter(v.state.value for v in views)
    channels: dict[str, Counter[str]] = {}
    for view in views:
        channel = view.channel.value if view.channel else "none"
        channels.setdefault(channel, Counter())[view.state.value] += 1
    attempts = Counter(v.attempt for v in views)
    table(
        "per channel",
        [("channel", "jobs", "completed", "failed")]
        + [
            (name, str(sum(c.values())), str(c["completed"]), str(c["failed"]))
            for name, c in sorted(channels.items())
        ],
    )
    table(
        "per state",
        [("state", "jobs")] + [(state, str(n)) for state, n in sorted(states.items())],
    )
    table(
        "attempts",
        [("attempts", "jobs")] + [(str(a), str(n)) for a, n in sorted(attempts.items())],
    )
    table(
        "latency, submit to completion (s)",
        [
            ("p50", "p90", "p99"),
            (f"{stats.latency_p50:.3f}", f"{stats.latency_p90:.3f}", f"{stats.latency_p99:.3f}"),
        ],
    )
    print(
        f"\nretries {stats.retries}, reclaimed {stats.reclaimed}, window {stats.window}, "
        f"tadpoles {stats.tadpoles}, mitigations {stats.mitigations}"
    )
    replay_states = Counter(row["state"] for row in replayed["jobs"].values())
    print(
        f"ledger verify: {'ok' if report.ok else 'FAILED'}, {report.records} records; "
        f"replayed job table matches: {dict(replay_states) == dict(states)}"
    )
    print(f"done in {elapsed:.1f}s")


if __name__ == "__main__":
    actors.run(main)
