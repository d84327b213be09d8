"""Jobs through balancer + supervisor + tadpoles, with no-op handlers.

Three runs, each printed (JSON lines):

1. **default** (the library's defaults, a load within capacity): jobs are
   submitted at half the admission gate's rate (500 jobs/s of 1,000), so
   the swarm keeps up. ``dispatched_within_two_cycles`` is the share of jobs
   dispatched within two balancer cycles *of their submission* to the
   supervisor (target >= 90%), with the realised quota shares.
2. **overload** (defaults, a burst far above capacity): every job at once.
   A two-cycle share means nothing here (the admission gate alone spreads the
   burst over seconds); ``queueing_delay`` is reported instead: seconds from
   submission to dispatch (p50, p90) and delay in cycles, with the shares.
3. **throughput**: the admission gate opened (100,000 jobs/s, bursts of
   1,000) and a 5 ms cycle, so the gate does not cap the figure:
   ``jobs_per_second`` end to end (burst to last completion) against awaiting
   the same no-op handler in a loop, and ``overhead_per_job``.

Every run uses ``auto_acknowledge`` (no reader: finished jobs free their
window slot at once). The job mix fits the quotas (20% strict, 50% balanced,
30% creative); the realised shares are the balancer's over all dispatches and
the extreme shares over its closed 100-dispatch windows.

Run: ``python benchmarks/bench_dispatch.py [--jobs N] [--paced N] [--repeats N]
[--loop asyncio|uvloop]``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from _common import emit, interleaved_medians, quiet_logging
from actors import Actor, ActorSystem
from actors.roles import (
    JOB_EVENTS,
    BalancerConfig,
    GetStatistics,
    GetSummary,
    JobContext,
    JobEvent,
    JobSpec,
    ResourceRequest,
    RunJob,
    SubmitJob,
    SupervisorConfig,
    WindowConfig,
)
from actors.roles import JobSupervisor as Supervisor

MODES = ["strict"] * 2 + ["balanced"] * 5 + ["creative"] * 3


async def noop(ctx: JobContext) -> None:
    return None


def specs(jobs: int) -> list[JobSpec]:
    return [
        JobSpec(
            job_id=f"j{i}",
            objective="noop",
            requested_resources=ResourceRequest(2, 256, 100),
            tadpole_count=1,
            metadata={"mode": MODES[i % len(MODES)], "urgency": (i % 97) / 97},
        )
        for i in range(jobs)
    ]


DEFAULTS = SupervisorConfig(auto_acknowledge=True)
THROUGHPUT = SupervisorConfig(
    window=WindowConfig(admission_rate=100_000.0, admission_burst=1_000),
    balancer=BalancerConfig(cycle_interval=0.005),
    auto_acknowledge=True,
)


class Finish(Actor[Any]):
    """Counts final job events; sets ``done`` when every job has ended."""

    def __init__(self, expected: int, done: asyncio.Event) -> None:
        self.left = expected
        self.done = done

    async def receive(self, message: Any) -> Any:
        if isinstance(message, JobEvent) and message.final:
            self.left -= 1
            if not self.left:
                self.done.set()


async def through_the_swarm(
    jobs: list[JobSpec],
    out: dict[str, float],
    config: SupervisorConfig = THROUGHPUT,
    rate: float | None = None,
) -> float:
    """Submit ``jobs`` (all at once, or paced at ``rate`` per second) and wait for them."""
    async with ActorSystem("bench") as system:
        done = asyncio.Event()
        finish = await system.spawn(Finish, len(jobs), done)
        system.topics.subscribe(JOB_EVENTS, finish)
        sup = await system.spawn(Supervisor, {"noop": noop}, config, name="sup")
        started = time.perf_counter()
        if rate is None:
            for spec in jobs:
                sup.tell(SubmitJob(spec))
        else:
            step = 10  # ten jobs per tick of 10 / rate seconds
            for i in range(0, len(jobs), step):
                for spec in jobs[i : i + step]:
                    sup.tell(SubmitJob(spec))
                await asyncio.sleep(max(0.0, started + (i + step) / rate - time.perf_counter()))
        await asyncio.wait_for(done.wait(), timeout=300.0)
        elapsed = time.perf_counter() - started
        stats = await sup.ask(GetStatistics(), timeout=30.0)
        summary = await system.lookup("/user/sup/balancer").ask(GetSummary(), timeout=30.0)
        out.update(summary.kpis)
        out["failed"] = float(stats.failed)
        return elapsed


async def direct(jobs: list[JobSpec]) -> float:
    contexts = [JobContext(RunJob(job=spec, attempt=1), "direct") for spec in jobs]
    started = time.perf_counter()
    for context in contexts:
        await noop(context)
    return time.perf_counter() - started


def run_on(loop: str, coro_fn: Any) -> Any:
    if loop == "uvloop":
        import uvloop

        return uvloop.run(coro_fn())
    return asyncio.run(coro_fn())


SHARES = (
    "strict_share",
    "balanced_share",
    "creative_share",
    "strict_share_max_window",
    "creative_share_min_window",
    "quota_breaches",
    "strict_holds",
    "deferrals",
)


def median_run(loop: str, repeats: int, make: Any) -> list[dict[str, float]]:
    """Run ``make(out)`` ``repeats`` times; the figures of every run (the caller picks)."""
    runs: list[dict[str, float]] = []
    for _ in range(repeats):
        out: dict[str, float] = {}
        run_on(loop, lambda out=out: make(out))
        runs.append(out)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="overload and throughput runs")
    parser.add_argument("--paced", type=int, default=2_000, help="jobs in the default run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args()
    quiet_logging()
    jobs = specs(args.jobs)
    n = len(jobs)

    # 1. Defaults, within capacity: half the admission rate.
    rate = DEFAULTS.window.admission_rate / 2
    paced = specs(args.paced)
    runs = median_run(
        args.loop,
        args.repeats,
        lambda out: through_the_swarm(paced, out, DEFAULTS, rate=rate),
    )
    runs.sort(key=lambda r: r.get("within_two_cycles", 0.0))
    mid = runs[len(runs) // 2]
    emit(
        "dispatched_within_two_cycles",
        mid.get("within_two_cycles", float("nan")),
        "share",
        target=0.9,
        config="default",
        counted_from="submission",
        jobs=len(paced),
        rate=rate,
        loop=args.loop,
        cycles=mid["cycles"],
        full_cycles=mid["full_cycles"],
        delay_cycles_p90=mid["delay_cycles_p90"],
        **{k: round(mid.get(k, 0.0), 4) for k in SHARES},
    )

    # 2. Defaults, overloaded: everything at once.
    runs = median_run(args.loop, args.repeats, lambda out: through_the_swarm(jobs, out, DEFAULTS))
    runs.sort(key=lambda r: r["wait_seconds_p90"])
    mid = runs[len(runs) // 2]
    emit(
        "queueing_delay",
        mid["wait_seconds_p90"],
        "s",
        higher_is_better=False,
        config="default, overloaded",
        note="beyond capacity: the delay, not a two-cycle share",
        p50=round(mid["wait_seconds_p50"], 3),
        delay_cycles_p50=mid["delay_cycles_p50"],
        delay_cycles_p90=mid["delay_cycles_p90"],
        delay_cycles_max=mid["delay_cycles_max"],
        jobs=n,
        loop=args.loop,
        **{k: round(mid.get(k, 0.0), 4) for k in SHARES},
    )

    # 3. Throughput, the gate opened.
    extra: dict[str, float] = {}

    def ours() -> float:
        out: dict[str, float] = {}
        elapsed: float = run_on(args.loop, lambda: through_the_swarm(jobs, out))
        extra.update(out)
        return elapsed

    def baseline() -> float:
        elapsed: float = run_on(args.loop, lambda: direct(jobs))
        return elapsed

    base, swarm = interleaved_medians(args.repeats, baseline, ours)
    emit(
        "jobs_per_second",
        n / swarm,
        "jobs/s",
        baseline=n / base,
        baseline_name="awaiting the no-op handler in a loop",
        config="gate opened, 5 ms cycle",
        jobs=n,
        loop=args.loop,
        failed=extra["failed"],
    )
    emit(
        "overhead_per_job",
        (swarm - base) / n * 1e6,
        "us",
        baseline=base / n * 1e6,
        baseline_name="awaiting the no-op handler in a loop",
        higher_is_better=False,
        jobs=n,
        loop=args.loop,
    )


if __name__ == "__main__":
    main()
