"""What the first message to a dormant actor costs at 1M actors without a full collection.

``bench_inproc.py``'s ``first_message_to_dormant_actor`` tells 10,000 of a
million dormant actors once and divides the time by 10,000. CPython runs a
full (generation 2) collection each time the long-lived heap has grown by a
quarter; spawning a million actors sets off about fourteen, the last ones
about 0.9 s each, and where that sequence stands decides whether one falls in
the window (hibernating actors, which keep nothing, get it too): the bench
prints ``full_gc_in_window``. This probe runs the same function with the heap
built by the spawns frozen
(``gc.freeze()``, what a program that keeps a large long-lived population
should do), so no full collection can scan it, and prints the figure beside
the count of full collections in the window.

Run: ``python benchmarks/probe_first_message_gc.py [--population N] [--plain] [--hibernating]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
from typing import Any

import bench_inproc as bench
from _common import quiet_logging
from actors import ActorSystem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=1_000_000)
    parser.add_argument("--plain", action="store_true", help="do not freeze the heap")
    parser.add_argument(
        "--hibernating", action="store_true", help="actors with hibernate_after = 0"
    )
    args = parser.parse_args()
    quiet_logging()
    real_spawn = ActorSystem.spawn
    spawned = 0

    async def spawn_then_freeze(self: ActorSystem, *a: Any, **k: Any) -> Any:
        nonlocal spawned
        ref = await real_spawn(self, *a, **k)
        spawned += 1
        if spawned == args.population:
            gc.collect()
            gc.freeze()
        return ref

    if not args.plain:
        ActorSystem.spawn = spawn_then_freeze  # type: ignore[method-assign]
    try:
        actor = bench.HibernatingCounted if args.hibernating else bench.Counted
        per_message = asyncio.run(bench.actor_first_message(args.population, actor))
    finally:
        ActorSystem.spawn = real_spawn  # type: ignore[method-assign]
        gc.unfreeze()
    print(
        f"first message to a dormant actor among {args.population:,}: {per_message:.2f} us"
        f" ({'plain' if args.plain else 'heap frozen after spawning'};"
        f" {'hibernating' if args.hibernating else 'loop parked'};"
        f" full collections in the window: {bench.FULL_GC_IN_WINDOW[0]})"
    )


if __name__ == "__main__":
    main()
