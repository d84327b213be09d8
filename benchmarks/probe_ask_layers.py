"""What bounds concurrent asks against bench_inproc's raw baseline (diagnostics for
its ``concurrent_ask_throughput`` figure).

The raw baseline is 1,000 tasks each putting ``[message, future]`` on an
``asyncio.Queue`` that one server task answers. An ask must also do two things
the raw loop does not: ``ref.ask(...)`` is a coroutine the asker awaits (a
coroutine object and a frame per ask, and one more frame every time the asker
is suspended and resumed), and the actor's ``receive`` is a coroutine the loop
awaits. This adds those layers to the raw loop one at a time (then a
pending-ask record in place of the list) and runs the actor ask next to them,
printing the process CPU time per round trip (medians, runs interleaved): the
raw loop with the layers an ask cannot drop is the floor for the actor's figure.

Run: ``python benchmarks/probe_ask_layers.py [--loop asyncio|uvloop] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from typing import Any

import msgspec

from _common import quiet_logging
from bench_inproc import Ping, actor_concurrent, run_on

LAYERS: dict[str, frozenset[str]] = {
    "raw": frozenset(),
    "raw+ask_coroutine": frozenset({"ask"}),
    "raw+ask_coroutine+handler_coroutine": frozenset({"ask", "handler"}),
    "raw+both+record": frozenset({"ask", "handler", "record"}),
}


class Record(msgspec.Struct):
    message: Any  # Any: whatever is asked
    future: asyncio.Future[Any]


async def layered(layers: frozenset[str], askers: int, each: int) -> float:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    record, ask_layer, handler_layer = "record" in layers, "ask" in layers, "handler" in layers

    async def receive(message: object) -> object:
        return message

    async def server() -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            message, future = (item.message, item.future) if record else item
            if handler_layer:
                message = await receive(message)
            future.set_result(message)

    async def ask(message: object) -> object:
        future = loop.create_future()
        queue.put_nowait(Record(message, future) if record else [message, future])
        return await future

    async def asker() -> None:
        msg, clock, latencies = Ping(1), time.perf_counter, []
        for _ in range(each):
            start = clock()
            if ask_layer:
                await ask(msg)
            else:
                future = loop.create_future()
                queue.put_nowait(Record(msg, future) if record else [msg, future])
                await future
            latencies.append(clock() - start)

    task = asyncio.create_task(server())
    await asyncio.gather(*(asker() for _ in range(askers)))
    queue.put_nowait(None)
    await task
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="uvloop")
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--askers", type=int, default=1_000)
    parser.add_argument("--asks", type=int, default=200_000)
    args = parser.parse_args()
    quiet_logging()
    askers, each = args.askers, max(1, args.asks // args.askers)
    runs: dict[str, Any] = {
        name: (lambda layers=layers: run_on(args.loop, lambda: layered(layers, askers, each)))
        for name, layers in LAYERS.items()
    }
    runs["actor_ask"] = lambda: run_on(args.loop, lambda: actor_concurrent(askers, each))
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for rep in range(args.repeats):
        for name in names if rep % 2 == 0 else names[::-1]:
            gc.collect()
            start = time.process_time()
            runs[name]()
            cpu[name].append((time.process_time() - start) / (askers * each) * 1e6)
    raw = statistics.median(cpu["raw"])
    for name, values in cpu.items():
        us = statistics.median(values)
        print(
            json.dumps(
                {
                    "probe": "ask_layers",
                    "loop": args.loop,
                    "variant": name,
                    "cpu_us_per_round_trip": round(us, 3),
                    "raw_over_this": round(raw / us, 3),
                }
            )
        )


if __name__ == "__main__":
    main()
