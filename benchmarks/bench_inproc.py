"""In-process figures, each next to its raw asyncio baseline measured in the same run.

- tell: 1 sender -> 1 actor, 200k messages, against an asyncio.Queue producer/consumer
- tell to a filtered actor: the same with one delivery filter (accepting all), against
  the unfiltered tell (the cost of a filter; an actor without one pays nothing)
- send: the same through a bounded mailbox (waiting for room) against a bounded Queue
- ask: sequential round trips against a raw queue + future ping-pong
- spawn: actors started per second against raw task creation
- memory: bytes per idle actor (100k actors) against a raw parked task

Run: ``python benchmarks/bench_inproc.py [--repeats N] [--loop asyncio|uvloop|both]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc
from typing import TYPE_CHECKING, Any

from _common import emit, interleaved_medians, quiet_logging
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


def run_on(loop_name: str, fn: Callable[[], Awaitable[float]]) -> float:
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


async def actor_ask_rate(n: int, timeout: float | None) -> float:
    async with ActorSystem("bench") as system:
        ref = await system.spawn(Echo)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop", choices=["asyncio", "uvloop", "both"], default="both")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--asks", type=int, default=50_000)
    parser.add_argument("--actors", type=int, default=100_000)
    args = parser.parse_args()
    quiet_logging()
    loops = ["asyncio", "uvloop"] if args.loop == "both" else [args.loop]
    r, n = args.repeats, args.messages
    for loop in loops:

        def pair(
            raw: Callable[[], Awaitable[float]],
            ours: Callable[[], Awaitable[float]],
            repeats: int = r,
            lp: str = loop,
        ) -> tuple[float, float]:
            return interleaved_medians(repeats, lambda: run_on(lp, raw), lambda: run_on(lp, ours))

        raw, ours = pair(lambda: raw_queue_throughput(n), lambda: actor_tell_throughput(n))
        emit(
            "tell_throughput",
            ours,
            "msg/s",
            baseline=raw,
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
            baseline_name="asyncio.Queue(1024) put/get",
            loop=loop,
            messages=n,
        )
        raw, ours = pair(lambda: raw_ping_pong(args.asks), lambda: actor_ask_rate(args.asks, None))
        emit(
            "ask_round_trips",
            ours,
            "asks/s",
            baseline=raw,
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
            baseline_name="queue + future ping-pong + call_later timer",
            loop=loop,
            timeout=5.0,
            target_ratio=0.8,
        )
        raw, ours = pair(
            lambda: raw_task_spawn(args.actors), lambda: actor_spawn_rate(args.actors), 3
        )
        emit(
            "spawn_rate",
            ours,
            "actors/s",
            baseline=raw,
            baseline_name="loop.create_task of a parked coroutine",
            loop=loop,
            actor="no hooks: dormant until its first message",
            target=100_000,
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
            baseline_name="loop.create_task of a parked coroutine",
            loop=loop,
            actor="on_start hook: loop task started at spawn and run once",
            target=100_000,
        )
        for figure, messaged in (
            ("memory_per_idle_actor", False),
            ("memory_per_parked_actor", True),
        ):
            raw, ours = pair(
                lambda: raw_task_memory(args.actors),
                lambda m=messaged: actor_memory(args.actors, m),  # type: ignore[misc]
                1,
            )
            emit(
                figure,
                ours,
                "bytes",
                baseline=raw,
                baseline_name="parked asyncio task",
                higher_is_better=False,
                loop=loop,
                actor="never messaged" if not messaged else "handled one message, loop parked",
                target=2048,
            )


if __name__ == "__main__":
    main()
