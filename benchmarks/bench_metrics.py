"""Operations: what the stability monitor and the metrics cost the tell path.

Figures (JSON lines):

- ``tell_per_s_metrics_on``: tells per second to one actor (in batches of
  1,000, each batch followed by an ask so every message is handled) with
  :func:`actors.ops.start_operations` running, sampling every
  ``--interval`` seconds (default 0.01: a hundred times the default rate)
  and a scrape (``generate_latest``) every 0.05 s; against the same tells
  with neither (the baseline). Interleaved, medians of ``--repeat`` runs and
  the median of the paired ratios. Nothing is counted on the hot path for
  the metrics, so the ratio should be 1 within noise.
- ``scrape_ms``: the time of one ``generate_latest`` over a system of
  ``--actors`` actors (the collector walks every cell), for scale.
- ``sample_ms``: the time of one monitor sample over the same system (it
  also walks every cell, once per ``interval``, on the event loop).

Run: ``python benchmarks/bench_metrics.py [--uvloop] [--repeat 7]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from prometheus_client import generate_latest

from _common import emit, interleaved, paired_ratio, quiet_logging
from actors import Actor, ActorSystem, MailboxConfig
from actors.ops import MonitorConfig, start_operations
from protocol import Message


class Tick(Message, tag="bench.metrics.tick"):
    pass


class Sink(Actor[Tick]):
    mailbox = MailboxConfig(capacity=2048)

    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: Tick) -> int:
        self.count += 1
        return self.count


async def tells(count: int, metrics: bool, interval: float) -> float:
    async with ActorSystem("bench", maintenance_workers=0) as system:
        sink = await system.spawn(Sink)
        scrapes = 0
        stop = asyncio.Event()
        scraper: asyncio.Task[None] | None = None
        if metrics:
            ops = start_operations(system, config=MonitorConfig(interval=interval))

            async def scrape() -> None:
                nonlocal scrapes
                while not stop.is_set():
                    generate_latest(ops.metrics.registry)
                    scrapes += 1
                    await asyncio.sleep(0.05)

            scraper = asyncio.create_task(scrape())
        message = Tick()
        tell = sink.tell
        started = time.perf_counter()
        for _ in range(count // 1000):
            for _ in range(999):
                tell(message)
            await sink.ask(message)
        elapsed = time.perf_counter() - started
        stop.set()
        if scraper is not None:
            await scraper
            ops.stop()
        return count / elapsed


async def scrape_time(actors: int) -> tuple[float, float]:
    async with ActorSystem("scrape", maintenance_workers=0) as system:
        for _ in range(actors):
            await system.spawn(Sink)
        ops = start_operations(system)
        scrapes, samples = [], []
        for _ in range(5):
            started = time.perf_counter()
            generate_latest(ops.metrics.registry)
            scrapes.append(time.perf_counter() - started)
            started = time.perf_counter()
            ops.monitor.sample()
            samples.append(time.perf_counter() - started)
        ops.stop()
        return statistics.median(scrapes) * 1000, statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--tells", type=int, default=300_000)
    parser.add_argument("--interval", type=float, default=0.01)
    parser.add_argument("--actors", type=int, default=10_000)
    args = parser.parse_args()
    quiet_logging()
    loop = "uvloop" if args.uvloop else "asyncio"

    def run(coro: Any) -> Any:
        if args.uvloop:
            import uvloop

            return uvloop.run(coro)
        return asyncio.run(coro)

    base, ours = interleaved(
        args.repeat,
        lambda: run(tells(args.tells, False, args.interval)),
        lambda: run(tells(args.tells, True, args.interval)),
    )
    emit(
        "tell_per_s_metrics_on",
        statistics.median(ours),
        "tells/s",
        baseline=statistics.median(base),
        baseline_name="the same tells, no monitor and no scrapes",
        paired_ratio=paired_ratio(ours, base),
        repeats=args.repeat,
        interval=args.interval,
        loop=loop,
    )
    scrape_ms, sample_ms = run(scrape_time(args.actors))
    emit("scrape_ms", scrape_ms, "ms", actors=args.actors, loop=loop)
    emit("sample_ms", sample_ms, "ms", actors=args.actors, loop=loop)


if __name__ == "__main__":
    main()
