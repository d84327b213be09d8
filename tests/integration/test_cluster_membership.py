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
    PhiAccrualFailureDetector,
)
from actors.remote import MemoryNetwork, RemoteConfig, RemoteNode
from actors.testing import Simulation, simulate
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


# -- failure detection on virtual time, and supervision of the background work --------


async def _two_members_on_virtual_time(sim: Simulation, config: ClusterConfig) -> dict[str, Any]:
    """Two members heartbeat each other for a minute of virtual time; what they saw."""
    network = MemoryNetwork(clock=sim.clock)
    async with AsyncExitStack() as stack:
        clusters: list[Cluster] = []
        for name in ("a", "b"):
            system = await stack.enter_async_context(sim.system(name))
            node = await stack.enter_async_context(
                RemoteNode(
                    system,
                    secret=SECRET,
                    name=name,
                    transport=network.transport(name),
                    host=name,
                    config=RemoteConfig(handshake_timeout=1.0),
                )
            )
            seeds = [clusters[0].node.listen_address] if clusters else []
            clusters.append(
                await stack.enter_async_context(Cluster(node, seeds=seeds, config=config))
            )
        a, b = clusters
        await sim.sleep(5.0)
        early = b.statistics().heartbeats_received
        await sim.sleep(60.0)
        return {
            "early": early,
            "late": b.statistics().heartbeats_received,
            "a": a.statistics(),
            "b": b.statistics(),
            "members": [m.node for m in a.members],
        }


def test_membership_keeps_running_with_akkas_default_acceptable_pause() -> None:
    # With a 3 s acceptable pause the standardised time right after a heartbeat
    # is about -40: phi overflowed there, which ended the heartbeat task.
    config = ClusterConfig(heartbeat_interval=1.0, acceptable_pause=3.0)

    async def scenario(sim: Simulation) -> dict[str, Any]:
        return await _two_members_on_virtual_time(sim, config)

    with capture_logs() as logs:
        seen = simulate(scenario, seed=7).value
    assert seen["late"] - seen["early"] >= 55  # a's heartbeats kept coming, one a second
    assert seen["a"].heartbeats_received >= 60
    assert seen["members"] == ["a", "b"]
    assert seen["a"].unreachable == seen["b"].unreachable == 0
    assert seen["a"].task_failures == seen["b"].task_failures == 0
    events = {e["event"] for e in logs}
    assert "membership_task_failed" not in events
    assert "member_unreachable" not in events


async def test_a_fault_in_one_heartbeat_round_does_not_end_membership(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    network = MemoryNetwork()
    async with AsyncExitStack() as stack:
        a, b, _c = await start(stack, ["a", "b", "c"], network)
        probe = await Events.start(a.system)
        a.subscribe(probe.ref)
        for _ in range(3):
            await probe.expect(MemberUp, timeout=WAIT)
        check = a._check
        faults = []

        def faulty_check(now: float) -> None:
            if not faults:
                faults.append(now)
                raise RuntimeError("injected fault")
            check(now)

        monkeypatch.setattr(a, "_check", faulty_check)
        with capture_logs() as logs:
            await wait_until(lambda: bool(faults))
            sent = a.statistics().heartbeats_sent
            received = b.statistics().heartbeats_received
            # a keeps heartbeating and b keeps hearing it ...
            await wait_until(lambda: a.statistics().heartbeats_sent >= sent + 4)
            await wait_until(lambda: b.statistics().heartbeats_received >= received + 2)
            # ... and a still detects a failure and tells its subscribers.
            network.partition({"a", "b"}, {"c"})
            unreachable = await probe.expect(MemberUnreachable, timeout=WAIT)
            down = await probe.expect(MemberDown, timeout=WAIT)
        assert unreachable.node == down.node == "c"
        failed = [e for e in logs if e["event"] == "membership_task_failed"]
        assert len(failed) == 1
        assert failed[0]["node"] == "a"
        assert failed[0]["task"] == "heartbeats"
        assert failed[0]["log_level"] == "error"
        assert "injected fault" in failed[0]["error"]
        assert a.statistics().task_failures == 1


async def test_a_fault_while_joining_is_logged_and_the_join_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    network = MemoryNetwork()
    async with AsyncExitStack() as stack:
        (a,) = await start(stack, ["a"], network)
        system = await stack.enter_async_context(ActorSystem("b"))
        node = await stack.enter_async_context(
            RemoteNode(system, secret=SECRET, transport=network.transport("b"), host="b")
        )
        b = Cluster(node, seeds=[a.node.listen_address], config=FAST)
        merge = b._merge
        faults: list[int] = []

        def faulty_merge(members: Any) -> None:
            if not faults:
                faults.append(len(members))
                raise RuntimeError("injected fault")
            merge(members)

        monkeypatch.setattr(b, "_merge", faulty_merge)
        with capture_logs() as logs:
            await stack.enter_async_context(b)
            with anyio.fail_after(WAIT):
                await b.joined.wait()
            await wait_until(lambda: len(a.members) == len(b.members) == 2)
        assert faults
        failed = [e for e in logs if e["event"] == "membership_task_failed"]
        assert [(e["node"], e["task"]) for e in failed] == [("b", "join")]


async def test_a_fault_handling_a_heartbeat_is_logged_and_membership_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    network = MemoryNetwork()
    async with AsyncExitStack() as stack:
        a, b = await start(stack, ["a", "b"], network)
        merge = b._merge
        faults: list[int] = []

        def faulty_merge(members: Any) -> None:
            if not faults:
                faults.append(len(members))
                raise RuntimeError("injected fault")
            merge(members)

        with capture_logs() as logs:
            monkeypatch.setattr(b, "_merge", faulty_merge)
            await wait_until(lambda: bool(faults))
            received = b.statistics().heartbeats_received
            await wait_until(lambda: b.statistics().heartbeats_received >= received + 3)
        assert [m.reachable for m in b.members] == [True, True]
        failed = [e for e in logs if e["event"] == "membership_task_failed"]
        assert [(e["node"], e["task"]) for e in failed] == [("b", "message")]
        assert not any(e["event"] == "connection_closed" for e in logs)
        assert a.statistics().task_failures == b.statistics().task_failures - 1 == 0


class _BrokenDetector(PhiAccrualFailureDetector):
    __slots__ = ()

    def phi(self, now: float) -> float:
        raise RuntimeError("injected fault")


async def test_a_fault_checking_one_member_spares_the_others() -> None:
    network = MemoryNetwork()
    async with AsyncExitStack() as stack:
        a, _b, _c = await start(stack, ["a", "b", "c"], network)
        probe = await Events.start(a.system)
        a.subscribe(probe.ref)
        for _ in range(3):
            await probe.expect(MemberUp, timeout=WAIT)
        a._members["b"].detector = _BrokenDetector()
        with capture_logs() as logs:
            network.partition({"a", "b"}, {"c"})
            unreachable = await probe.expect(MemberUnreachable, timeout=WAIT)
            down = await probe.expect(MemberDown, timeout=WAIT)
        assert unreachable.node == down.node == "c"
        failed = [e for e in logs if e["event"] == "membership_task_failed"]
        # Checking b fails each round, and so does each heartbeat from b (its
        # detector is asked whether b was available when it arrived).
        checks = [e for e in failed if e["task"] == "heartbeats"]
        assert checks
        assert {(e["node"], e["member"]) for e in checks} == {("a", "b")}
        assert {(e["node"], e["peer"]) for e in failed if e["task"] == "message"} <= {("a", "b")}
        assert a.statistics().task_failures >= len(failed)
