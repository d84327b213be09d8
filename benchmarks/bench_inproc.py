"""In-process figures, each next to its raw asyncio baseline measured in the same run.

- tell: 1 sender -> 1 actor, 200k messages, against an asyncio.Queue producer/consumer
- tell to a filtered actor: the same with one delivery filter (accepting all), against
  the unfiltered tell (the cost of a filter; an actor without one pays nothing)
- send: the same through a bounded mailbox (waiting for room) against a bounded Queue
- ask: sequential round trips against a raw queue + future ping-pong
- concurrent ask: 1,000 askers on one actor, throughput and p99, against 1,000 raw
  tasks doing the queue + future ping-pong to one server task
- ask timeout: ``ask(timeout=5.0)`` against ``ask()`` in the same run (1 asker and
  10 askers): the cost of the timeout alone (target: within 15%)
- spawn: actors started per second against raw task creation (dormant), and
  "spawn and first message" (each actor spawned, told once, and the message
  handled) against a raw task per actor handling one queued message
- first message to a dormant actor among ``--actors`` (``--large``: 1M) others,
  per message, against ``create_task`` of a handler coroutine (target < 10 us)
- stop: shutting down a system of ``--actors`` (``--large``: 1M) messaged
  actors against cancelling as many raw parked tasks (target <= 1.5x)
- memory: bytes per idle actor (100k actors) against a raw parked task, by
  tracemalloc and by RSS (each RSS figure measured in a fresh process); the
  2 KiB target applies to RSS after one message

Run: ``python benchmarks/bench_inproc.py [--repeats N] [--loop asyncio|uvloop|both]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from typing import TYPE_CHECKING, Any

from _common import emit, interleaved, paired_ratio, quiet_logging
from actors import Actor, ActorSystem, MailboxConfig, lowlevel
from protocol import Message

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


class Ping(Message, tag="b.ping"):
    n: int


class Done(Message, tag="b.done"):
    pass


class Sink(Actor[Message]):
    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: Message) -> Any:
        self.count += 1
        if type(message) is Done:
            return self.count
        return None


class Echo(Actor[Message]):
    async def receive(self, message: Message) -> Any:
        return message


class Idle(Actor[Message]):
    """No hooks: stays dormant (no task) until its first message."""

    async def receive(self, message: Message) -> Any:
        return None


class IdleStarted(Idle):
    """Has an on_start hook, so its loop task starts at spawn."""

    async def on_start(self) -> None:
        return None


class Counted(Actor[Message]):
    """Counts messages handled into a shared tally; dormant until its first message."""

    async def receive(self, message: Message) -> Any:
        TALLY.hit()
        return None


class HibernatingCounted(Counted):
    """Ends its loop task as soon as its mailbox drains (``hibernate_after = 0``)."""

    hibernate_after = 0.0


class HibernatingEcho(Echo):
    hibernate_after = 0.0


class Tally:
    def __init__(self) -> None:
        self.count = 0
        self.target = 0
        self.done: asyncio.Event | None = None

    def arm(self, target: int) -> asyncio.Event:
        self.count, self.target, self.done = 0, target, asyncio.Event()
        return self.done

    def hit(self) -> None:
        self.count += 1
        if self.count == self.target and self.done is not None:
            self.done.set()


TALLY = Tally()


def run_on(loop_name: str, fn: Callable[[], Awaitable[float]]) -> float:
    # Each run starts from a collected heap: otherwise a full collection, due from
    # the allocations of earlier runs, lands in whichever run comes next (a 10 ms
    # pause that set the raw side's concurrent-ask p99 more often than ours).
    gc.collect()
    if loop_name == "uvloop":
        import uvloop

        return uvloop.run(fn())  # type: ignore[no-any-return]
    return asyncio.run(fn())


# -- tell ---------------------------------------------------------------------


async def raw_queue_throughput(n: int, maxsize: int = 0) -> float:
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize)
    msg = Ping(1)

    async def consumer() -> None:
        count = 0
        while True:
            item = await queue.get()
            count += 1
            if item is None:
                return

    start = time.perf_counter()
    task = asyncio.create_task(consumer())
    if maxsize:
        for _ in range(n):
            await queue.put(msg)
        await queue.put(None)
    else:
        for _ in range(n):
            queue.put_nowait(msg)
        queue.put_nowait(None)
    await task
    return n / (time.perf_counter() - start)


async def actor_tell_throughput(n: int) -> float:
    async with ActorSystem("bench") as system:
        ref = await system.spawn(Sink, mailbox=MailboxConfig(capacity=n + 10))
        msg = Ping(1)
        start = time.perf_counter()
        tell = ref.tell
        for _ in range(n):
            tell(msg)
        count = await ref.ask(Done())
        elapsed = time.perf_counter() - start
        assert count == n + 1, count
        return n / elapsed


def _accept(message: object) -> Exception | None:
    return None


async def actor_filtered_tell_throughput(n: int) -> float:
    async with ActorSystem("bench") as system:
        ref = await system.spawn(Sink, mailbox=MailboxConfig(capacity=n + 10))
        lowlevel.add_delivery_filter(ref, _accept)
        msg = Ping(1)
        start = time.perf_counter()
        tell = ref.tell
        for _ in range(n):
            tell(msg)
        count = await ref.ask(Done())
        elapsed = time.perf_counter() - start
        assert count == n + 1, count
        return n / elapsed


async def actor_send_throughput(n: int, capacity: int) -> float:
    async with ActorSystem("bench") as system:
        ref = await system.spawn(Sink, mailbox=MailboxConfig(capacity=capacity))
        msg = Ping(1)
        start = time.perf_counter()
        send = ref.send
        for _ in range(n):
            await send(msg)
        count = await ref.ask(Done())
        elapsed = time.perf_counter() - start
        assert count == n + 1, count
        return n / elapsed


# -- ask ----------------------------------------------------------------------


async def raw_ping_pong(n: int, timeout: float | None = None) -> float:
    """The raw baseline; with ``timeout``, each round trip also arms and cancels a timer."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[object, asyncio.Future[object]] | None] = asyncio.Queue()

    async def server() -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            message, future = item
            future.set_result(message)

    task = asyncio.create_task(server())
    msg = Ping(1)
    start = time.perf_counter()
    for _ in range(n):
        future: asyncio.Future[object] = loop.create_future()
        handle = None if timeout is None else loop.call_later(timeout, future.cancel)
        queue.put_nowait((msg, future))
        await future
        if handle is not None:
            handle.cancel()
    elapsed = time.perf_counter() - start
    queue.put_nowait(None)
    await task
    return n / elapsed


async def actor_ask_rate(n: int, timeout: float | None, echo: type[Echo] = Echo) -> float:
    async with ActorSystem("bench") as system:
        ref = await system.spawn(echo)
        msg = Ping(1)
        ask = ref.ask
        await ask(msg)
        start = time.perf_counter()
        for _ in range(n):
            await ask(msg, timeout)
        return n / (time.perf_counter() - start)


# -- spawn and memory -----------------------------------------------------------


async def raw_task_spawn(n: int) -> float:
    loop = asyncio.get_running_loop()
    parked: asyncio.Future[None] = loop.create_future()

    async def idle() -> None:
        await parked

    start = time.perf_counter()
    tasks = [loop.create_task(idle()) for _ in range(n)]
    await asyncio.sleep(0)
    elapsed = time.perf_counter() - start
    parked.set_result(None)
    await asyncio.gather(*tasks)
    return n / elapsed


async def actor_spawn_rate(n: int, actor: type[Idle] = Idle) -> float:
    async with ActorSystem("bench") as system:
        start = time.perf_counter()
        for _ in range(n):
            await system.spawn(actor)
        await asyncio.sleep(0)  # let every loop run on_start and park
        elapsed = time.perf_counter() - start
        return n / elapsed


async def raw_task_memory(n: int) -> float:
    loop = asyncio.get_running_loop()
    parked: asyncio.Future[None] = loop.create_future()

    async def idle() -> None:
        await parked

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tasks = [loop.create_task(idle()) for _ in range(n)]
    await asyncio.sleep(0)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    parked.set_result(None)
    await asyncio.gather(*tasks)
    return (after - before) / n


async def actor_memory(n: int, messaged: bool = False) -> float:
    """Bytes per idle actor; ``messaged``: each handled one tell and parked its loop."""
    async with ActorSystem("bench") as system:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        ping = Ping(0)
        for _ in range(n):
            ref = await system.spawn(Idle)
            if messaged:
                ref.tell(ping)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        assert system.statistics().actors == n
        return (after - before) / n


# -- concurrent askers and ask timeouts -------------------------------------------


async def raw_concurrent(
    askers: int, each: int, timeout: float | None = None
) -> tuple[float, float]:
    """Round trips/s and p99 (s) of ``askers`` tasks each ping-ponging one server task.

    Each request is a ``[message, future]`` list, not a tuple: with a thousand
    requests in flight, tuples make CPython run ~4x as many young-generation
    collections (about 60 rather than 14 per 50,000 round trips), which cost
    this baseline 2-10% of its time for nothing a server needs to do.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[list[Any] | None] = asyncio.Queue()
    latencies: list[float] = []

    async def server() -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            message, future = item
            future.set_result(message)

    async def asker() -> None:
        msg, clock = Ping(1), time.perf_counter
        for _ in range(each):
            start = clock()
            future: asyncio.Future[object] = loop.create_future()
            handle = None if timeout is None else loop.call_later(timeout, future.cancel)
            queue.put_nowait([msg, future])
            await future
            if handle is not None:
                handle.cancel()
            latencies.append(clock() - start)

    task = asyncio.create_task(server())
    start = time.perf_counter()
    await asyncio.gather(*(asker() for _ in range(askers)))
    elapsed = time.perf_counter() - start
    queue.put_nowait(None)
    await task
    return askers * each / elapsed, pct(latencies, 0.99)


async def actor_concurrent(
    askers: int, each: int, timeout: float | None = None
) -> tuple[float, float]:
    latencies: list[float] = []
    async with ActorSystem("bench") as system:
        ref = await system.spawn(Echo)
        await ref.ask(Ping(0))

        async def asker() -> None:
            msg, ask, clock = Ping(1), ref.ask, time.perf_counter
            for _ in range(each):
                start = clock()
                await ask(msg, timeout)
                latencies.append(clock() - start)

        start = time.perf_counter()
        await asyncio.gather(*(asker() for _ in range(askers)))
        elapsed = time.perf_counter() - start
    return askers * each / elapsed, pct(latencies, 0.99)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- spawn and first message, first message at scale, stop -----------------------


async def raw_spawn_first_message(n: int) -> float:
    """A task per "actor" with its own queue, one message put, until all n are handled."""
    done = TALLY.arm(n)
    msg = Ping(0)

    async def actor(queue: asyncio.Queue[object]) -> None:
        while True:
            await queue.get()
            TALLY.hit()

    start = time.perf_counter()
    tasks = []
    for _ in range(n):
        queue: asyncio.Queue[object] = asyncio.Queue()
        tasks.append(asyncio.create_task(actor(queue)))
        queue.put_nowait(msg)
    await done.wait()
    elapsed = time.perf_counter() - start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return n / elapsed


async def actor_spawn_first_message(n: int) -> float:
    async with ActorSystem("bench") as system:
        done = TALLY.arm(n)
        msg = Ping(0)
        start = time.perf_counter()
        for _ in range(n):
            (await system.spawn(Counted)).tell(msg)
        await done.wait()
        return n / (time.perf_counter() - start)


FIRST_MESSAGES = 10_000


async def raw_first_message(population: int) -> float:
    """Microseconds per first message: ``create_task`` of a handler, until all ran."""
    done = TALLY.arm(FIRST_MESSAGES)
    msg = Ping(0)
    parked = [asyncio.Queue[object]() for _ in range(population)]  # the idle population

    async def handle(message: object) -> None:
        TALLY.hit()

    loop = asyncio.get_running_loop()
    collections = gc.get_stats()[2]["collections"]
    start = time.perf_counter()
    tasks = [loop.create_task(handle(msg)) for _ in range(FIRST_MESSAGES)]
    await done.wait()
    elapsed = time.perf_counter() - start
    FULL_GC_IN_WINDOW[0] = gc.get_stats()[2]["collections"] - collections
    await asyncio.gather(*tasks)
    del parked
    return elapsed / FIRST_MESSAGES * 1e6


async def actor_first_message(
    population: int, actor: type[Counted] = Counted, *, freeze: bool = False
) -> float:
    """Microseconds per first message to 10,000 of ``population`` dormant actors.

    CPython runs a full collection each time the long-lived heap has grown by
    a quarter, about 0.9 s at a million actors; whether one falls in the
    window depends on where that sequence stands, not on the messages.
    ``freeze``: move the spawned heap out of the collector's reach first
    (``gc.freeze()``), as CPython advises for a large long-lived population.
    """
    async with ActorSystem("bench") as system:
        refs = [await system.spawn(actor) for _ in range(population)]
        if freeze:
            gc.collect()
            gc.freeze()
        step = max(1, population // FIRST_MESSAGES)
        chosen = refs[::step][:FIRST_MESSAGES]
        done = TALLY.arm(len(chosen))
        msg = Ping(0)
        collections = gc.get_stats()[2]["collections"]
        start = time.perf_counter()
        for ref in chosen:
            ref.tell(msg)
        await done.wait()
        elapsed = time.perf_counter() - start
        # A full collection of a million actors takes about 0.9 s: one
        # landing in this window swamps the figure, so say when it happened.
        FULL_GC_IN_WINDOW[0] = gc.get_stats()[2]["collections"] - collections
        gc.unfreeze()
        return elapsed / len(chosen) * 1e6


FULL_GC_IN_WINDOW = [0]
"""Full (generation 2) collections during the last first-message window."""


async def raw_cancel(n: int) -> float:
    """Seconds to cancel ``n`` tasks parked on their queues after one message each."""
    done = TALLY.arm(n)
    msg = Ping(0)

    async def actor(queue: asyncio.Queue[object]) -> None:
        while True:
            await queue.get()
            TALLY.hit()

    tasks = []
    for _ in range(n):
        queue: asyncio.Queue[object] = asyncio.Queue()
        tasks.append(asyncio.create_task(actor(queue)))
        queue.put_nowait(msg)
    await done.wait()
    start = time.perf_counter()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return time.perf_counter() - start


async def actor_stop(n: int) -> float:
    """Seconds for a system of ``n`` actors that each handled one message to stop."""
    system = ActorSystem("bench")
    await system.__aenter__()
    done = TALLY.arm(n)
    msg = Ping(0)
    for _ in range(n):
        (await system.spawn(Counted)).tell(msg)
    await done.wait()
    start = time.perf_counter()
    await system.__aexit__(None, None, None)
    return time.perf_counter() - start


# -- RSS in a fresh process ----------------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


RSS_KINDS = {
    # kind: (actor, messaged, batch); batch 0 is every message told before any is handled
    "idle": (Counted, False, 0),
    "messaged": (Counted, True, 0),
    "trickled": (Counted, True, 1_000),
    "hibernated": (HibernatingCounted, True, 0),
    "hibernated_trickled": (HibernatingCounted, True, 1_000),
}
"""The RSS figures' workloads besides ``raw``."""


async def rss_child(kind: str, n: int) -> float:
    """Bytes of RSS per actor (or raw task) added to this fresh process.

    A burst (``batch`` 0: all ``n`` messages queued before any is handled)
    has every message's buffer and loop task alive at once, and the
    allocator keeps most of that peak after it is freed; ``trickled``
    handles the messages a thousand at a time, as actors messaged over time.
    """
    loop = asyncio.get_running_loop()
    msg = Ping(0)
    gc.collect()
    if kind == "raw":
        parked: asyncio.Future[None] = loop.create_future()

        async def idle() -> None:
            await parked

        before = rss_bytes()
        tasks = [loop.create_task(idle()) for _ in range(n)]
        await asyncio.sleep(0)
        after = rss_bytes()
        parked.set_result(None)
        await asyncio.gather(*tasks)
        return (after - before) / n
    actor, messaged, batch = RSS_KINDS[kind]
    async with ActorSystem("bench") as system:
        before = rss_bytes()
        for start in range(0, n, batch or n):
            count = min(batch or n, n - start)
            done = TALLY.arm(count)
            for _ in range(count):
                ref = await system.spawn(actor)
                if messaged:
                    ref.tell(msg)
            if messaged:
                await done.wait()
        await asyncio.sleep(0)
        after = rss_bytes()
        return (after - before) / n


def rss_in_child(loop_name: str, kind: str, n: int) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--rss-child", kind, "--loop", loop_name, "--actors", str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["bytes"])


FIRST_MESSAGE_KINDS: dict[str, Callable[[int], Any]] = {
    "raw": raw_first_message,
    "parked": actor_first_message,
    "hibernating": lambda population: actor_first_message(population, HibernatingCounted),
    "frozen": lambda population: actor_first_message(population, freeze=True),
}


def first_message_in_child(loop_name: str, kind: str, population: int) -> tuple[float, int]:
    """Microseconds per first message, and full collections in the window, in a fresh process.

    A fresh process per run, as for RSS: whether a full collection lands in
    the window depends on what the process allocated and freed before (an
    earlier run's million objects), not on the run itself.
    """
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--first-message-child",
            kind,
            "--loop",
            loop_name,
            "--large",
            str(population),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    line = json.loads(out.stdout.strip().splitlines()[-1])
    return float(line["us"]), int(line["full_gc_in_window"])


def rotated_medians(repeats: int, runs: dict[str, Callable[[], Any]]) -> dict[str, list[Any]]:
    """Each run once per repetition, the order rotated every repetition."""
    names = list(runs)
    results: dict[str, list[Any]] = {name: [] for name in names}
    for rep in range(repeats):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(runs[name]())
    return results


def paired(ours: list[float], base: list[float], higher_is_better: bool = True) -> float:
    return paired_ratio(ours, base, higher_is_better=higher_is_better)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop", choices=["asyncio", "uvloop", "both"], default="both")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--asks", type=int, default=50_000)
    parser.add_argument("--actors", type=int, default=100_000)
    parser.add_argument("--askers", type=int, default=1_000)
    parser.add_argument(
        "--large",
        type=int,
        default=0,
        metavar="N",
        help="population for the first-message and stop figures (make bench: 1000000)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["tell", "ask", "spawn", "memory", "concurrent", "scale"],
        help="run only these groups of figures (default: all)",
    )
    parser.add_argument("--rss-child", choices=["raw", *RSS_KINDS], help=argparse.SUPPRESS)
    parser.add_argument(
        "--first-message-child", choices=list(FIRST_MESSAGE_KINDS), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.first_message_child:
        quiet_logging()
        loop_name = "asyncio" if args.loop == "both" else args.loop
        run = FIRST_MESSAGE_KINDS[args.first_message_child]
        us = run_on(loop_name, lambda: run(args.large or args.actors))
        print(json.dumps({"us": us, "full_gc_in_window": FULL_GC_IN_WINDOW[0]}))
        return
    if args.rss_child:
        quiet_logging()
        loop_name = "asyncio" if args.loop == "both" else args.loop
        per = run_on(loop_name, lambda: rss_child(args.rss_child, args.actors))
        print(json.dumps({"bytes": per}))
        return
    quiet_logging()
    loops = ["asyncio", "uvloop"] if args.loop == "both" else [args.loop]
    r, n = args.repeats, args.messages
    last = [0.0]  # the paired ratio of the last pair() run
    groups = set(args.only or ["tell", "ask", "spawn", "memory", "concurrent", "scale"])
    for loop in loops:

        def pair(
            raw: Callable[[], Awaitable[float]],
            ours: Callable[[], Awaitable[float]],
            repeats: int = r,
            lp: str = loop,
            better: bool = True,
        ) -> tuple[float, float]:
            base_runs, our_runs = interleaved(
                repeats, lambda: run_on(lp, raw), lambda: run_on(lp, ours)
            )
            last[0] = paired_ratio(our_runs, base_runs, higher_is_better=better)
            return statistics.median(base_runs), statistics.median(our_runs)

        if "tell" in groups:
            raw, ours = pair(lambda: raw_queue_throughput(n), lambda: actor_tell_throughput(n))
            emit(
                "tell_throughput",
                ours,
                "msg/s",
                baseline=raw,
                paired_ratio=last[0],
                baseline_name="asyncio.Queue put_nowait/get",
                loop=loop,
                messages=n,
                target_ratio=0.8,
            )
            raw, ours = pair(
                lambda: actor_tell_throughput(n), lambda: actor_filtered_tell_throughput(n)
            )
            emit(
                "tell_throughput_filtered",
                ours,
                "msg/s",
                baseline=raw,
                paired_ratio=last[0],
                baseline_name="tell to the same actor without a delivery filter",
                loop=loop,
                messages=n,
                filters=1,
            )
            raw, ours = pair(
                lambda: raw_queue_throughput(n, 1024), lambda: actor_send_throughput(n, 1024)
            )
            emit(
                "send_throughput_bounded_1024",
                ours,
                "msg/s",
                baseline=raw,
                paired_ratio=last[0],
                baseline_name="asyncio.Queue(1024) put/get",
                loop=loop,
                messages=n,
            )
        if "ask" in groups:
            raw, ours = pair(
                lambda: raw_ping_pong(args.asks), lambda: actor_ask_rate(args.asks, None)
            )
            emit(
                "ask_round_trips",
                ours,
                "asks/s",
                baseline=raw,
                paired_ratio=last[0],
                baseline_name="queue + future ping-pong",
                loop=loop,
                timeout=None,
                target_ratio=0.8,
            )
            raw, ours = pair(
                lambda: raw_ping_pong(args.asks, 5.0), lambda: actor_ask_rate(args.asks, 5.0)
            )
            emit(
                "ask_round_trips_with_timeout",
                ours,
                "asks/s",
                baseline=raw,
                paired_ratio=last[0],
                baseline_name="queue + future ping-pong + call_later timer",
                loop=loop,
                timeout=5.0,
                target_ratio=0.8,
            )
            # What hibernating costs an actor asked in a row: a new loop task per ask.
            raw, ours = pair(
                lambda: raw_ping_pong(args.asks),
                lambda: actor_ask_rate(args.asks, None, HibernatingEcho),
            )
            emit(
                "ask_round_trips_hibernating",
                ours,
                "asks/s",
                baseline=raw,
                paired_ratio=last[0],
                baseline_name="queue + future ping-pong",
                loop=loop,
                actor="hibernate_after=0: a new loop task per ask",
            )
        if "spawn" in groups:
            raw, ours = pair(
                lambda: raw_task_spawn(args.actors), lambda: actor_spawn_rate(args.actors), 3
            )
            emit(
                "spawn_rate",
                ours,
                "actors/s",
                baseline=raw,
                paired_ratio=last[0],
                baseline_name="loop.create_task of a parked coroutine",
                loop=loop,
                actor="no hooks: dormant until its first message",
                target=100_000,
            )
            raw, ours = pair(
                lambda: raw_spawn_first_message(args.actors),
                lambda: actor_spawn_first_message(args.actors),
                3,
            )
            emit(
                "spawn_and_first_message_rate",
                ours,
                "actors/s",
                baseline=raw,
                paired_ratio=last[0],
                baseline_name="create_task + own queue, one message put and handled",
                loop=loop,
                actor="spawned, told once, message handled",
            )
            raw, ours = pair(
                lambda: raw_task_spawn(args.actors),
                lambda: actor_spawn_rate(args.actors, IdleStarted),
                3,
            )
            emit(
                "spawn_rate_with_on_start",
                ours,
                "actors/s",
                baseline=raw,
                paired_ratio=last[0],
                baseline_name="loop.create_task of a parked coroutine",
                loop=loop,
                actor="on_start hook: loop task started at spawn and run once",
                target=100_000,
            )
        if "memory" in groups:
            for figure, messaged in (
                ("memory_per_idle_actor", False),
                ("memory_per_parked_actor", True),
            ):
                raw, ours = pair(
                    lambda: raw_task_memory(args.actors),
                    lambda m=messaged: actor_memory(args.actors, m),  # type: ignore[misc]
                    1,
                    better=False,
                )
                emit(
                    figure + "_tracemalloc",
                    ours,
                    "bytes",
                    baseline=raw,
                    paired_ratio=last[0],
                    baseline_name="parked asyncio task (tracemalloc)",
                    higher_is_better=False,
                    loop=loop,
                    actors=args.actors,
                    actor="never messaged" if not messaged else "handled one message, loop parked",
                )
            rss = rotated_medians(
                max(1, r // 2),
                {
                    kind: (lambda k=kind, lp=loop: rss_in_child(lp, k, args.actors))  # type: ignore[misc]
                    for kind in ("raw", *RSS_KINDS)
                },
            )
            for figure, kind, actor in (
                ("memory_per_idle_actor_rss", "idle", "never messaged"),
                (
                    "memory_per_parked_actor_rss",
                    "messaged",
                    "handled one message, loop parked; all told before any handled",
                ),
                (
                    "memory_per_parked_actor_rss_trickled",
                    "trickled",
                    "handled one message, loop parked; told 1,000 at a time",
                ),
                (
                    "memory_per_hibernated_actor_rss",
                    "hibernated",
                    "handled one message, hibernate_after=0; all told before any handled",
                ),
                (
                    "memory_per_hibernated_actor_rss_trickled",
                    "hibernated_trickled",
                    "handled one message, hibernate_after=0; told 1,000 at a time",
                ),
            ):
                emit(
                    figure,
                    statistics.median(rss[kind]),
                    "bytes",
                    baseline=statistics.median(rss["raw"]),
                    baseline_name="parked asyncio task (RSS, fresh process)",
                    higher_is_better=False,
                    paired_ratio=paired(rss[kind], rss["raw"], higher_is_better=False),
                    loop=loop,
                    actors=args.actors,
                    actor=actor,
                    target=None if kind == "idle" else 2048,
                )
        if "concurrent" in groups:
            concurrent(loop, args, r)
        if "scale" in groups:
            at_scale(loop, args)


def concurrent(loop: str, args: argparse.Namespace, repeats: int) -> None:
    """1,000 askers on one actor; and ask(timeout) against ask() at 1 and 10 askers."""
    askers = args.askers
    each = max(1, args.asks // askers)
    runs = rotated_medians(
        repeats,
        {
            "raw": lambda: run_on(loop, lambda: raw_concurrent(askers, each)),
            "ours": lambda: run_on(loop, lambda: actor_concurrent(askers, each)),
        },
    )
    rates = {k: [v[0] for v in runs[k]] for k in runs}
    p99s = {k: [v[1] * 1e6 for v in runs[k]] for k in runs}
    common = {"loop": loop, "askers": askers, "asks_each": each}
    emit(
        "concurrent_ask_throughput",
        statistics.median(rates["ours"]),
        "asks/s",
        baseline=statistics.median(rates["raw"]),
        baseline_name=f"{askers} tasks ping-ponging one server task (queue + future)",
        paired_ratio=paired(rates["ours"], rates["raw"]),
        target_ratio=0.9,
        **common,
    )
    emit(
        "concurrent_ask_p99",
        statistics.median(p99s["ours"]),
        "us",
        baseline=statistics.median(p99s["raw"]),
        baseline_name=f"{askers} tasks ping-ponging one server task, p99",
        higher_is_better=False,
        paired_ratio=paired(p99s["ours"], p99s["raw"], higher_is_better=False),
        target_ratio=round(1 / 1.2, 3),
        **common,
    )
    for count in (1, 10):
        per = max(1, args.asks // count)
        runs = rotated_medians(
            repeats,
            {
                "plain": lambda c=count, e=per: run_on(loop, lambda: actor_concurrent(c, e)),
                "timeout": lambda c=count, e=per: run_on(loop, lambda: actor_concurrent(c, e, 5.0)),
            },
        )
        plain = [v[0] for v in runs["plain"]]
        timed = [v[0] for v in runs["timeout"]]
        emit(
            "ask_with_timeout_vs_without",
            statistics.median(timed),
            "asks/s",
            baseline=statistics.median(plain),
            baseline_name="ask() without a timeout, same askers",
            paired_ratio=paired(timed, plain),
            target_ratio=0.85,
            loop=loop,
            askers=count,
            timeout=5.0,
        )


def at_scale(loop: str, args: argparse.Namespace) -> None:
    """First message to a dormant actor among many, and stopping many messaged actors."""
    population = args.large or args.actors
    first = rotated_medians(
        1 if args.large else 3,
        {
            kind: (lambda k=kind: first_message_in_child(loop, k, population))  # type: ignore[misc]
            for kind in FIRST_MESSAGE_KINDS
        },
    )
    raw_us = statistics.median(us for us, _ in first["raw"])
    for figure, kind, actor in (
        ("first_message_to_dormant_actor", "parked", "its loop task stays, parked"),
        # The raw handler's task ends once it has run; so does a hibernating actor's loop.
        ("first_message_to_hibernating_actor", "hibernating", "hibernate_after=0"),
        (
            "first_message_to_dormant_actor_frozen",
            "frozen",
            "its loop task stays, parked; gc.freeze() after spawning",
        ),
    ):
        emit(
            figure,
            statistics.median(us for us, _ in first[kind]),
            "us",
            baseline=raw_us,
            baseline_name="create_task of a handler coroutine (fresh process)",
            higher_is_better=False,
            paired_ratio=paired(
                [us for us, _ in first[kind]],
                [us for us, _ in first["raw"]],
                higher_is_better=False,
            ),
            loop=loop,
            population=population,
            messages=FIRST_MESSAGES,
            full_gc_in_window=sum(gcs for _, gcs in first[kind]),
            actor=actor,
            target="value < 10 us at 1M actors",
        )
    runs = rotated_medians(
        1 if args.large else 3,
        {
            "raw": lambda: run_on(loop, lambda: raw_cancel(population)),
            "ours": lambda: run_on(loop, lambda: actor_stop(population)),
        },
    )
    emit(
        "stop_messaged_actors",
        statistics.median(runs["ours"]),
        "s",
        baseline=statistics.median(runs["raw"]),
        baseline_name="cancel and gather as many raw tasks parked on their queues",
        higher_is_better=False,
        loop=loop,
        population=population,
        target_ratio=round(1 / 1.5, 3),
    )


if __name__ == "__main__":
    main()
