"""Cluster membership over the in-memory transport and over TCP."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from actors import Actor, ActorSystem
from actors.cluster import (
    Cluster,
    ClusterConfig,
    MemberDown,
    MemberLeft,
    MemberUnreachable,
    MemberUp,
)
from actors.remote import MemoryNetwork, RemoteConfig, RemoteNode
from tests.helpers import SECRET, WAIT, wait_until

pytestmark = pytest.mark.anyio


class Probe(Actor[Any]):
    """Collects what it receives; the test awaits the next one with a timeout that fails."""

    def __init__(self, queue: asyncio.Queue[Any]) -> None:
        self.queue = queue

    async def receive(self, message: Any) -> None:
        self.queue.put_nowait(message)


class Events:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.ref: Any = None

    @classmethod
    async def start(cls, system: ActorSystem) -> Events:
        events = cls()
        events.ref = await system.spawn(Probe, events.queue)
        return events

    async def expect(self, kind: type[Any], timeout: float) -> Any:
        with anyio.fail_after(timeout):
            message = await self.queue.get()
        assert isinstance(message, kind), message
        return message


FAST = ClusterConfig(heartbeat_interval=0.05, min_std_deviation=0.05, down_after=0.3)


async def start(
    stack: AsyncExitStack, names: list[str], network: MemoryNetwork | None = None
) -> list[Cluster]:
    clusters: list[Cluster] = []
    seeds: list[tuple[str, int]] = []
    for name in names:
        system = await stack.enter_async_context(ActorSystem(name, seed=len(clusters)))
        kwargs: dict[str, Any] = {}
        if network is not None:
            kwargs = {"transport": network.transport(name), "host": name}
        node = await stack.enter_async_context(
            RemoteNode(system, secret=SECRET, config=RemoteConfig(handshake_timeout=1.0), **kwargs)
        )
        if not seeds:
            seeds.append(node.listen_address)
        clusters.append(await stack.enter_async_context(Cluster(node, seeds=seeds, config=FAST)))
    for cluster in clusters:
        await wait_until(lambda c=cluster: len(c.members) == len(names))  # type: ignore[misc]
    return clusters


async def test_nodes_join_through_a_seed_and_subscribers_get_member_up() -> None:
    async with AsyncExitStack() as stack:
        with capture_logs() as logs:
            a, _b, c = await start(stack, ["a", "b", "c"])
        probe = await Events.start(a.system)
        a.subscribe(probe.ref)
        ups = {(await probe.expect(MemberUp, timeout=WAIT)).node for _ in range(3)}
        assert ups == {"a", "b", "c"}
        assert {m.node for m in c.members} == {"a", "b", "c"}
        seen = {(e["node"], e["member"]) for e in logs if e["event"] == "member_up"}
        assert {(n, m) for n in "abc" for m in "abc"} <= seen
        assert a.statistics().members == 3


async def test_partitioned_member_becomes_unreachable_then_down() -> None:
    network = MemoryNetwork()
    async with AsyncExitStack() as stack:
        a, b, c = await start(stack, ["a", "b", "c"], network)
        probe = await Events.start(a.system)
        a.subscribe(probe.ref)
        for _ in range(3):
            await probe.expect(MemberUp, timeout=WAIT)
        with capture_logs() as logs:
            network.partition({"a", "b"}, {"c"})
            unreachable = await probe.expect(MemberUnreachable, timeout=WAIT)
            down = await probe.expect(MemberDown, timeout=WAIT)
        assert unreachable.node == down.node == "c"
        assert [e["event"] for e in logs if e.get("node") == "a" and e.get("member") == "c"] == [
            "member_unreachable",
            "member_down",
        ]
        await wait_until(lambda: len(b.members) == 2)
        await wait_until(lambda: len(c.members) == 1)  # c saw the others down too
        # A downed incarnation is never readmitted by gossip once healed.
        network.heal()
        await a.system.clock.sleep(5 * FAST.heartbeat_interval)
        assert {m.node for m in a.members} == {"a", "b"}


async def test_graceful_leave_is_member_left_everywhere() -> None:
    async with AsyncExitStack() as stack:
        a, b, c = await start(stack, ["a", "b", "c"])
        probe = await Events.start(a.system)
        a.subscribe(probe.ref)
        for _ in range(3):
            await probe.expect(MemberUp, timeout=WAIT)
        with capture_logs() as logs:
            await c.leave()
            left = await probe.expect(MemberLeft, timeout=WAIT)
        assert left.node == "c"
        assert len(a.members) == len(b.members) == 2
        assert {e["node"] for e in logs if e["event"] == "member_left"} == {"a", "b", "c"}
        assert not any(e["event"] == "member_down" for e in logs)


async def test_a_node_with_no_reachable_seed_keeps_trying_then_joins() -> None:
    network = MemoryNetwork()
    async with AsyncExitStack() as stack:
        sa = await stack.enter_async_context(ActorSystem("a"))
        sb = await stack.enter_async_context(ActorSystem("b"))
        na = await stack.enter_async_context(
            RemoteNode(sa, secret=SECRET, transport=network.transport("a"), host="a")
        )
        nb = await stack.enter_async_context(
            RemoteNode(sb, secret=SECRET, transport=network.transport("b"), host="b")
        )
        network.partition({"a"}, {"b"})
        cb = await stack.enter_async_context(Cluster(nb, seeds=[na.listen_address], config=FAST))
        await stack.enter_async_context(Cluster(na, seeds=[na.listen_address], config=FAST))
        await nb.system.clock.sleep(0.2)
        assert not cb.joined.is_set()
        network.heal()
        with anyio.fail_after(WAIT):
            await cb.joined.wait()
        await wait_until(lambda: len(cb.members) == 2)
