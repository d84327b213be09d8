"""Quorum decisions against the bare fan-out of the same asks.

Figures (JSON lines), for 3, 5 and 9 voters:

- ``quorum_decisions_per_s_{n}``: proposals decided per second, one at a time,
  by a :class:`Quorum` actor (typed ballots to every voter at once, votes
  counted as they arrive, a decision at the majority, the lease and its
  fencing token from a :class:`MemoryLeaseStore`, one ``quorum.decided``
  record in an in-memory ledger, statistics) against the raw baseline: the
  same ballots asked of the same voters with ``asyncio.gather`` and the yes
  votes counted, nothing else. Interleaved, medians of ``--repeats`` runs.
  Target ratio >= 0.5 in one process.
- ``quorum_latency_p50_{n}`` / ``quorum_latency_p99_{n}``: decision latency
  (proposal asked to decision received), against the baseline's fan-out.
- ``quorum_nodes_*``: the same across three ``python -m actors.node``
  processes (voters spread over them round-robin; the quorum and the baseline
  in this process, on a client node): no target, for scale (``--no-nodes``
  skips them).

Run: ``python benchmarks/bench_quorum.py [--repeats 5] [--proposals 2000] [--uvloop]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).parent))

from _common import emit, paired_ratio, quiet_logging
from actors import ActorRef, ActorSystem
from actors.ledger import open_ledger
from actors.roles.quorum import Ballot, Decision, Propose, Quorum, QuorumConfig, Voter
from actors.roles.territories import MemoryLeaseStore

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

ROOT = Path(__file__).resolve().parent.parent
SECRET = "5d1e9a3c7b2f40e8a6c4d0b9e1f37a25"
SIZES = (3, 5, 9)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bare(voters: list[ActorRef[Any]], proposals: int, tag: str) -> tuple[float, list[float]]:
    """The raw baseline: the same ballots, asked with gather, yes votes counted."""
    latencies: list[float] = []
    need = len(voters) // 2 + 1
    clock = time.perf_counter
    started = clock()
    for i in range(proposals):
        begin = clock()
        pid = f"{tag}#{i}"
        ballots = [
            voter.ask(Ballot(pid, 1, f"t{i}", "h", 10.0, "", f"v{k}"), timeout=5.0)
            for k, voter in enumerate(voters)
        ]
        votes = await asyncio.gather(*ballots)
        assert sum(1 for vote in votes if vote.accept) >= need
        latencies.append(clock() - begin)
    return proposals / (clock() - started), latencies


async def decided(quorum: ActorRef[Any], proposals: int, tag: str) -> tuple[float, list[float]]:
    latencies: list[float] = []
    clock = time.perf_counter
    started = clock()
    for i in range(proposals):
        begin = clock()
        decision = await quorum.ask(Propose(f"{tag}/t{i}", "h", 10.0), timeout=5.0)
        assert isinstance(decision, Decision)
        assert decision.outcome == "granted", decision
        latencies.append(clock() - begin)
    return proposals / (clock() - started), latencies


async def measure(
    label: str,
    voters: list[ActorRef[Any]],
    spawn_quorum: Callable[[], Awaitable[ActorRef[Any]]],
    args: argparse.Namespace,
    loop: str,
) -> None:
    n = len(voters)
    runs: dict[str, list[tuple[float, list[float]]]] = {"base": [], "ours": []}
    counter = iter(range(1_000_000))

    async def one(kind: str) -> None:
        tag = f"{kind}{next(counter)}"
        if kind == "base":
            runs[kind].append(await bare(voters, args.proposals, tag))
        else:
            quorum = await spawn_quorum()
            runs[kind].append(await decided(quorum, args.proposals, tag))

    await one("base")  # warm-up, dropped
    await one("ours")
    runs = {"base": [], "ours": []}
    for rep in range(args.repeats):
        order = ("ours", "base") if rep % 2 else ("base", "ours")
        for kind in order:
            await one(kind)
    rates = {k: [r for r, _ in v] for k, v in runs.items()}
    p50 = {k: [pct(lat, 0.5) * 1e6 for _, lat in v] for k, v in runs.items()}
    p99 = {k: [pct(lat, 0.99) * 1e6 for _, lat in v] for k, v in runs.items()}
    common: dict[str, Any] = {"voters": n, "loop": loop, "proposals": args.proposals}
    if label:
        common["mode"] = label
    prefix = f"quorum_{label + '_' if label else ''}"
    target = {} if label else {"target_ratio": 0.5}
    emit(
        f"{prefix}decisions_per_s_{n}",
        statistics.median(rates["ours"]),
        "decisions/s",
        baseline=statistics.median(rates["base"]),
        baseline_name=f"bare fan-out: gather of {n} asks, yes votes counted",
        paired_ratio=paired_ratio(rates["ours"], rates["base"]),
        **target,
        **common,
    )
    for name, values in (("p50", p50), ("p99", p99)):
        emit(
            f"{prefix}latency_{name}_{n}",
            statistics.median(values["ours"]),
            "us",
            baseline=statistics.median(values["base"]),
            baseline_name=f"bare fan-out of {n} asks, {name}",
            higher_is_better=False,
            paired_ratio=paired_ratio(values["ours"], values["base"], higher_is_better=False),
            **common,
        )


async def in_process(args: argparse.Namespace, loop: str) -> None:
    ledgers: list[Any] = []  # one in-memory ledger per quorum, closed at the end
    async with ActorSystem("bench") as system:
        for n in SIZES:
            voters = [await system.spawn(Voter) for _ in range(n)]
            electorate = {"": {f"v{k}": ref for k, ref in enumerate(voters)}}

            async def spawn_quorum(electorate: Any = electorate) -> ActorRef[Any]:
                ledger = await open_ledger().__aenter__()
                ledgers.append(ledger)
                return await system.spawn(
                    Quorum,
                    QuorumConfig(timeout=5.0),
                    kwargs={"store": MemoryLeaseStore(), "ledger": ledger, "voters": electorate},
                )

            try:
                await measure("", voters, spawn_quorum, args, loop)
            finally:
                for ledger in ledgers:
                    await ledger.__aexit__(None, None, None)
                ledgers.clear()


# -- three node processes ---------------------------------------------------------------


async def node_app(ctx: Any) -> None:  # Any: actors.node.NodeContext
    """The --app of the voter nodes: three voters each."""
    for k in range(3):
        await ctx.system.spawn(Voter, name=f"voter{k}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_nodes(folder: Path) -> tuple[list[subprocess.Popen[str]], list[tuple[str, int]]]:
    secret = folder / "secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    ports = [free_port() for _ in range(3)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "benchmarks")]),
    }
    procs = []
    names = [f"b{k}" for k in range(3)]
    for name, port in zip(names, ports, strict=True):
        procs.append(
            subprocess.Popen(
                [
                    sys.executable, "-m", "actors.node",
                    "--name", name,
                    "--listen", f"127.0.0.1:{port}",
                    "--secret-file", str(secret),
                    "--data-dir", str(folder / name),
                    "--app", "bench_quorum:node_app",
                    "--log-format", "json",
                    "--log-level", "warning",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        )  # fmt: skip
    return procs, list(zip(names, ports, strict=True))


async def across_nodes(args: argparse.Namespace, loop: str) -> None:
    from actors.remote import RemoteNode

    with tempfile.TemporaryDirectory() as folder:
        procs, nodes = start_nodes(Path(folder))
        try:
            async with (
                ActorSystem("bench-client") as system,
                RemoteNode(system, name="bench-client", secret=SECRET) as client,
            ):
                everyone = [
                    client.ref(f"tadpole://{name}@127.0.0.1:{port}/user/voter{k}")
                    for k in range(3)
                    for name, port in nodes
                ]
                deadline = time.monotonic() + 30.0
                while True:  # the nodes are up once every voter answers
                    try:
                        await asyncio.gather(
                            *(
                                v.ask(Ballot("up", 1, "t", "h", 1.0, "", "v"), timeout=1.0)
                                for v in everyone
                            )
                        )
                        break
                    except Exception:
                        if time.monotonic() > deadline:
                            raise
                        await asyncio.sleep(0.2)
                for n in SIZES:
                    voters = everyone[:n]  # round-robin over the three nodes
                    electorate = {"": {f"v{k}": ref for k, ref in enumerate(voters)}}

                    async def spawn_quorum(electorate: Any = electorate) -> ActorRef[Any]:
                        return await system.spawn(
                            Quorum,
                            QuorumConfig(timeout=5.0),
                            kwargs={"store": MemoryLeaseStore(), "voters": electorate},
                        )

                    await measure("nodes", voters, spawn_quorum, args, loop)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--proposals", type=int, default=2000)
    parser.add_argument("--node-proposals", type=int, default=500)
    parser.add_argument("--no-nodes", action="store_true")
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    quiet_logging()
    loop = "uvloop" if args.uvloop else "asyncio"

    def run(coro: Any) -> None:
        if args.uvloop:
            import uvloop

            uvloop.run(coro)
        else:
            asyncio.run(coro)

    run(in_process(args, loop))
    if not args.no_nodes:
        node_args = argparse.Namespace(**{**vars(args), "proposals": args.node_proposals})
        run(across_nodes(node_args, loop))


if __name__ == "__main__":
    main()
