"""Remote figures between two processes, each next to raw msgspec frames over asyncio streams.

- tell: one-way remote tells per second (100k messages to one actor) against raw
  length-prefixed msgspec frames written to an asyncio stream and decoded by the peer
- ask: sequential remote ask round trips, p50/p99 latency, against a raw frame ping-pong;
  the two alternate every ``ASK_CHUNK`` round trips, so both see the same machine

The server process (this script with ``--serve``) runs both a raw asyncio server and a
Tadpole node on 127.0.0.1; the client process measures both in the same run, alternating.

Run: ``python benchmarks/bench_remote.py [--repeats N] [--loop asyncio|uvloop|both]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec

from _common import emit, quiet_logging
from actors import Actor, ActorSystem
from actors.remote import RemoteConfig, RemoteNode
from protocol import FrameReader, FrameWriter, Message, encode_frame

SECRET = "bench-remote-9f2c41d7e6a8b053"  # a cluster secret needs 128 bits
TELLS = 100_000
ASKS = 3_000
ASK_CHUNK = 100
"""Round trips of one kind in a row before the other kind's turn."""


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
            return Total(self.count)
        self.count += 1
        return None


class Echo(Actor[Message]):
    async def receive(self, message: Message) -> Any:
        return message


_codec = msgspec.msgpack.Encoder()
_decode_ping = msgspec.msgpack.Decoder(Ping | Count).decode


# -- server side ------------------------------------------------------------------


async def raw_client_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    frames = FrameReader()
    count = 0
    while chunk := await reader.read(256 * 1024):
        frames.feed(chunk)
        out = FrameWriter()
        for frame in frames:
            message = _decode_ping(frame)
            if type(message) is Count:
                out.add(_codec.encode(Total(count)))
                count = 0
            elif message.n < 0:  # ping-pong: echo it
                out.add(frame)
            else:
                count += 1
        if out.frames:
            writer.write(out.take())
    writer.close()


async def serve() -> None:
    quiet_logging()
    server = await asyncio.start_server(raw_client_handler, "127.0.0.1", 0)
    raw_port = server.sockets[0].getsockname()[1]
    async with ActorSystem("server") as system:
        config = RemoteConfig(send_buffer=16_384)
        async with RemoteNode(system, secret=SECRET, config=config) as node:
            await system.spawn(Sink, name="sink")
            await system.spawn(Echo, name="echo")
            print(json.dumps({"raw": raw_port, "node": node.address}), flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.close()


# -- client side ------------------------------------------------------------------


async def raw_tells(port: int) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.perf_counter()
    batch = FrameWriter()
    for n in range(TELLS):
        batch.add(_codec.encode(Ping(n)))
        if batch.frames >= 256:
            writer.write(batch.take())
            await writer.drain()
    batch.add(_codec.encode(Count()))
    writer.write(batch.take())
    frames = FrameReader()
    total = None
    while total is None:
        frames.feed(await reader.read(65536))
        for frame in frames:
            total = msgspec.msgpack.decode(frame, type=Total)
    elapsed = time.perf_counter() - start
    assert total.n == TELLS, total
    writer.close()
    return TELLS / elapsed


async def tadpole_tells(node: RemoteNode, address: str) -> float:
    sink = node.ref(address + "/user/sink")
    await sink.ask(Count(), timeout=30)  # connected, counter read
    start = time.perf_counter()
    before = (await sink.ask(Count(), timeout=30)).n
    for n in range(TELLS):
        await sink.send(Ping(n))
    total = await sink.ask(Count(), timeout=60)
    elapsed = time.perf_counter() - start
    assert total.n - before == TELLS, (total, before)
    return TELLS / elapsed


class RawPingPong:
    """One raw connection to the server's echo of negative pings."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.frames = FrameReader()

    @classmethod
    async def open(cls, port: int) -> RawPingPong:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def rtts(self, count: int, latencies: list[float]) -> None:
        reader, writer, frames = self.reader, self.writer, self.frames
        for n in range(count):
            start = time.perf_counter()
            writer.write(encode_frame(_codec.encode(Ping(-1 - n))))
            got = None
            while got is None:
                frames.feed(await reader.read(65536))
                got = frames.next_frame()
            _decode_ping(got)
            latencies.append(time.perf_counter() - start)

    def close(self) -> None:
        self.writer.close()


async def tadpole_rtts(echo: Any, count: int, latencies: list[float]) -> None:
    for n in range(count):
        start = time.perf_counter()
        await echo.ask(Ping(n), timeout=30)
        latencies.append(time.perf_counter() - start)


async def interleaved_rtts(node: RemoteNode, address: str, port: int) -> tuple[list[float], ...]:
    """``ASKS`` raw round trips and ``ASKS`` asks, alternating every ``ASK_CHUNK``."""
    echo = node.ref(address + "/user/echo")
    await echo.ask(Ping(0), timeout=30)  # connected
    raw_pp = await RawPingPong.open(port)
    raw: list[float] = []
    ours: list[float] = []
    try:
        for _ in range(ASKS // ASK_CHUNK):
            await raw_pp.rtts(ASK_CHUNK, raw)
            await tadpole_rtts(echo, ASK_CHUNK, ours)
    finally:
        raw_pp.close()
    return raw, ours


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(raw_port: int, address: str, repeats: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {
        k: [] for k in ("raw_tell", "tell", "raw_p50", "raw_p99", "p50", "p99", "raw_rt", "rt")
    }
    async with ActorSystem("client") as system:
        config = RemoteConfig(send_buffer=16_384)
        async with RemoteNode(system, secret=SECRET, config=config) as node:
            for _ in range(repeats):
                results["raw_tell"].append(await raw_tells(raw_port))
                results["tell"].append(await tadpole_tells(node, address))
                raw, ours = await interleaved_rtts(node, address, raw_port)
                results["raw_p50"].append(pct(raw, 0.5))
                results["raw_p99"].append(pct(raw, 0.99))
                results["p50"].append(pct(ours, 0.5))
                results["p99"].append(pct(ours, 0.99))
                results["raw_rt"].append(len(raw) / sum(raw))
                results["rt"].append(len(ours) / sum(ours))
    return results


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
        runner = _runner(loop_name)
        results = runner(measure(ports["raw"], ports["node"], repeats))
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(30)
    med = {k: statistics.median(v) for k, v in results.items()}
    common = {"loop": loop_name, "repeats": repeats}
    emit(
        "remote_tell_throughput",
        med["tell"],
        "msg/s",
        baseline=med["raw_tell"],
        baseline_name="raw msgspec frames over asyncio streams",
        messages=TELLS,
        **common,
    )
    emit(
        "remote_ask_round_trips",
        med["rt"],
        "asks/s",
        baseline=med["raw_rt"],
        baseline_name="raw frame ping-pong",
        asks=ASKS,
        **common,
    )
    emit(
        "remote_ask_p50",
        med["p50"] * 1e6,
        "us",
        baseline=med["raw_p50"] * 1e6,
        baseline_name="raw frame RTT p50",
        higher_is_better=False,
        **common,
    )
    emit("remote_ask_p99", med["p99"] * 1e6, "us", baseline=med["raw_p99"] * 1e6,
         baseline_name="raw frame RTT p99", higher_is_better=False, **common)  # fmt: skip


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
