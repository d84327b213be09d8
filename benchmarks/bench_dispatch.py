"""10,000 jobs through balancer + supervisor + tadpoles, with no-op handlers.

Figures (medians over ``--repeats`` runs; JSON lines):

- ``dispatched_within_two_cycles``: share of tasks the balancer dispatched
  within two dispatch cycles of their arrival (target >= 90%);
- ``jobs_per_second``: submitted in a burst to the last completion, end to
  end, against the raw baseline of awaiting the same no-op handler 10,000
  times in a loop (same run);
- ``overhead_per_job``: (end-to-end time - baseline time) / jobs.

Settings: the supervisor's defaults (window 5 growing to 10, 4 tadpoles, the
balancer's quotas) except the admission gate, opened to 100,000 jobs/s with
bursts of 1,000 so that it does not cap the figure (the default is
1,000 jobs/s), and a 5 ms dispatch cycle. The job mix fits the quotas
(20% strict, 50% balanced, 30% creative).

Run: ``python benchmarks/bench_dispatch.py [--jobs N] [--repeats N] [--loop asyncio|uvloop]``.
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


CONFIG = SupervisorConfig(
    window=WindowConfig(admission_rate=100_000.0, admission_burst=1_000),
    balancer=BalancerConfig(cycle_interval=0.005),
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


async def through_the_swarm(jobs: list[JobSpec], out: dict[str, float]) -> float:
    async with ActorSystem("bench") as system:
        done = asyncio.Event()
        finish = await system.spawn(Finish, len(jobs), done)
        system.topics.subscribe(JOB_EVENTS, finish)
        sup = await system.spawn(Supervisor, {"noop": noop}, CONFIG, name="sup")
        started = time.perf_counter()
        for spec in jobs:
            sup.tell(SubmitJob(spec))
        await asyncio.wait_for(done.wait(), timeout=120.0)
        elapsed = time.perf_counter() - started
        stats = await sup.ask(GetStatistics(), timeout=30.0)
        summary = await system.lookup("/user/sup/balancer").ask(GetSummary(), timeout=30.0)
        out["within_two"] = summary.kpis["within_two_cycles"]
        out["cycles"] = summary.kpis["cycles"]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args()
    quiet_logging()
    jobs = specs(args.jobs)
    shares: list[float] = []
    extra: dict[str, float] = {}

    def ours() -> float:
        out: dict[str, float] = {}
        elapsed: float = run_on(args.loop, lambda: through_the_swarm(jobs, out))
        shares.append(out["within_two"])
        extra.update(out)
        return elapsed

    def baseline() -> float:
        elapsed: float = run_on(args.loop, lambda: direct(jobs))
        return elapsed

    base, swarm = interleaved_medians(args.repeats, baseline, ours)
    shares.sort()
    n = len(jobs)
    emit(
        "dispatched_within_two_cycles",
        shares[len(shares) // 2],
        "share",
        target=0.9,
        jobs=n,
        loop=args.loop,
        cycles=extra["cycles"],
    )
    emit(
        "jobs_per_second",
        n / swarm,
        "jobs/s",
        baseline=n / base,
        baseline_name="awaiting the no-op handler in a loop",
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
