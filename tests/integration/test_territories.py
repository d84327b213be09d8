"""The territory manager in an actor system: leases, fencing at the mailbox, heat, ledger."""

from __future__ import annotations

from typing import Any

import pytest

from actors import Actor, ActorSystem
from actors.ledger import Reducers, open_ledger
from actors.lowlevel import filter_statistics
from actors.roles.territories import (
    FENCE_REFUSED,
    HEAT_ALERT,
    LEASE_EXPIRED,
    LEASE_GRANTED,
    LEASE_REFUSED,
    TERRITORY_EVENTS,
    AddTerritories,
    Contention,
    FencedActor,
    GetAssignment,
    GetHeat,
    GetLeases,
    GetStatistics,
    HeatAlert,
    HeatCleared,
    HeatConfig,
    Join,
    LeaseEnded,
    LeaseExpired,
    LeaseNotHeld,
    LeaseRefused,
    Leave,
    MemoryLeaseStore,
    Rebalance,
    StaleFencingToken,
    Territory,
    TerritoryConfig,
    TerritoryManager,
    acquire,
    balance,
    guard,
    lease_table_reducers,
    release,
    renew,
)
from actors.testing import Probe, Simulation, simulate
from protocol import Message

pytestmark = pytest.mark.anyio


class Write(Message, tag="test.territories.write"):
    territory: str
    fencing_token: int
    value: str


class Store(Actor[Any]):
    """A guarded resource: keeps what it was written."""

    def __init__(self, written: list[str]) -> None:
        self.written = written

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Write):
            self.written.append(message.value)
            return "ok"
        return None


class GuardedStore(FencedActor):
    guards = ("repo/a",)

    def __init__(self, written: list[str]) -> None:
        self.written = written

    async def receive(self, message: Any) -> Any:
        self.written.append(message.value)
        return "ok"


async def test_acquire_renew_release_with_increasing_tokens() -> None:
    async with ActorSystem("t") as system:
        manager = await system.spawn(TerritoryManager, TerritoryConfig(default_ttl=30.0))
        first = await acquire(manager, "repo/a", "alice")
        assert first.token == 1
        with pytest.raises(LeaseRefused, match="held by 'alice'"):
            await acquire(manager, "repo/a", "bob")
        renewed = await renew(manager, first, ttl=60.0)
        assert renewed.token == 1
        assert renewed.expires > first.expires
        await release(manager, renewed)
        with pytest.raises(LeaseNotHeld, match="'alice' does not hold"):
            await release(manager, renewed)
        second = await acquire(manager, "repo/a", "bob")
        assert second.token == 2
        stats = await manager.ask(GetStatistics())
        assert (stats.granted, stats.renewed, stats.released, stats.refused) == (2, 1, 1, 2)


async def test_a_bad_ttl_is_refused_by_name_and_changes_nothing() -> None:
    async with ActorSystem("t") as system:
        manager = await system.spawn(TerritoryManager, TerritoryConfig(max_ttl=10.0))
        with pytest.raises(ValueError, match="ttl"):
            await acquire(manager, "t", "a", ttl=-1.0)
        with pytest.raises(ValueError, match="ttl"):
            await acquire(manager, "t", "a", ttl=11.0)
        assert (await manager.ask(GetLeases()))["leases"] == {}
        assert (await acquire(manager, "t", "a", ttl=5.0)).token == 1


async def test_a_stale_token_is_refused_at_the_mailbox_before_receive() -> None:
    async with ActorSystem("t") as system:
        manager = await system.spawn(TerritoryManager, TerritoryConfig(default_ttl=30.0))
        written: list[str] = []
        resource = await system.spawn(Store, written)
        fence = guard(resource, ["repo/a"])
        old = await acquire(manager, "repo/a", "alice")
        assert await resource.ask(Write("repo/a", old.token, "alice-1")) == "ok"
        await release(manager, old)
        new = await acquire(manager, "repo/a", "bob")
        assert await resource.ask(Write("repo/a", new.token, "bob-1")) == "ok"
        with pytest.raises(StaleFencingToken) as refused:
            await resource.ask(Write("repo/a", old.token, "alice-2"))
        assert (refused.value.territory, refused.value.token, refused.value.highest) == (
            "repo/a",
            1,
            2,
        )
        assert "territory 'repo/a'" in str(refused.value)
        with pytest.raises(StaleFencingToken):
            resource.tell(Write("repo/a", old.token, "alice-3"))
        assert await resource.ask(Write("other", 0, "unguarded")) == "ok"
        assert written == ["alice-1", "bob-1", "unguarded"]
        assert fence.refused == 2
        assert filter_statistics(resource).refused == 2


async def test_a_released_lease_is_revoked_at_attached_guards_before_any_newer_write() -> None:
    async with ActorSystem("t") as system:
        manager_actor: list[TerritoryManager] = []

        def make() -> TerritoryManager:
            made = TerritoryManager(TerritoryConfig(default_ttl=30.0))
            manager_actor.append(made)
            return made

        manager = await system.spawn(make)
        written: list[str] = []
        resource = await system.spawn(GuardedStore, written)
        fence = guard(resource)
        await manager.ask(GetStatistics())
        manager_actor[-1].attach_guard(fence)
        lease = await acquire(manager, "repo/a", "alice")
        await release(manager, lease)
        # Nobody else wrote yet: the release alone revokes alice's token.
        with pytest.raises(StaleFencingToken, match="highest seen is 2"):
            await resource.ask(Write("repo/a", lease.token, "late"))
        assert written == []
        stats = await manager.ask(GetStatistics())
        assert stats.stale_refused == 1


async def test_contention_heats_a_territory_until_an_alert_is_published_and_recorded() -> None:
    async with open_ledger() as ledger, ActorSystem("t") as system:
        probe = await Probe.start(system)
        system.topics.subscribe(TERRITORY_EVENTS, probe.ref)
        config = TerritoryConfig(default_ttl=30.0, heat=HeatConfig(half_life=600.0, threshold=2.5))
        manager = await system.spawn(TerritoryManager, config, kwargs={"ledger": ledger})
        await acquire(manager, "hot", "alice")
        for agent in ("bob", "carol"):
            with pytest.raises(LeaseRefused):
                await acquire(manager, "hot", agent)
        manager.tell(Contention("hot"))
        alert = await probe.expect(HeatAlert)
        assert alert.territory == "hot"
        assert alert.heat >= 2.5
        heat = await manager.ask(GetHeat())
        assert heat.alerted == ("hot",)
        await ledger.flush()
        kinds = (await ledger.replay(_kinds_reducers())).state["kinds"]
        assert kinds.count(LEASE_REFUSED) == 2
        assert HEAT_ALERT in kinds
        assert kinds[0] == LEASE_GRANTED


def _kinds_reducers() -> Reducers[dict[str, Any]]:
    return Reducers(
        "test.kinds",
        initial=lambda: {"kinds": []},
        fallback=lambda state, record: {"kinds": [*state["kinds"], record.kind]},
    )


async def test_the_ledger_replays_to_the_lease_table_and_a_new_manager_continues_tokens() -> None:
    async with open_ledger() as ledger, ActorSystem("t") as system:
        manager = await system.spawn(
            TerritoryManager, TerritoryConfig(default_ttl=30.0), kwargs={"ledger": ledger}
        )
        leases = [await acquire(manager, f"t{i % 3}", f"agent{i}") for i in range(3)]
        await renew(manager, leases[0])
        await release(manager, leases[1])
        await acquire(manager, "t1", "agent9")
        table = await manager.ask(GetLeases())
        await ledger.flush()
        replayed = await ledger.replay(lease_table_reducers())
        assert replayed.encoded == lease_table_reducers().encode_state(table)
        await system.stop(manager)
        # A new manager with no store of its own rebuilds one from the ledger.
        again = await system.spawn(
            TerritoryManager, TerritoryConfig(default_ttl=30.0), kwargs={"ledger": ledger}
        )
        assert await again.ask(GetLeases()) == table
        await release(again, await renew(again, leases[0]))
        assert (await acquire(again, "t0", "next")).token == 2


async def test_a_restarted_manager_keeps_its_store_and_tokens() -> None:
    store = MemoryLeaseStore()
    async with ActorSystem("t") as system:
        manager = await system.spawn(TerritoryManager, kwargs={"store": store})
        first = await acquire(manager, "t", "a")
        await system.stop(manager)
        manager = await system.spawn(TerritoryManager, kwargs={"store": store})
        await release(manager, first)  # the lease outlived the manager
        assert (await acquire(manager, "t", "b")).token == 2


async def test_membership_changes_reassign_and_report_movement() -> None:
    async with ActorSystem("t") as system:
        territories = tuple(Territory(f"f{i}") for i in range(300))
        manager = await system.spawn(TerritoryManager, kwargs={"territories": territories})
        for agent in ("a", "b", "c"):
            await manager.ask(Join(agent))
        before = await manager.ask(GetAssignment())
        assert set(before.owners.values()) == {"a", "b", "c"}
        joined = await manager.ask(Join("d"))
        assert 0 < joined.moved < 150
        assert all(
            joined.owners[t] == "d" for t in joined.owners if before.owners[t] != joined.owners[t]
        )
        left = await manager.ask(Leave("d"))
        assert left.owners == before.owners
        added = await manager.ask(AddTerritories((Territory("new"),)))
        assert "new" in added.owners
        assert added.balance.max_over_mean >= 1.0


def test_maintenance_reclaims_an_expired_lease_within_one_period_on_virtual_time() -> None:
    async def scenario(sim: Simulation) -> tuple[float, float]:
        async with sim.system(maintenance_workers=0) as system:
            probe = await Probe.start(system)
            system.topics.subscribe(TERRITORY_EVENTS, probe.ref)
            config = TerritoryConfig(default_ttl=2.5, maintenance_interval=1.0)
            manager = await system.spawn(TerritoryManager, config)
            lease = await acquire(manager, "t", "a")
            ended = await probe.expect(LeaseEnded, timeout=10.0)
            assert (ended.territory, ended.token, ended.how) == ("t", lease.token, "expired")
            assert (await manager.ask(GetLeases()))["leases"] == {}
            with pytest.raises(LeaseNotHeld, match="no live lease"):
                await renew(manager, lease)
            return lease.expires, system.clock.wall()

    result = simulate(scenario, seed=7)
    expires, reclaimed = result.value
    assert expires <= reclaimed < expires + 1.0


def test_a_renew_after_the_ttl_is_refused_as_expired_even_before_maintenance() -> None:
    async def scenario(sim: Simulation) -> None:
        async with sim.system(maintenance_workers=0) as system:
            manager = await system.spawn(
                TerritoryManager, TerritoryConfig(default_ttl=0.5, maintenance_interval=60.0)
            )
            lease = await acquire(manager, "t", "a")
            await sim.sleep(1.0)
            with pytest.raises(LeaseExpired, match="expired at"):
                await renew(manager, lease)
            assert (await acquire(manager, "t", "b")).token == 2

    simulate(scenario, seed=5)


def test_heat_decays_on_maintenance_and_the_alert_clears_on_virtual_time() -> None:
    async def scenario(sim: Simulation) -> None:
        async with sim.system(maintenance_workers=0) as system:
            probe = await Probe.start(system)
            system.topics.subscribe(TERRITORY_EVENTS, probe.ref)
            config = TerritoryConfig(
                decay_interval=1.0, heat=HeatConfig(half_life=5.0, threshold=4.0)
            )
            manager = await system.spawn(TerritoryManager, config)
            for _ in range(4):
                manager.tell(Contention("t"))
            await probe.expect(HeatAlert)
            cleared = await probe.expect(HeatCleared, timeout=60.0)
            assert cleared.heat < 2.0
            # Half-life 5 s from 4.0 to below 2.0: just over one half-life.
            assert 5.0 <= system.clock.now() <= 7.0

    simulate(scenario, seed=3)


def test_the_record_kinds_are_the_documented_ones() -> None:
    assert (LEASE_GRANTED, LEASE_EXPIRED, FENCE_REFUSED) == (
        "lease.granted",
        "lease.expired",
        "fence.refused",
    )


async def test_the_heat_aware_manager_moves_hot_territories_off_a_loaded_agent() -> None:
    async with ActorSystem("t") as system:
        territories = tuple(Territory(f"f{i}") for i in range(40))
        config = TerritoryConfig(
            strategy="heat-aware",
            strategy_options={"tolerance": 0.1},
            heat=HeatConfig(half_life=600.0, threshold=1000.0),
        )
        manager = await system.spawn(TerritoryManager, config, kwargs={"territories": territories})
        for agent in ("a", "b", "c", "d"):
            await manager.ask(Join(agent))
        before = await manager.ask(GetAssignment())
        loaded = before.owners["f0"]
        hot = [t for t, agent in before.owners.items() if agent == loaded]
        for territory in hot:
            manager.tell(Contention(territory, amount=20.0))
        after = await manager.ask(Rebalance())
        assert after.strategy == "heat-aware"
        assert after.moved > 0
        assert sum(after.owners[t] == loaded for t in hot) < len(hot)
        load = {t: 21.0 if t in hot else 1.0 for t in before.owners}
        ring = balance(before.owners, ["a", "b", "c", "d"], load)
        assert after.balance.max_over_mean < ring.max_over_mean
