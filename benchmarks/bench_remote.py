"""Remote figures between two processes, each next to the strongest honest raw baseline.

The raw baselines run at Tadpole's transport level: ``asyncio.Protocol`` on the
same kind of event loop (not streams), with the transport's high-water mark at
our default (1 MiB) and length-prefixed msgspec frames. Their receiver does
what an actor's receive must: it awaits an ``async def`` handler once per
message, in order, in a task of its own (not a count of the batch).

- tell: one-way remote sends per second (``TELLS`` messages to one actor,
  then an ask that reads the count) against two raw senders:
  **per-frame** (one ``transport.write`` per message) and **coalescing**
  (frames gathered into writes of up to 256 KiB, as our writer does). Every
  repetition rotates which of the three goes first.
- ask: sequential round trips, p50/p99, against a raw ping-pong over the same
  kind of connection (the echo awaits its ``async def`` handler too); the two
  alternate every ``ASK_CHUNK`` round trips, and which goes first alternates.
  Besides the ratio, ``paired_extra_us`` is the median over repetitions of
  ours minus raw: the time Tadpole adds to a round trip (routing to a named
  actor, correlation ids, the ask's deadline, the answer's way back). The raw
  round trip itself is mostly the kernel and the two processes waking up,
  which varies several-fold with the machine's load and power state, so the
  ratio moves with it while the added time stays about the same.

Tadpole runs with ``RemoteConfig()``'s defaults and only public APIs
(``RemoteNode``, ``node.ref``, the refs' ``send``/``ask``).

Run: ``python benchmarks/bench_remote.py [--repeats N] [--loop asyncio|uvloop|both]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import struct
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import msgspec

from _common import emit, quiet_logging
from actors import Actor, ActorSystem
from actors.remote import RemoteNode
from protocol import Message

SECRET = "bench-remote-9f2c41d7e6a8b053"  # a cluster secret needs 128 bits
TELLS = 100_000
ASKS = 3_000
ASK_CHUNK = 100
"""Round trips of one kind in a row before the other kind's turn."""
HIGH_WATER = 1024 * 1024
"""Our TCP transport's write-buffer high-water mark, given to the raw transports too."""
BATCH_BYTES = 256 * 1024
"""``RemoteConfig().batch_bytes``: the coalescing raw sender's largest write."""


class Ping(Message, tag="br.ping"):
    n: int


class Count(Message, tag="br.count"):
    pass


class Total(Message, tag="br.total"):
    n: int


class Sink(Actor[Message]):
    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: Message) -> Any:
        if type(message) is Count:
            total, self.count = self.count, 0
            return Total(total)
        self.count += 1
        return None


class Echo(Actor[Message]):
    async def receive(self, message: Message) -> Any:
        return message


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Ping | Count | Total).decode
_HEADER = struct.Struct(">I")


def frame(message: Message) -> bytes:
    payload = _encode(message)
    return _HEADER.pack(len(payload)) + payload


class RawConnection(asyncio.Protocol):
    """A raw peer: frames in, messages out to an in-order handler task; flow control both ways.

    Each received message is handed to ``handler`` (an ``async def``) and
    awaited before the next, in a task of its own, as an actor's loop does.
    Reading pauses while more than ``HIGH_WATER`` bytes of messages wait.
    """

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.inbox: deque[Any] = deque()
        self.wake: asyncio.Event = asyncio.Event()
        self.drained: asyncio.Event = asyncio.Event()
        self.drained.set()
        self.reading_paused = False
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.set_write_buffer_limits(high=HIGH_WATER)  # type: ignore[union-attr]
        self.task = asyncio.get_running_loop().create_task(self.consume())

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        at, size, inbox = 0, len(buffer), self.inbox
        unpack = _HEADER.unpack_from
        while size - at >= 4:
            (length,) = unpack(buffer, at)
            if size - at - 4 < length:
                break
            inbox.append(_decode(memoryview(buffer)[at + 4 : at + 4 + length]))
            at += 4 + length
        del buffer[:at]
        self.wake.set()
        if len(inbox) > 16_384 and not self.reading_paused:
            self.reading_paused = True
            assert self.transport is not None
            self.transport.pause_reading()

    async def consume(self) -> None:
        inbox, handler = self.inbox, self.handler
        while True:
            await self.wake.wait()
            self.wake.clear()
            while inbox:
                await handler(self, inbox.popleft())
            if self.reading_paused:
                self.reading_paused = False
                assert self.transport is not None
                self.transport.resume_reading()

    def pause_writing(self) -> None:
        self.drained.clear()

    def resume_writing(self) -> None:
        self.drained.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.drained.set()
        if self.task is not None:
            self.task.cancel()


# -- server side ------------------------------------------------------------------


class RawServerState:
    def __init__(self) -> None:
        self.count = 0

    async def handle(self, conn: RawConnection, message: Any) -> None:
        """The raw actor's receive: count pings, answer a count, echo negative pings."""
        if type(message) is Ping:
            if message.n < 0:
                assert conn.transport is not None
                conn.transport.write(frame(message))
            else:
                self.count += 1
        elif type(message) is Count:
            assert conn.transport is not None
            conn.transport.write(frame(Total(self.count)))
            self.count = 0


async def serve() -> None:
    quiet_logging()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: RawConnection(RawServerState().handle), "127.0.0.1", 0
    )
    raw_port = server.sockets[0].getsockname()[1]
    async with ActorSystem("server") as system, RemoteNode(system, secret=SECRET) as node:
        await system.spawn(Sink, name="sink")
        await system.spawn(Echo, name="echo")
        print(json.dumps({"raw": raw_port, "node": node.address}), flush=True)
        await loop.run_in_executor(None, sys.stdin.read)
    server.close()


# -- client side ------------------------------------------------------------------


class RawClient:
    """One raw connection: replies resolve the oldest waiting future."""

    def __init__(self, conn: RawConnection) -> None:
        self.conn = conn
        self.waiting: deque[asyncio.Future[Any]] = deque()

    @classmethod
    async def open(cls, port: int) -> RawClient:
        client: RawClient | None = None

        async def on_reply(conn: RawConnection, message: Any) -> None:
            assert client is not None
            client.waiting.popleft().set_result(message)

        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: RawConnection(on_reply), "127.0.0.1", port)
        client = cls(conn)
        return client

    def reply(self) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        return future

    def close(self) -> None:
        assert self.conn.transport is not None
        self.conn.transport.close()


async def raw_tells(client: RawClient, coalesce: bool) -> float:
    transport, drained = client.conn.transport, client.conn.drained
    assert transport is not None
    write = transport.write
    start = time.perf_counter()
    if coalesce:
        batch = bytearray()
        for n in range(TELLS):
            batch += frame(Ping(n))
            if len(batch) >= BATCH_BYTES:
                write(batch)
                batch = bytearray()
                if not drained.is_set():
                    await drained.wait()
        write(batch)
    else:
        for n in range(TELLS):
            write(frame(Ping(n)))
            if not drained.is_set():
                await drained.wait()
    reply = client.reply()
    write(frame(Count()))
    total = await reply
    elapsed = time.perf_counter() - start
    assert total.n == TELLS, total
    return TELLS / elapsed


async def tadpole_tells(sink: Any) -> float:
    await sink.ask(Count(), timeout=30)  # connected, counter reset
    start = time.perf_counter()
    send = sink.send
    for n in range(TELLS):
        await send(Ping(n))
    total = await sink.ask(Count(), timeout=60)
    elapsed = time.perf_counter() - start
    assert total.n == TELLS, total
    return TELLS / elapsed


async def raw_rtts(client: RawClient, count: int, latencies: list[float]) -> None:
    transport = client.conn.transport
    assert transport is not None
    for n in range(count):
        start = time.perf_counter()
        reply = client.reply()
        transport.write(frame(Ping(-1 - n)))
        await reply
        latencies.append(time.perf_counter() - start)


async def tadpole_rtts(echo: Any, count: int, latencies: list[float]) -> None:
    for n in range(count):
        start = time.perf_counter()
        await echo.ask(Ping(n), timeout=30)
        latencies.append(time.perf_counter() - start)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(raw_port: int, address: str, repeats: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}

    def keep(key: str, value: float) -> None:
        results.setdefault(key, []).append(value)

    async with ActorSystem("client") as system, RemoteNode(system, secret=SECRET) as node:
        sink = node.ref(address + "/user/sink")
        echo = node.ref(address + "/user/echo")
        await echo.ask(Ping(0), timeout=30)  # connected
        client = await RawClient.open(raw_port)
        try:
            tells = {
                "tell": lambda: tadpole_tells(sink),
                "raw_tell_frame": lambda: raw_tells(client, coalesce=False),
                "raw_tell_batch": lambda: raw_tells(client, coalesce=True),
            }
            order = list(tells)
            await tells["tell"]()  # warm-up, not kept
            for rep in range(repeats):
                rotated = order[rep % 3 :] + order[: rep % 3]
                for key in rotated:
                    keep(key, await tells[key]())
                raw: list[float] = []
                ours: list[float] = []
                for chunk in range(ASKS // ASK_CHUNK):
                    if (chunk + rep) % 2:
                        await tadpole_rtts(echo, ASK_CHUNK, ours)
                        await raw_rtts(client, ASK_CHUNK, raw)
                    else:
                        await raw_rtts(client, ASK_CHUNK, raw)
                        await tadpole_rtts(echo, ASK_CHUNK, ours)
                keep("raw_p50", pct(raw, 0.5))
                keep("raw_p99", pct(raw, 0.99))
                keep("p50", pct(ours, 0.5))
                keep("p99", pct(ours, 0.99))
        finally:
            client.close()
    return results


def paired(ours: list[float], base: list[float], higher_is_better: bool = True) -> float:
    pairs = [(o / b if higher_is_better else b / o) for o, b in zip(ours, base, strict=True)]
    return round(statistics.median(pairs), 3)


def extra_us(ours: list[float], base: list[float]) -> float:
    """The median, over repetitions, of ours minus its paired baseline, in microseconds."""
    return round(statistics.median(o - b for o, b in zip(ours, base, strict=True)) * 1e6, 1)


def run_loop(loop_name: str, repeats: int) -> None:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--loop", loop_name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent,
    )
    try:
        assert server.stdout is not None
        ports = json.loads(server.stdout.readline())
        results = _runner(loop_name)(measure(ports["raw"], ports["node"], repeats))
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(30)
    med = {k: statistics.median(v) for k, v in results.items()}
    common = {"loop": loop_name, "repeats": repeats}
    for key, name, target in (
        ("raw_tell_frame", "raw msgspec, asyncio.Protocol, one write per frame", None),
        ("raw_tell_batch", "raw msgspec, asyncio.Protocol, frames coalesced per write", 0.6),
    ):
        emit(
            "remote_tell_throughput",
            med["tell"],
            "msg/s",
            baseline=med[key],
            baseline_name=name + ", receiver awaits an async handler per message",
            paired_ratio=paired(results["tell"], results[key]),
            messages=TELLS,
            target_ratio=target,
            **common,
        )
    for q, target in (("p50", 1 / 1.2), ("p99", None)):
        emit(
            f"remote_ask_{q}",
            med[q] * 1e6,
            "us",
            baseline=med[f"raw_{q}"] * 1e6,
            baseline_name=f"raw asyncio.Protocol ping-pong RTT {q}, async handler echo",
            higher_is_better=False,
            paired_ratio=paired(results[q], results[f"raw_{q}"], higher_is_better=False),
            paired_extra_us=extra_us(results[q], results[f"raw_{q}"]),
            asks=ASKS,
            target_ratio=round(target, 3) if target else None,
            **common,
        )


def _runner(loop_name: str) -> Any:
    if loop_name == "uvloop":
        import uvloop

        return uvloop.run
    return asyncio.run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loop", choices=["asyncio", "uvloop", "both"], default="both")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _runner(args.loop)(serve())
        return
    quiet_logging()
    loops = ["asyncio", "uvloop"] if args.loop == "both" else [args.loop]
    for loop_name in loops:
        run_loop(loop_name, args.repeats)


if __name__ == "__main__":
    main()
