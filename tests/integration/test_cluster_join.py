"""Joining a cluster: refusals that retrying cannot fix end the join, dead seeds are retried.

A node with a wrong secret, another cluster name or a name already taken is
refused by the seed; after ``join_attempts`` refusals in a row
:meth:`Cluster.wait_joined` raises :class:`JoinRefused`, and the seed warned
about it once, not once per attempt. A dead seed is retried with a growing
backoff, each round a ``join_retrying`` warning. The first seed of the list
forms the cluster when no other seed answers (Akka's seed-node rule: only the
first seed may join itself, so two halves of a starting cluster cannot each
form their own).
"""

from __future__ import annotations

import itertools
import socket
from contextlib import AsyncExitStack
from typing import Any

import anyio
import msgspec
import pytest
from structlog.testing import capture_logs

from actors import ActorSystem, SystemNotRunning
from actors.cluster import Cluster, ClusterConfig, JoinRefused
from actors.remote import MemoryNetwork, NodeNameConflict, RemoteNode
from actors.remote._memory import MemoryStream, _Pipe
from tests.helpers import OTHER_SECRET, SECRET, WAIT, wait_until

pytestmark = pytest.mark.anyio

FAST = ClusterConfig(
    heartbeat_interval=0.05,
    min_std_deviation=0.05,
    down_after=0.3,
    join_timeout=1.0,
    join_retry=0.02,
    join_retry_max=0.08,
)


SEEDS = itertools.count(1)
"""Each system its own seed: two nodes of one name must not draw the same uid."""


def dead_port() -> int:
    """A port on 127.0.0.1 nobody listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def node(
    stack: AsyncExitStack,
    name: str,
    *,
    secret: str = SECRET,
    cluster: str = "tadpole",
    port: int = 0,
) -> RemoteNode:
    system = await stack.enter_async_context(ActorSystem(name, seed=next(SEEDS)))
    return await stack.enter_async_context(
        RemoteNode(system, name=name, secret=secret, cluster=cluster, port=port)
    )


async def member(
    stack: AsyncExitStack,
    remote: RemoteNode,
    seeds: list[tuple[str, int]],
    config: ClusterConfig = FAST,
) -> Cluster:
    return await stack.enter_async_context(Cluster(remote, seeds=seeds, config=config))


async def seed_and_member(
    stack: AsyncExitStack, name: str
) -> tuple[RemoteNode, Cluster, RemoteNode]:
    """A seed and one member called ``name`` that it has counted in: (seed, its
    cluster, the member's node)."""
    seed = await node(stack, "seed")
    seeding = await member(stack, seed, [])
    first = await node(stack, name)
    await member(stack, first, [seed.listen_address])
    await wait_until(lambda: len(seeding.members) == 2)
    return seed, seeding, first


@pytest.mark.parametrize(
    ("secret", "cluster", "reason"),
    [
        (OTHER_SECRET, "tadpole", "authentication"),
        (SECRET, "other", "cluster_mismatch"),
    ],
)
async def test_a_misconfigured_node_gives_up_after_three_refusals_and_the_seed_warns_once(
    secret: str, cluster: str, reason: str
) -> None:
    async with AsyncExitStack() as stack:
        with capture_logs() as logs:
            seed = await node(stack, "seed")
            await member(stack, seed, [])
            joiner = await node(stack, "joiner", secret=secret, cluster=cluster)
            joining = await member(stack, joiner, [seed.listen_address])
            with anyio.fail_after(WAIT), pytest.raises(JoinRefused) as refused:
                await joining.wait_joined()
        assert refused.value.reason == reason
        assert refused.value.attempts == FAST.join_attempts == 3
        assert not joining.joined.is_set()
        refusals = [e for e in logs if e["event"] == "join_refused" and e["node"] == "joiner"]
        assert [e["attempt"] for e in refusals] == [1, 2, 3]
        rejected = [e for e in logs if e["event"] == "connection_rejected" and e["node"] == "seed"]
        assert len(rejected) == 3  # one per attempt ...
        assert [e["log_level"] for e in rejected] == [
            "warning",
            "debug",
            "debug",
        ]  # ... warned once


async def test_a_second_node_under_a_members_name_is_refused_and_the_member_stays() -> None:
    async with AsyncExitStack() as stack:
        seed, seeding, first = await seed_and_member(stack, "twin")
        with capture_logs() as logs:
            second = await node(stack, "twin")
            joining = await member(stack, second, [seed.listen_address])
            with anyio.fail_after(WAIT), pytest.raises(JoinRefused) as refused:
                await joining.wait_joined()
        assert refused.value.reason == "duplicate_name"
        assert first.address in str(refused.value)
        assert [m.address for m in seeding.members if m.node == "twin"] == [first.address]
        assert not [e for e in logs if e["event"] == "member_down"]
        # Refused at the handshake, before the Join: warned once per minute.
        warned = [e for e in logs if e["event"] == "connection_rejected" and e["node"] == "seed"]
        assert [e["log_level"] for e in warned] == ["warning", "debug", "debug"]
        assert {e["reason"] for e in warned} == {"duplicate_name"}


async def test_a_seed_under_the_joiners_own_name_is_a_duplicate() -> None:
    async with AsyncExitStack() as stack:
        seed = await node(stack, "same")
        await member(stack, seed, [])
        other = await node(stack, "same")
        joining = await member(stack, other, [seed.listen_address])
        with anyio.fail_after(WAIT), pytest.raises(JoinRefused) as refused:
            await joining.wait_joined()
        assert refused.value.reason == "duplicate_name"


async def test_contact_with_a_node_of_the_same_name_says_whether_it_is_itself() -> None:
    async with AsyncExitStack() as stack:
        one = await node(stack, "same")
        two = await node(stack, "same")
        with pytest.raises(NodeNameConflict) as other:
            await one.contact(*two.listen_address)
        assert other.value.itself is False
        with pytest.raises(NodeNameConflict) as itself:
            await one.contact(*one.listen_address)
        assert itself.value.itself is True


async def test_a_dead_seed_is_retried_with_a_growing_backoff_at_warning() -> None:
    async with AsyncExitStack() as stack:
        joiner = await node(stack, "joiner")
        with capture_logs() as logs:
            joining = await member(stack, joiner, [("127.0.0.1", dead_port())])
            await wait_until(
                lambda: sum(e["event"] == "join_retrying" for e in logs) >= 4, timeout=WAIT
            )
        assert not joining.joined.is_set()
        retries = [e for e in logs if e["event"] == "join_retrying"]
        assert {e["log_level"] for e in retries} == {"warning"}
        assert [e["attempt"] for e in retries[:4]] == [1, 2, 3, 4]
        # base 0.02 doubling to the cap 0.08, each within the 20% jitter
        for entry, raw in zip(retries, [0.02, 0.04, 0.08, 0.08], strict=False):
            assert raw * 0.8 <= entry["retry_in"] <= raw * 1.2
        assert "ConnectionRefusedError" in str(retries[0]["errors"])


async def test_the_first_seed_forms_the_cluster_when_no_other_seed_answers() -> None:
    """Akka's rule: the first seed node joins itself when no other seed responds."""
    async with AsyncExitStack() as stack:
        port = dead_port()
        first = await node(stack, "first", port=port)
        joining = await member(stack, first, [("127.0.0.1", port), ("127.0.0.1", dead_port())])
        with anyio.fail_after(WAIT):
            await joining.wait_joined()
        assert joining.joined.is_set()


async def test_a_seed_that_is_not_first_waits_for_the_others() -> None:
    """Akka's rule, the other half: a seed later in the list never forms a cluster alone."""
    async with AsyncExitStack() as stack:
        port = dead_port()
        second = await node(stack, "second", port=port)
        with capture_logs() as logs:
            joining = await member(stack, second, [("127.0.0.1", dead_port()), ("127.0.0.1", port)])
            await wait_until(
                lambda: sum(e["event"] == "join_retrying" for e in logs) >= 3, timeout=WAIT
            )
        assert not joining.joined.is_set()


async def test_leaving_while_joining_ends_the_wait() -> None:
    async with AsyncExitStack() as stack:
        joiner = await node(stack, "joiner")
        joining = await member(stack, joiner, [("127.0.0.1", dead_port())])
        await joining.leave()
        with anyio.fail_after(WAIT), pytest.raises(SystemNotRunning, match="before it joined"):
            await joining.wait_joined()


async def test_the_join_config_is_checked() -> None:
    for bad in ({"join_attempts": 0}, {"join_attempts": 1.5}, {"join_retry_max": 0.1}):
        kwargs: dict[str, Any] = {"join_retry": 0.5, **bad}
        with pytest.raises(ValueError, match="join_"):
            ClusterConfig(**kwargs)


async def test_an_impostor_under_a_live_members_name_never_takes_its_connection() -> None:
    async with AsyncExitStack() as stack:
        seed, _, first = await seed_and_member(stack, "twin")
        await wait_until(lambda: seed.peers().get("twin", False))
        held = seed._peers["twin"].conn
        with capture_logs() as logs:
            second = await node(stack, "twin")
            impostor = await member(stack, second, [seed.listen_address])
            with anyio.fail_after(WAIT), pytest.raises(JoinRefused) as refused:
                await impostor.wait_joined()
            # What the seed sends to "twin" meanwhile still goes to the member.
            beats = impostor.statistics().heartbeats_received
        assert refused.value.reason == "duplicate_name"
        assert first.address in str(refused.value)
        assert held is not None
        assert seed._peers["twin"].conn is held
        assert not held.closed
        replaced = [e for e in logs if e["event"] == "connection_closed" and e["node"] == "seed"]
        assert replaced == []
        assert not [e for e in logs if e["event"] == "connection_opened" and e["node"] == "seed"]
        assert beats == 0
        rejected = [e for e in logs if e["event"] == "connection_rejected" and e["node"] == "seed"]
        assert {e["reason"] for e in rejected} == {"duplicate_name"}
        assert [e["log_level"] for e in rejected][:1] == ["warning"]


TRUSTING = msgspec.structs.replace(FAST, acceptable_pause=30.0)
"""The seed's detector trusts a silent member for 30 s: the handshake's own check decides."""


async def memory_node(
    stack: AsyncExitStack, network: MemoryNetwork, name: str, host: str, port: int = 0
) -> RemoteNode:
    system = await stack.enter_async_context(ActorSystem(name, seed=next(SEEDS)))
    return await stack.enter_async_context(
        RemoteNode(
            system,
            name=name,
            secret=SECRET,
            transport=network.transport(host),
            host=host,
            port=port,
        )
    )


def half_open(network: MemoryNetwork, local: str, remote: str) -> tuple[MemoryStream, object]:
    """Cut ``local``'s end of its connection to ``remote`` off the wire, leaving the far
    end open: what ``local`` sends, or closing, never reaches ``remote`` (a lost FIN)."""
    end = next(s for s in network._streams if (s.local_host, s.remote_host) == (local, remote))
    kept = (end._out, end._in)
    end._out, end._in = _Pipe(), _Pipe()
    return end, kept


async def test_a_member_restarted_at_its_address_replaces_its_half_open_connection() -> None:
    network = MemoryNetwork()
    async with AsyncExitStack() as stack:
        seed = await memory_node(stack, network, "seed", "seedhost")
        seeding = await member(stack, seed, [], TRUSTING)
        async with AsyncExitStack() as old:
            first = await memory_node(old, network, "twin", "twinhost")
            port = first.listen_address[1]
            await member(old, first, [seed.listen_address])
            await wait_until(lambda: len(seeding.members) == 2)
            held = seed._peers["twin"].conn
            _, kept = half_open(network, "twinhost", "seedhost")
            old_uid = next(m for m in seeding._members.values()).info.uid
        assert held is not None
        assert not held.closed  # the seed has not noticed
        with capture_logs() as logs:
            second = await memory_node(stack, network, "twin", "twinhost", port)
            joining = await member(stack, second, [seed.listen_address])
            with anyio.fail_after(WAIT):
                await joining.wait_joined()
            await wait_until(lambda: seeding._members["twin"].info.uid != old_uid)
        assert held.closed
        assert held.reason == "replaced"
        assert seed._peers["twin"].conn is not held
        assert [m.address for m in seeding.members if m.node == "twin"] == [second.address]
        assert not [e for e in logs if e["event"] == "connection_rejected"]
        assert kept  # the far end's pipes stay referenced, so it stays open


async def test_a_live_member_redialling_past_its_half_open_connection_replaces_it() -> None:
    network = MemoryNetwork()
    async with AsyncExitStack() as stack:
        seed = await memory_node(stack, network, "seed", "seedhost")
        seeding = await member(stack, seed, [], TRUSTING)
        twin = await memory_node(stack, network, "twin", "twinhost")
        twinning = await member(stack, twin, [seed.listen_address])
        await wait_until(lambda: len(seeding.members) == 2)
        held = seed._peers["twin"].conn
        assert held is not None
        with capture_logs() as logs:
            _, kept = half_open(network, "twinhost", "seedhost")
            own = twin._peers["seed"].conn
            assert own is not None
            own.close("reset")  # the twin's end goes; the seed's stays open
            await wait_until(lambda: held.closed)
            await wait_until(lambda: seed.peers().get("twin", False))
            beats = seeding.statistics().heartbeats_received
            await wait_until(lambda: seeding.statistics().heartbeats_received > beats)
        assert held.reason == "replaced"
        assert twinning.joined.is_set()
        assert [m.node for m in seeding.members] == ["seed", "twin"]
        assert not [e for e in logs if e["event"] in ("connection_rejected", "member_down")]
        assert kept


async def test_a_member_redialling_past_an_impostor_that_slipped_in_takes_its_name_back() -> None:
    network = MemoryNetwork()
    async with AsyncExitStack() as stack:
        seed = await memory_node(stack, network, "seed", "seedhost")
        seeding = await member(stack, seed, [], TRUSTING)
        twin = await memory_node(stack, network, "twin", "twinhost")
        await member(stack, twin, [seed.listen_address])
        await wait_until(lambda: len(seeding.members) == 2)
        # While the member has no connection to the seed, an impostor's is accepted
        # (nothing to replace); its Join is refused.
        network.partition({"twinhost"}, {"seedhost", "otherhost"})
        await wait_until(lambda: not seed.peers().get("twin", False))
        impostor = await memory_node(stack, network, "twin", "otherhost")
        impostoring = await member(stack, impostor, [seed.listen_address])
        with anyio.fail_after(WAIT), pytest.raises(JoinRefused) as refused:
            await impostoring.wait_joined()
        assert refused.value.reason == "duplicate_name"
        slipped = seed._peers["twin"].conn
        assert slipped is not None
        # The member is back: the impostor answers as another incarnation, so the
        # member's connection replaces the impostor's.
        network.heal()
        await wait_until(lambda: slipped.closed)
        assert slipped.reason == "replaced"
        await wait_until(lambda: seed.peers().get("twin", False))
        assert [m.address for m in seeding.members if m.node == "twin"] == [twin.address]
