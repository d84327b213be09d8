"""Resource pools: chunking, best effort, bounds, weights."""

from __future__ import annotations

import pytest

from actors.roles import PoolConfig, ResourcePools, ResourceRequest, Resources


def test_the_default_pools_and_chunks_are_the_specs() -> None:
    config = PoolConfig()
    assert config.totals == Resources(256, 65_536, 10_000)
    assert config.min_chunk == Resources(2, 256, 100)
    assert config.saturation_threshold == 0.85


def test_a_request_that_fits_is_granted_rounded_up_to_whole_chunks() -> None:
    pools = ResourcePools()
    allocation = pools.allocate("a", ResourceRequest(3, 300, 150))
    assert allocation is not None
    assert allocation.granted == Resources(4, 512, 200)
    assert not allocation.best_effort
    assert pools.free == Resources(252, 65_024, 9_800)


def test_a_zero_request_gets_nothing_of_that_resource() -> None:
    pools = ResourcePools()
    allocation = pools.allocate("a", ResourceRequest(2, 0, 0))
    assert allocation is not None
    assert allocation.granted == Resources(2, 0, 0)


def test_best_effort_grants_the_same_fraction_of_everything_in_chunks() -> None:
    pools = ResourcePools(PoolConfig(totals=Resources(100, 10_000, 1_000)))
    assert pools.allocate("big", ResourceRequest(60, 2_000, 200)) is not None
    allocation = pools.allocate("next", ResourceRequest(80, 4_000, 400))
    assert allocation is not None
    # 40 of 80 CU are free: half of everything (4,000 MB is 4,096 in chunks).
    assert allocation.best_effort
    assert allocation.granted == Resources(40, 2_048, 200)
    assert pools.free == Resources(0, 5_904, 600)


def test_best_effort_gives_at_least_one_chunk_or_nothing() -> None:
    pools = ResourcePools(PoolConfig(totals=Resources(10, 10_000, 1_000)))
    assert pools.allocate("a", ResourceRequest(8, 256, 100)) is not None
    small = pools.allocate("b", ResourceRequest(100, 256, 100))
    assert small is not None
    assert small.granted.compute_units == 2
    assert pools.allocate("c", ResourceRequest(2, 256, 100)) is None
    assert pools.free.compute_units == 0


def test_a_request_larger_than_the_pool_is_capped_at_the_pool() -> None:
    pools = ResourcePools()
    allocation = pools.allocate("huge", ResourceRequest(10_000, 1, 1))
    assert allocation is not None
    assert allocation.granted.compute_units == 256
    assert pools.utilization() == 1.0
    assert pools.saturated


def test_release_returns_everything_once() -> None:
    pools = ResourcePools()
    pools.allocate("a", ResourceRequest(10, 1_000, 500))
    assert pools.release("a") is not None
    assert pools.release("a") is None
    assert pools.free == PoolConfig().totals
    assert pools.utilization() == 0.0


def test_one_allocation_per_job() -> None:
    pools = ResourcePools()
    pools.allocate("a", ResourceRequest(2, 256, 100))
    with pytest.raises(ValueError, match="already holds"):
        pools.allocate("a", ResourceRequest(2, 256, 100))


def test_saturation_is_the_highest_utilisation_above_the_threshold() -> None:
    pools = ResourcePools()
    pools.allocate("a", ResourceRequest(216, 256, 100))
    assert pools.utilization() == pytest.approx(216 / 256)
    assert not pools.saturated
    pools.allocate("b", ResourceRequest(2, 256, 100))
    assert pools.saturated


def test_rewards_move_the_weight_within_bounds_and_scale_requests() -> None:
    pools = ResourcePools()
    assert pools.weight("search") == 1.0
    assert pools.reward("search", 1.0) == pytest.approx(1.1)
    for _ in range(20):
        pools.reward("search", 1.0)
    assert pools.weight("search") == 1.5
    for _ in range(20):
        pools.reward("search", -5.0)  # clamped to -1 per signal
    assert pools.weight("search") == 0.5
    allocation = pools.allocate("a", ResourceRequest(20, 2_560, 1_000), key="search")
    assert allocation is not None
    assert allocation.granted == Resources(10, 1_280, 500)
    assert allocation.weight == 0.5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"totals": Resources(0, 1, 1)},
        {"min_chunk": Resources(2, 0, 100)},
        {"totals": Resources(1, 65_536, 10_000)},
        {"weight_bounds": (1.2, 1.5)},
        {"saturation_threshold": 0.0},
    ],
)
def test_the_configuration_is_checked(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"must|cannot"):
        PoolConfig(**kwargs)  # type: ignore[arg-type]
