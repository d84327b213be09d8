"""Quorum safety across three nodes on the in-memory network, on virtual time.

The same invariants as ``test_quorum_simulation.py``, with real nodes: n0
runs two quorum actors (one lease store, one record list), the guarded
resource and the agents; every node runs voters, reached over the in-memory
network (the same envelopes as over TCP). Faults, all drawn from the seed:
network delay, dropped connections, partitions that heal, a voter node that
crashes and restarts on a new port (its voters registered again by their new
address), slow voters. Checked after every run on the records: one holder at
a time per territory, consecutive tokens, one outcome per proposal, the
answers given are the ones recorded, the lease table replays.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import TYPE_CHECKING, Any

import anyio
import pytest
import structlog

from actors import Actor, ActorSystem
from actors.remote import MemoryNetwork, RemoteConfig, RemoteNode
from actors.roles.quorum import (
    Ballot,
    Decision,
    ProposalRefused,
    Propose,
    Quorum,
    QuorumConfig,
    RegisterVoter,
    Vote,
)
from actors.roles.territories import AttachGuard, MemoryLeaseStore, StaleFencingToken
from actors.testing import Simulation, simulate
from protocol import Message
from tests.helpers import SECRET
from tests.integration.quorum_harness import check_run, fenced_resource
from tests.quorum_ledger import ListSink

if TYPE_CHECKING:
    import random
    from collections.abc import Iterator

NODES = ("n0", "n1", "n2")
TERRITORIES = ("a", "b")
TIMEOUT = 0.5
TTL = 1.5
SEEDS = int(os.environ.get("TADPOLE_QUORUM_SEEDS", "0"))


class Write(Message, tag="test.quorum.cluster.write"):
    territory: str
    fencing_token: int
    holder: str


class SimVoter(Actor[Any]):
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    async def receive(self, message: Any) -> Any:
        if type(message) is not Ballot:
            return None
        if self.rng.random() < 0.2:
            await anyio.sleep(self.rng.uniform(0.0, TIMEOUT * 1.5))
        return Vote(message.proposal, message.voter, self.rng.random() < 0.8, message.round)


async def scenario(sim: Simulation) -> dict[str, int]:
    rng = sim.random
    network = MemoryNetwork(clock=sim.clock)
    network.delay = rng.choice([0.0, 0.001, 0.02])
    store = MemoryLeaseStore()
    sink = ListSink()
    config = QuorumConfig(
        threshold=rng.choice([None, 0.5, 4]),
        timeout=TIMEOUT,
        default_ttl=TTL,
        max_ttl=TTL,
        fallback=rng.choice(["deny", "retry", "defer"]),
        retries=1,
        backoff=0.1,
    )
    nodes: dict[str, RemoteNode] = {}
    systems: dict[str, ActorSystem] = {}
    stops: dict[str, anyio.Event] = {}
    gone: dict[str, anyio.Event] = {}
    violations: list[str] = []
    received: dict[str, Decision] = {}
    counts = {"granted": 0, "rejected": 0, "failed": 0, "accepted": 0, "lost": 0}

    async def run_node(name: str, ready: anyio.Event, stop: anyio.Event) -> None:
        # Each node lives in a task of its own: its scopes open and close in that task.
        try:
            await serve_node(name, ready, stop)
        finally:
            gone[name].set()

    async def serve_node(name: str, ready: anyio.Event, stop: anyio.Event) -> None:
        async with (
            sim.system(name, maintenance_workers=0) as system,
            RemoteNode(
                system,
                secret=SECRET,
                name=name,
                transport=network.transport(name),
                host=name,
                config=RemoteConfig(handshake_timeout=0.5),
            ) as node,
        ):
            for i in range(2):
                await system.spawn(SimVoter, sim.random_for(f"{name}/{i}"), name=f"voter{i}")
            nodes[name], systems[name] = node, system
            ready.set()
            await stop.wait()

    async with anyio.create_task_group() as hosting:

        async def start_node(name: str) -> None:
            ready = anyio.Event()
            stops[name], gone[name] = anyio.Event(), anyio.Event()
            hosting.start_soon(run_node, name, ready, stops[name])
            await ready.wait()

        for name in NODES:
            await start_node(name)
        home = systems["n0"]
        resource = await fenced_resource(home, store, TERRITORIES, counts, violations)
        options = {"store": store, "ledger": sink}
        quorums = [await home.spawn(Quorum, config, kwargs=options) for _ in range(2)]

        async def register(name: str) -> None:
            for quorum in quorums:
                for i in range(2):
                    address = f"/user/voter{i}"
                    if name != "n0":
                        address = nodes[name].address + address
                    await quorum.ask(RegisterVoter(f"{name}.{i}", address))

        for quorum in quorums:
            assert await quorum.ask(AttachGuard(resource.path))
        for name in NODES:
            await register(name)
        serial = 0

        async def agent(name: str, agent_rng: random.Random) -> None:
            nonlocal serial
            for _ in range(4):
                serial += 1
                pid = f"{name}#{serial}"
                territory = agent_rng.choice(TERRITORIES)
                quorum = agent_rng.choice(quorums)
                try:
                    decision = await quorum.ask(
                        Propose(territory, name, TTL, proposal=pid), timeout=TIMEOUT * 8
                    )
                except Exception:
                    counts["lost"] += 1
                    continue
                if isinstance(decision, ProposalRefused):
                    continue
                received[pid] = decision
                counts[decision.outcome] += 1
                lease = decision.lease
                if lease is None:
                    await sim.sleep(agent_rng.uniform(0.05, 0.3))
                    continue
                for _ in range(agent_rng.randint(1, 3)):
                    await sim.sleep(agent_rng.choice([0.2, 0.6, 1.2]))
                    with contextlib.suppress(StaleFencingToken):
                        resource.tell(Write(territory, lease.token, name))

        async def operator() -> None:
            op = sim.random_for("operator")
            for _ in range(3):
                await sim.sleep(op.uniform(0.2, 1.0))
                roll = op.random()
                if roll < 0.35:
                    network.partition({"n0"}, {"n1", "n2"} - {op.choice(("n1", "n2"))})
                    await sim.sleep(op.uniform(0.3, 1.2))
                    network.heal()
                elif roll < 0.55:
                    network.drop(op.choice(NODES[1:]))
                else:
                    victim = op.choice(NODES[1:])  # crashes, comes back on a new port
                    stops[victim].set()
                    await gone[victim].wait()
                    await sim.sleep(op.uniform(0.1, 0.8))
                    await start_node(victim)
                    await register(victim)

        async with anyio.create_task_group() as tasks:
            for i in range(3):
                tasks.start_soon(agent, f"agent{i}", sim.random_for(f"agent{i}"))
            tasks.start_soon(operator)
        for stop in stops.values():
            stop.set()

    entries = sink.entries
    violations += check_run(entries, received, store, tokens=False)[0]
    assert violations == [], violations[:5]
    return counts


@pytest.fixture
def quiet() -> Iterator[None]:
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    try:
        yield
    finally:
        structlog.configure(**saved)


@pytest.mark.usefixtures("quiet")
def test_never_two_holders_across_nodes_with_partitions_and_crashes() -> None:
    totals = dict.fromkeys(("granted", "rejected", "failed", "accepted"), 0)
    for seed in range(100):
        counts = simulate(scenario, seed=seed).value
        for key in totals:
            totals[key] += counts[key]
    assert all(value > 0 for value in totals.values()), totals


@pytest.mark.slow
@pytest.mark.usefixtures("quiet")
@pytest.mark.skipif(SEEDS <= 2000, reason="more seeds: TADPOLE_QUORUM_SEEDS=20000")
def test_never_two_holders_across_nodes_over_many_seeds() -> None:
    for seed in range(100, SEEDS // 10):
        simulate(scenario, seed=seed)
