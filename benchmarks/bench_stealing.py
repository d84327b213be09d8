"""Stealing fairness under uneven load, against one shared queue.Queue.

Workload (the same job list for both pools, in the same run): 4 workers;
80% of the jobs are submitted by one producer job running on a worker (so
they land on that worker's own deque), 20% from outside the pool (the
injection queue). Costs are uneven: three quarters are busy loops of widely
varying length (30 to 2000 iterations, log-uniform) that hold the GIL, a
quarter are short waits (50-200 us, ``threading.Event.wait``) that release
it, as I/O would.

Two arrival patterns:

- burst: every job is submitted at once (throughput, fairness, steals);
- paced: jobs arrive in small batches every 2 ms at about a third of the
  pools' capacity (wait times then measure scheduling delay, not backlog;
  the producer job holds its worker throughout, so only waits and steals
  are reported).

Baseline: the same number of threads taking jobs from one shared
``queue.Queue`` (fair by construction, and the central bottleneck that work
stealing avoids), fed in the same pattern, with the same per-job bookkeeping
(one ``concurrent.futures.Future`` per job, resolved by the worker).

Figures (medians over several repetitions; JSON lines): per-worker completed
counts, Jain's fairness index, steal counts, wait time (submit to start)
p50/p99, throughput; and the uncontended cost of a deque push+pop against
``collections.deque`` append+pop.

Run alone: ``python benchmarks/bench_stealing.py [--quick]``.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import platform
import queue
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from scheduler import WorkStealingDeque, WorkStealingPool

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

WORKERS = 4
HOT_SHARE = 0.8
REPEATS = 5
BURST_JOBS = 6000
PACED_JOBS = 3000
PACED_BATCH = 8  # jobs per batch, one batch every PACED_PERIOD from each source
PACED_PERIOD = 0.002
PUSH_POP_ROUNDS = 200_000

Cost: TypeAlias = tuple[str, int]
Submit: TypeAlias = "Callable[[str, int, float], object]"


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src/scheduler", "benchmarks"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


META = {
    "python": platform.python_version(),
    "implementation": platform.python_implementation(),
    "gil": getattr(sys, "_is_gil_enabled", lambda: True)(),
    "commit": _git_commit(),
    "loop": "none (threads)",
    "workers": WORKERS,
}


def emit(figure: str, value: object, unit: str, baseline: object = None) -> None:
    ratio = None
    if isinstance(value, int | float) and isinstance(baseline, int | float) and baseline:
        ratio = round(value / baseline, 3)
    line = {"figure": figure, "value": value, "unit": unit, "baseline": baseline, "ratio": ratio}
    print(json.dumps(line | META), flush=True)


# -- the workload ---------------------------------------------------------------

_NEVER = threading.Event()


def make_costs(n: int, seed: int) -> list[Cost]:
    rng = random.Random(seed)
    costs: list[Cost] = []
    for _ in range(n):
        if rng.random() < 0.25:
            costs.append(("wait", rng.choice((50, 100, 200))))  # microseconds, GIL released
        else:
            costs.append(("spin", int(10 ** rng.uniform(1.5, 3.3))))  # iterations, GIL held
    return costs


def work(kind: str, amount: int) -> None:
    if kind == "wait":
        _NEVER.wait(amount / 1e6)
    else:
        x = 0
        for i in range(amount):
            x += i * i


def feed(costs: Sequence[Cost], submit: Submit, paced: bool) -> None:
    """Submit ``costs`` at once, or in batches every PACED_PERIOD."""
    if not paced:
        for kind, amount in costs:
            submit(kind, amount, time.perf_counter())
        return
    deadline = time.perf_counter()
    for k in range(0, len(costs), PACED_BATCH):
        for kind, amount in costs[k : k + PACED_BATCH]:
            submit(kind, amount, time.perf_counter())
        deadline += PACED_PERIOD
        delay = deadline - time.perf_counter()
        if delay > 0:
            _NEVER.wait(delay)


class Tally:
    """Wait times and completion, shared by the jobs of one run."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.waits: list[float] = []
        self.finished = 0
        self.lock = threading.Lock()
        self.done = threading.Event()

    def job(self, kind: str, amount: int, submitted: float) -> None:
        self.waits.append(time.perf_counter() - submitted)  # list.append is atomic
        work(kind, amount)
        with self.lock:
            self.finished += 1
            if self.finished == self.total:
                self.done.set()

    def wait(self, what: str) -> None:
        if not self.done.wait(120):
            raise RuntimeError(f"{what} did not finish the workload")


class Result:
    def __init__(self, seconds: float, waits: list[float], per_worker: list[int]) -> None:
        self.seconds = seconds
        self.waits = sorted(waits)
        self.per_worker = per_worker
        self.steals: list[int] = []

    @property
    def throughput(self) -> float:
        return len(self.waits) / self.seconds

    def pct(self, q: float) -> float:
        return self.waits[min(len(self.waits) - 1, int(q * len(self.waits)))]

    @property
    def jain(self) -> float:
        x = self.per_worker
        return sum(x) ** 2 / (len(x) * sum(v * v for v in x))


def run_stealing(costs: list[Cost], seed: int, paced: bool) -> Result:
    hot = int(len(costs) * HOT_SHARE)
    tally = Tally(len(costs))
    with WorkStealingPool(WORKERS, seed=seed, name="bench") as pool:

        def submit(kind: str, amount: int, submitted: float) -> None:
            pool.submit(tally.job, kind, amount, submitted)

        def producer() -> None:  # runs on one worker: its submits go onto that worker's deque
            feed(costs[:hot], submit, paced)

        t0 = time.perf_counter()
        pool.submit(producer)
        feed(costs[hot:], submit, paced)  # from outside: the injection queue
        tally.wait("stealing pool")
        seconds = time.perf_counter() - t0
        end = pool.statistics()
    per_worker = [w.completed for w in end.workers]
    producer_worker = max(range(WORKERS), key=lambda i: end.workers[i].spawned)
    per_worker[producer_worker] -= 1  # the producer job itself
    result = Result(seconds, tally.waits, per_worker)
    result.steals = [w.steals for w in end.workers]
    return result


def run_shared_queue(costs: list[Cost], paced: bool) -> Result:
    hot = int(len(costs) * HOT_SHARE)
    tally = Tally(len(costs))
    q: queue.Queue[Callable[[], object] | None] = queue.Queue()
    counts = [0] * WORKERS
    local = threading.local()

    def worker(index: int) -> None:
        local.index = index
        while (fn := q.get()) is not None:
            fn()

    def submit(kind: str, amount: int, submitted: float) -> None:
        future: concurrent.futures.Future[None] = concurrent.futures.Future()

        def item() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    tally.job(kind, amount, submitted)
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(None)
                counts[local.index] += 1  # only this thread writes its slot

        q.put(item)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    try:
        t0 = time.perf_counter()
        q.put(lambda: feed(costs[:hot], submit, paced))
        feed(costs[hot:], submit, paced)
        tally.wait("shared-queue pool")
        seconds = time.perf_counter() - t0
    finally:
        for _ in threads:
            q.put(None)
        for t in threads:
            t.join()
    return Result(seconds, tally.waits, counts)


# -- uncontended deque cost ---------------------------------------------------------


def push_pop_ns() -> tuple[float, float]:
    d: WorkStealingDeque[int] = WorkStealingDeque()
    push, pop = d.push, d.pop
    raw: collections.deque[int] = collections.deque()
    append, rpop = raw.append, raw.pop
    rounds = range(PUSH_POP_ROUNDS)

    t0 = time.perf_counter()
    for i in rounds:
        push(i)
        pop()
    ours = (time.perf_counter() - t0) / PUSH_POP_ROUNDS * 1e9

    t0 = time.perf_counter()
    for i in rounds:
        append(i)
        rpop()
    base = (time.perf_counter() - t0) / PUSH_POP_ROUNDS * 1e9
    return ours, base


# -- main ---------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def compare(paced: bool, repeats: int) -> tuple[list[Result], list[Result]]:
    stealing: list[Result] = []
    shared: list[Result] = []
    for r in range(repeats):
        costs = make_costs(PACED_JOBS if paced else BURST_JOBS, seed=r)
        # Alternate which pool runs first so neither always gets the warmer machine.
        if r % 2:
            shared.append(run_shared_queue(costs, paced))
            stealing.append(run_stealing(costs, r, paced))
        else:
            stealing.append(run_stealing(costs, r, paced))
            shared.append(run_shared_queue(costs, paced))
    return stealing, shared


def emit_waits(prefix: str, stealing: list[Result], shared: list[Result]) -> None:
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        emit(
            f"{prefix}.wait_{name}",
            round(median([res.pct(q) for res in stealing]) * 1e3, 3),
            "ms (submit to start)",
            round(median([res.pct(q) for res in shared]) * 1e3, 3),
        )


def main() -> None:
    repeats = 2 if "--quick" in sys.argv else REPEATS

    stealing, shared = compare(paced=False, repeats=repeats)
    mid = sorted(stealing, key=lambda res: res.jain)[len(stealing) // 2]
    emit("burst.completed_per_worker", mid.per_worker, "jobs (median-fairness run)")
    emit("burst.steals_per_worker", mid.steals, "jobs (median-fairness run)")
    emit("burst.steals_total", median([sum(res.steals) for res in stealing]), "jobs")
    emit(
        "burst.jain_fairness",
        round(median([res.jain for res in stealing]), 4),
        "index (1 = even; target >= 0.95)",
        round(median([res.jain for res in shared]), 4),
    )
    emit(
        "burst.jain_fairness_min",
        round(min(res.jain for res in stealing), 4),
        "index (worst repetition)",
        round(min(res.jain for res in shared), 4),
    )
    emit_waits("burst", stealing, shared)
    emit(
        "burst.throughput",
        round(median([res.throughput for res in stealing])),
        "jobs/s",
        round(median([res.throughput for res in shared])),
    )

    # Paced: the producer job occupies its worker for the whole run, so per-worker
    # counts (and Jain's index) say nothing about stealing here; waits do.
    stealing, shared = compare(paced=True, repeats=repeats)
    emit("paced.steals_total", median([sum(res.steals) for res in stealing]), "jobs")
    emit_waits("paced", stealing, shared)

    pairs = [push_pop_ns() for _ in range(repeats)]
    emit(
        "deque.push_pop_uncontended",
        round(median([p[0] for p in pairs])),
        "ns per push+pop",
        round(median([p[1] for p in pairs])),
    )


if __name__ == "__main__":
    main()
