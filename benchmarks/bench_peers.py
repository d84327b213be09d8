"""Tadpole next to other actor libraries on the same workloads, in the same run.

Workloads (each a rate; higher is better):

- ``peer_tell``: 1 -> 1 tells (``TELLS`` messages, then one ask that reads the count)
- ``peer_ask``: sequential ask round trips (``ASKS``)
- ``peer_ask_1000_actors``: 1,000 actors, each asked once, all at once (``ROUNDS`` rounds)
- ``peer_spawn_and_tell``: 10,000 actors spawned and each told once, until all handled
- ``peer_remote_tell`` / ``peer_remote_ask``: the same across two processes on
  127.0.0.1, for peers that support it (Thespian's ``multiprocTCPBase``)

Peers: Pykka (``ThreadingActor``: a thread per actor) and Thespian
(``simpleSystemBase`` in process, ``multiprocTCPBase`` across processes); Ray
and AutoGen Core when installed, else one line saying they were skipped. They
come from the ``bench`` extra (``pip install -e '.[bench]'``), never from the
runtime's dependencies. Each repetition runs every system once, the order
rotated each repetition; the lines give medians and the paired ratio (the
median of each repetition's Tadpole/peer ratio). ``value`` is Tadpole's figure,
``baseline`` the peer's, so ``ratio`` > 1 means Tadpole is faster.

Run: ``python benchmarks/bench_peers.py [--repeats N] [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import emit, paired_ratio, quiet_logging
from actors import Actor, ActorSystem
from actors.remote import RemoteNode
from protocol import Message

if TYPE_CHECKING:
    from collections.abc import Callable

SECRET = "bench-remote-9f2c41d7e6a8b053"  # bench_remote.py's server uses it
TELLS = 20_000
ASKS = 2_000
ROUNDS = 5
SPAWNS = 10_000
REMOTE_TELLS = 5_000
REMOTE_ASKS = 500


# -- Tadpole ------------------------------------------------------------------------


class Ping(Message, tag="bp.ping"):
    n: int


class Count(Message, tag="bp.count"):
    pass


class Counter(Actor[Message]):
    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: Message) -> Any:
        if type(message) is Count:
            return self.count
        self.count += 1
        return None


class Echo(Actor[Message]):
    async def receive(self, message: Message) -> Any:
        return message


class Tally:
    """Counts handled messages across actors; wakes a waiter at the target (any thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.target = 0
        self.done = threading.Event()

    def arm(self, target: int) -> None:
        self.count, self.target = 0, target
        self.done.clear()

    def hit(self) -> None:
        with self.lock:
            self.count += 1
            if self.count == self.target:
                self.done.set()


TALLY = Tally()


class Tallied(Actor[Message]):
    async def receive(self, message: Message) -> Any:
        TALLY.hit()


def timed(work: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    work()
    return n / (time.perf_counter() - start)


def tadpole(workload: str) -> float:
    async def tell() -> float:
        async with ActorSystem("bench") as system:
            ref = await system.spawn(Counter)
            msg = Ping(1)
            start = time.perf_counter()
            for _ in range(TELLS):
                await ref.send(msg)
            assert await ref.ask(Count()) == TELLS
            return TELLS / (time.perf_counter() - start)

    async def ask() -> float:
        async with ActorSystem("bench") as system:
            ref = await system.spawn(Echo)
            msg = Ping(1)
            start = time.perf_counter()
            for _ in range(ASKS):
                await ref.ask(msg)
            return ASKS / (time.perf_counter() - start)

    async def many() -> float:
        async with ActorSystem("bench") as system:
            refs = [await system.spawn(Echo) for _ in range(1000)]
            msg = Ping(1)
            start = time.perf_counter()
            for _ in range(ROUNDS):
                await asyncio.gather(*(ref.ask(msg) for ref in refs))
            return 1000 * ROUNDS / (time.perf_counter() - start)

    async def spawn() -> float:
        async with ActorSystem("bench") as system:
            TALLY.arm(SPAWNS)
            msg = Ping(1)
            start = time.perf_counter()
            for _ in range(SPAWNS):
                (await system.spawn(Tallied)).tell(msg)
            await asyncio.to_thread(TALLY.done.wait, 300)
            return SPAWNS / (time.perf_counter() - start)

    runs = {"tell": tell, "ask": ask, "many": many, "spawn": spawn}
    return asyncio.run(runs[workload]())


# -- Pykka --------------------------------------------------------------------------


def pykka_runs() -> dict[str, Callable[[], float]]:
    import pykka

    class PCounter(pykka.ThreadingActor):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def on_receive(self, message: Any) -> Any:
            if message == "count":
                return self.count
            self.count += 1
            return None

    class PEcho(pykka.ThreadingActor):  # type: ignore[misc]
        def on_receive(self, message: Any) -> Any:
            return message

    class PTallied(pykka.ThreadingActor):  # type: ignore[misc]
        def on_receive(self, message: Any) -> Any:
            TALLY.hit()

    def tell() -> float:
        ref = PCounter.start()
        try:
            start = time.perf_counter()
            for n in range(TELLS):
                ref.tell(n)
            assert ref.ask("count") == TELLS
            return TELLS / (time.perf_counter() - start)
        finally:
            ref.stop()

    def ask() -> float:
        ref = PEcho.start()
        try:
            return timed(lambda: [ref.ask(1) for _ in range(ASKS)], ASKS)
        finally:
            ref.stop()

    def many() -> float:
        refs = [PEcho.start() for _ in range(1000)]
        try:

            def rounds() -> None:
                for _ in range(ROUNDS):
                    futures = [ref.ask(1, block=False) for ref in refs]
                    for future in futures:
                        future.get()

            return timed(rounds, 1000 * ROUNDS)
        finally:
            pykka.ActorRegistry.stop_all()

    def spawn() -> float:
        TALLY.arm(SPAWNS)
        try:

            def go() -> None:
                for _ in range(SPAWNS):
                    PTallied.start().tell(1)
                TALLY.done.wait(300)

            return timed(go, SPAWNS)
        finally:
            pykka.ActorRegistry.stop_all()

    return {"tell": tell, "ask": ask, "many": many, "spawn": spawn}


# -- Thespian -----------------------------------------------------------------------


def thespian_runs() -> dict[str, Callable[[], float]]:
    from thespian.actors import Actor as TActor
    from thespian.actors import ActorSystem as TSystem

    from _thespian_actors import TCounter, TEcho

    class TTallied(TActor):  # type: ignore[misc]
        def receiveMessage(self, message: Any, sender: Any) -> None:  # noqa: N802
            if isinstance(message, int):
                TALLY.hit()

    def system() -> Any:
        return TSystem("simpleSystemBase", logDefs=False, transientUnique=True)

    def tell() -> float:
        asys = system()
        try:
            addr = asys.createActor(TCounter)
            start = time.perf_counter()
            for n in range(TELLS):
                asys.tell(addr, n)
            assert asys.ask(addr, "count", 60) == TELLS
            return TELLS / (time.perf_counter() - start)
        finally:
            asys.shutdown()

    def ask() -> float:
        asys = system()
        try:
            addr = asys.createActor(TEcho)
            return timed(lambda: [asys.ask(addr, 1, 10) for _ in range(ASKS)], ASKS)
        finally:
            asys.shutdown()

    def many() -> float:
        asys = system()
        try:
            addrs = [asys.createActor(TEcho) for _ in range(1000)]

            def rounds() -> None:
                for _ in range(ROUNDS):
                    for addr in addrs:
                        asys.tell(addr, 1)
                    for _ in addrs:
                        assert asys.listen(10) == 1

            return timed(rounds, 1000 * ROUNDS)
        finally:
            asys.shutdown()

    def spawn() -> float:
        asys = system()
        TALLY.arm(SPAWNS)
        try:

            def go() -> None:
                for _ in range(SPAWNS):
                    asys.tell(asys.createActor(TTallied), 1)
                while not TALLY.done.is_set():
                    asys.listen(0.01)  # simpleSystemBase runs actors inside the caller's calls

            return timed(go, SPAWNS)
        finally:
            asys.shutdown()

    return {"tell": tell, "ask": ask, "many": many, "spawn": spawn}


# -- remote -------------------------------------------------------------------------


class RemoteTadpole:
    """bench_remote.py's server process (a Tadpole node with a sink and an echo)."""

    def __init__(self) -> None:
        self.server = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("bench_remote.py")), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parent,
        )
        assert self.server.stdout is not None
        self.address = json.loads(self.server.stdout.readline())["node"]

    def run(self, workload: str) -> float:
        from bench_remote import Count as RCount
        from bench_remote import Ping as RPing

        async def go() -> float:
            async with (
                ActorSystem("peers") as system,
                RemoteNode(system, secret=SECRET) as node,
            ):
                sink = node.ref(self.address + "/user/sink")
                echo = node.ref(self.address + "/user/echo")
                await sink.ask(RCount(), timeout=30)  # connected, count reset
                start = time.perf_counter()
                if workload == "tell":
                    for n in range(REMOTE_TELLS):
                        await sink.send(RPing(n))
                    assert (await sink.ask(RCount(), timeout=60)).n == REMOTE_TELLS
                    return REMOTE_TELLS / (time.perf_counter() - start)
                for n in range(REMOTE_ASKS):
                    await echo.ask(RPing(n), timeout=30)
                return REMOTE_ASKS / (time.perf_counter() - start)

        return asyncio.run(go())

    def close(self) -> None:
        if self.server.stdin is not None:
            self.server.stdin.close()
        self.server.wait(30)


class RemoteThespian:
    """A multiprocTCPBase system: the actors live in processes of their own."""

    def __init__(self) -> None:
        from thespian.actors import ActorSystem as TSystem

        from _thespian_actors import TCounter, TEcho

        self.asys = TSystem("multiprocTCPBase", {"Admin Port": 19_931})
        self.counter = self.asys.createActor(TCounter)
        self.echo = self.asys.createActor(TEcho)

    def run(self, workload: str) -> float:
        asys = self.asys
        asys.ask(self.counter, "count", 30)
        if workload == "tell":
            before = asys.ask(self.counter, "count", 30)
            start = time.perf_counter()
            for n in range(REMOTE_TELLS):
                asys.tell(self.counter, n)
            assert asys.ask(self.counter, "count", 120) - before == REMOTE_TELLS
            return REMOTE_TELLS / (time.perf_counter() - start)
        return timed(lambda: [asys.ask(self.echo, 1, 30) for _ in range(REMOTE_ASKS)], REMOTE_ASKS)

    def close(self) -> None:
        self.asys.shutdown()


# -- driver -------------------------------------------------------------------------


def workloads() -> dict[str, tuple[str, str, int]]:
    return {
        "tell": ("peer_tell", "msg/s", TELLS),
        "ask": ("peer_ask", "asks/s", ASKS),
        "many": ("peer_ask_1000_actors", "asks/s", 1000 * ROUNDS),
        "spawn": ("peer_spawn_and_tell", "actors/s", SPAWNS),
        "remote_tell": ("peer_remote_tell", "msg/s", REMOTE_TELLS),
        "remote_ask": ("peer_remote_ask", "asks/s", REMOTE_ASKS),
    }


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def compare(
    workload: str, systems: dict[str, Callable[[], float]], labels: dict[str, str], repeats: int
) -> None:
    names = list(systems)
    runs: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(repeats):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            runs[name].append(systems[name]())
    figure, unit, count = workloads()[workload]
    ours = runs.pop("tadpole")
    for peer, values in runs.items():
        emit(
            figure,
            statistics.median(ours),
            unit,
            baseline=statistics.median(values),
            baseline_name=labels[peer],
            paired_ratio=paired_ratio(ours, values),
            peer=peer,
            messages=count,
            repeats=repeats,
            loop="asyncio",
        )


def skipped(peer: str, dist: str, module: str) -> bool:
    try:
        __import__(module)
    except ImportError as exc:
        print(
            json.dumps({"figure": "peer_skipped", "peer": peer, "note": f"{dist}: {exc}"}),
            flush=True,
        )
        return True
    return False


def main() -> None:
    global TELLS, ASKS, SPAWNS, REMOTE_TELLS, REMOTE_ASKS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a tenth of the messages")
    args = parser.parse_args()
    if args.quick:
        TELLS, ASKS, SPAWNS, REMOTE_TELLS, REMOTE_ASKS = 2_000, 200, 1_000, 500, 50
    quiet_logging()
    peers: dict[str, dict[str, Callable[[], float]]] = {}
    labels: dict[str, str] = {}
    if not skipped("pykka", "pykka", "pykka"):
        peers["pykka"] = pykka_runs()
        labels["pykka"] = f"Pykka {version('pykka')} (ThreadingActor)"
    if not skipped("thespian", "thespian", "thespian.actors"):
        peers["thespian"] = thespian_runs()
        labels["thespian"] = f"Thespian {version('thespian')} (simpleSystemBase)"
    for peer, dist, module in (("ray", "ray", "ray"), ("autogen", "autogen-core", "autogen_core")):
        if not skipped(peer, dist, module):
            print(
                json.dumps(
                    {
                        "figure": "peer_skipped",
                        "peer": peer,
                        "note": f"{dist} installed, but no workloads written for it yet",
                    }
                ),
                flush=True,
            )
    for workload in ("tell", "ask", "many", "spawn"):
        systems: dict[str, Callable[[], float]] = {
            "tadpole": lambda w=workload: tadpole(w),  # type: ignore[misc]
        }
        for peer, runs in peers.items():
            systems[peer] = runs[workload]
        compare(workload, systems, labels, args.repeats)
    # Thespian's processes fork from this one: start them before the Tadpole
    # server, so they do not hold a copy of its stdin pipe (its signal to stop).
    theirs_remote = None
    remote_labels = {}
    if "thespian" in peers:
        theirs_remote = RemoteThespian()
        remote_labels["thespian"] = f"Thespian {version('thespian')} (multiprocTCPBase)"
    ours_remote = RemoteTadpole()
    try:
        for workload in ("tell", "ask"):
            systems = {"tadpole": lambda w=workload: ours_remote.run(w)}  # type: ignore[misc]
            if theirs_remote is not None:
                systems["thespian"] = lambda w=workload: theirs_remote.run(w)  # type: ignore[misc, union-attr]
            if len(systems) > 1:
                compare("remote_" + workload, systems, remote_labels, args.repeats)
    finally:
        ours_remote.close()
        if theirs_remote is not None:
            with contextlib.suppress(Exception):
                theirs_remote.close()


if __name__ == "__main__":
    main()
