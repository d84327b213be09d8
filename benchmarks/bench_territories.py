"""Territories: strategies compared on one workload, lease throughput against a raw baseline.

Figures (JSON lines, then a table of the strategies):

- ``strategy_*``: for each strategy (``consistent-hash``, ``curve``,
  ``heat-aware``) on a uniform and a Zipf (s = 1.1) workload of
  ``--territories`` territories (points in the unit square) over
  ``--agents`` agents: load balance (max/mean, coefficient of variation),
  territories moved when one agent joins and when one leaves (mean of the
  two), and assignment latency (median of ``--repeat`` runs, ms).
- ``lease_acquire_renew_per_s``: acquire + renew pairs per second through
  :class:`MemoryLeaseStore` (the manager's store path: the rules, a lease
  record, a token from the store) vs a raw baseline, a dict plus a counter
  under the same TTL bookkeeping; interleaved, medians of ``--repeat`` runs;
  each pair leases a territory of its own. Target ratio >= 0.5.
- ``lease_reacquire_renew_per_s``: the same over 1,000 territories whose
  leases have always expired when they are acquired again: each acquire
  reclaims the old lease (and hands it to the manager to record as expired,
  ``take_reclaimed``) where the baseline overwrites its row. Target >= 0.5.
- ``lease_acquire_renew_sqlite_per_s``: the same through
  :class:`SQLiteLeaseStore` (one durable transaction each, ``synchronous=NORMAL``),
  for scale; no target.
- ``lease_acquire_renew_manager_per_s``: the same as asks to a
  :class:`TerritoryManager` actor (no ledger), for scale; no target.
- ``guarded_tell_per_s``: tells of fenced messages to a guarded actor vs the
  same tells to an unguarded one (the cost of the fencing filter).

Run: ``python benchmarks/bench_territories.py [--uvloop] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _common import emit, interleaved_medians, quiet_logging
from actors import Actor, ActorSystem, MailboxConfig
from actors.roles.territories import (
    STRATEGIES,
    Acquire,
    Lease,
    MemoryLeaseStore,
    Renew,
    SQLiteLeaseStore,
    Territory,
    TerritoryConfig,
    TerritoryManager,
    balance,
    guard,
    make_strategy,
    moved,
)
from protocol import Message


def workloads(count: int, seed: int) -> dict[str, tuple[list[Territory], dict[str, float]]]:
    rng = random.Random(seed)
    territories = [Territory(f"t{i}", (rng.random(), rng.random())) for i in range(count)]
    uniform = {t.name: 1.0 for t in territories}
    ranks = list(range(1, count + 1))
    rng.shuffle(ranks)
    zipf = {t.name: 1000.0 / rank**1.1 for t, rank in zip(territories, ranks, strict=True)}
    return {"uniform": (territories, uniform), "zipf": (territories, zipf)}


def compare_strategies(count: int, agents: int, repeat: int) -> list[dict[str, Any]]:
    rows = []
    names = [f"agent-{i}" for i in range(agents)]
    for workload, (territories, load) in workloads(count, seed=1).items():
        for name in STRATEGIES:
            strategy = make_strategy(name)
            timings = []
            owners: dict[str, str] = {}
            for _ in range(repeat):
                started = time.perf_counter()
                owners = strategy.assign(territories, names, load)
                timings.append(time.perf_counter() - started)
            shape = balance(owners, names, load)
            joined = strategy.assign(territories, [*names, "agent-new"], load)
            left = strategy.assign(territories, names[1:], load)
            move = (moved(owners, joined) + moved(owners, left)) / 2
            row = {
                "workload": workload,
                "strategy": name,
                "max_over_mean": round(shape.max_over_mean, 3),
                "cv": round(shape.cv, 3),
                "moved": round(move, 1),
                "moved_pct": round(100 * move / count, 1),
                "latency_ms": round(1000 * statistics.median(timings), 2),
            }
            rows.append(row)
            emit(
                f"strategy_{name}_{workload}",
                row["max_over_mean"],
                "max/mean",
                cv=row["cv"],
                moved=row["moved"],
                moved_pct=row["moved_pct"],
                latency_ms=row["latency_ms"],
                territories=count,
                agents=agents,
            )
    return rows


TERRITORY_NAMES = [f"territory-{i}" for i in range(200_000)]
"""Each pair leases a territory of its own: both sides grow their dicts alike."""


def raw_leases(pairs: int, cycle: int = 0) -> float:
    """The baseline: a dict of (holder, token, expires, granted) and a token counter."""
    leases: dict[str, tuple[str, int, float, float]] = {}
    tokens: dict[str, int] = {}
    ttl, now, holder = 10.0, 0.0, "agent"
    names = TERRITORY_NAMES[:cycle] if cycle else TERRITORY_NAMES
    started = time.perf_counter()
    for i in range(pairs):
        territory = names[i % len(names)]
        now += 0.011
        row = leases.get(territory)
        if row is not None and now < row[2]:
            continue
        token = tokens.get(territory, 0) + 1
        tokens[territory] = token
        leases[territory] = (holder, token, now + ttl, now)
        row = leases.get(territory)
        if row is not None and row[1] == token and row[0] == holder and now < row[2]:
            leases[territory] = (holder, token, now + ttl, row[3])
    return pairs / (time.perf_counter() - started)


def store_leases(store: Any, pairs: int, cycle: int = 0) -> float:
    ttl, now, holder = 10.0, 0.0, "agent"
    names = TERRITORY_NAMES[:cycle] if cycle else TERRITORY_NAMES
    acquire, renew, take_reclaimed = store.acquire, store.renew, store.take_reclaimed
    started = time.perf_counter()
    for i in range(pairs):
        territory = names[i % len(names)]
        now += 0.011
        lease = acquire(territory, holder, ttl, now)
        if cycle:
            take_reclaimed()  # the manager records each reclaimed lease as expired
        if type(lease) is not Lease:
            continue
        renew(territory, holder, lease.token, ttl, now)
    rate = pairs / (time.perf_counter() - started)
    store.close()
    return rate


async def manager_leases(pairs: int) -> float:
    async with ActorSystem("bench", maintenance_workers=0) as system:
        manager = await system.spawn(TerritoryManager, TerritoryConfig(default_ttl=1e-6))
        started = time.perf_counter()
        for i in range(pairs):
            reply = await manager.ask(Acquire(TERRITORY_NAMES[i % len(TERRITORY_NAMES)], "agent"))
            lease = getattr(reply, "lease", None)
            if lease is not None:
                await manager.ask(Renew(lease.territory, "agent", lease.token))
        return pairs / (time.perf_counter() - started)


class Write(Message, tag="bench.territories.write"):
    territory: str
    fencing_token: int


class Sink(Actor[Any]):
    def __init__(self, done: asyncio.Event, expected: int) -> None:
        self.done, self.expected, self.seen = done, expected, 0

    async def receive(self, message: Any) -> Any:
        self.seen += 1
        if self.seen == self.expected:
            self.done.set()


async def tells(count: int, guarded: bool) -> float:
    async with ActorSystem("bench", maintenance_workers=0) as system:
        done = asyncio.Event()
        sink = await system.spawn(Sink, done, count, mailbox=MailboxConfig(capacity=count + 10))
        if guarded:
            guard(sink, ["t"])
        messages = [Write("t", 1 + i // 1000) for i in range(count)]
        tell = sink.tell
        started = time.perf_counter()
        for message in messages:
            tell(message)
        await asyncio.wait_for(done.wait(), 60)
        return count / (time.perf_counter() - started)


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| workload | strategy | max/mean | CV | moved per change | latency (ms) |",
        "|---|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {r['workload']} | {r['strategy']} | {r['max_over_mean']:.2f} | {r['cv']:.3f} | "
        f"{r['moved']:.0f} ({r['moved_pct']:.1f}%) | {r['latency_ms']:.1f} |"
        for r in rows
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--territories", type=int, default=5000)
    parser.add_argument("--agents", type=int, default=16)
    parser.add_argument("--pairs", type=int, default=200_000)
    args = parser.parse_args()
    quiet_logging()
    loop = "uvloop" if args.uvloop else "asyncio"
    rows = compare_strategies(args.territories, args.agents, args.repeat)

    base, ours = interleaved_medians(
        args.repeat,
        lambda: raw_leases(args.pairs),
        lambda: store_leases(MemoryLeaseStore(), args.pairs),
    )
    emit(
        "lease_acquire_renew_per_s",
        ours,
        "pairs/s",
        baseline=base,
        baseline_name="dict + counter, same TTL bookkeeping",
        target_ratio=0.5,
        loop=loop,
    )
    base, ours = interleaved_medians(
        args.repeat,
        lambda: raw_leases(args.pairs, cycle=1000),
        lambda: store_leases(MemoryLeaseStore(), args.pairs, cycle=1000),
    )
    emit(
        "lease_reacquire_renew_per_s",
        ours,
        "pairs/s",
        baseline=base,
        baseline_name="dict + counter overwriting the expired row",
        target_ratio=0.5,
        loop=loop,
    )
    with tempfile.TemporaryDirectory() as folder:
        sqlite_pairs = max(1000, args.pairs // 50)
        rate = statistics.median(
            store_leases(SQLiteLeaseStore(Path(folder) / f"l{n}.db", durable=False), sqlite_pairs)
            for n in range(args.repeat)
        )
        emit(
            "lease_acquire_renew_sqlite_per_s",
            rate,
            "pairs/s",
            baseline=base,
            baseline_name="dict + counter",
            loop=loop,
        )

    def run(coro: Any) -> Any:
        if args.uvloop:
            import uvloop

            return uvloop.run(coro)
        return asyncio.run(coro)

    manager_pairs = max(1000, args.pairs // 10)
    rate = statistics.median(run(manager_leases(manager_pairs)) for _ in range(args.repeat))
    emit(
        "lease_acquire_renew_manager_per_s",
        rate,
        "pairs/s",
        baseline=base,
        baseline_name="dict + counter",
        loop=loop,
    )

    tell_count = 200_000
    plain, fenced = interleaved_medians(
        args.repeat, lambda: run(tells(tell_count, False)), lambda: run(tells(tell_count, True))
    )
    emit(
        "guarded_tell_per_s",
        fenced,
        "tells/s",
        baseline=plain,
        baseline_name="the same tells to an unguarded actor",
        loop=loop,
    )
    print(table(rows), flush=True)


if __name__ == "__main__":
    main()
