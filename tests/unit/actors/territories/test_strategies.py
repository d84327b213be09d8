"""Assignment strategies: one interface, deterministic, each with its own promise."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.roles.territories import (
    STRATEGIES,
    ConsistentHashing,
    CurveRanges,
    HeatAware,
    InvalidTerritoryConfig,
    Territory,
    UnknownStrategy,
    balance,
    hilbert_index,
    make_strategy,
    moved,
    z_order_index,
)

TERRITORIES = [Territory(f"file/{i}") for i in range(2000)]
AGENTS = [f"agent-{i}" for i in range(8)]


@pytest.mark.parametrize("name", STRATEGIES)
def test_every_strategy_assigns_every_territory_to_a_known_agent(name: str) -> None:
    owners = make_strategy(name).assign(TERRITORIES, AGENTS, {})
    assert set(owners) == {t.name for t in TERRITORIES}
    assert set(owners.values()) <= set(AGENTS)


@pytest.mark.parametrize("name", STRATEGIES)
def test_every_strategy_is_deterministic_and_ignores_agent_order(name: str) -> None:
    first = make_strategy(name).assign(TERRITORIES, AGENTS, {})
    again = make_strategy(name).assign(TERRITORIES, list(reversed(AGENTS)), {})
    assert first == again


@pytest.mark.parametrize("name", STRATEGIES)
def test_no_agents_means_no_assignment(name: str) -> None:
    assert make_strategy(name).assign(TERRITORIES, [], {}) == {}


def test_unknown_strategy_is_refused_by_name() -> None:
    with pytest.raises(UnknownStrategy, match="'round-robin'"):
        make_strategy("round-robin")


def test_consistent_hashing_moves_only_territories_of_a_joining_agent() -> None:
    ring = ConsistentHashing(virtual_nodes=128)
    before = ring.assign(TERRITORIES, AGENTS, {})
    after = ring.assign(TERRITORIES, [*AGENTS, "agent-new"], {})
    changed = [t for t in before if before[t] != after[t]]
    assert all(after[t] == "agent-new" for t in changed)
    # About 1/9 of them, never more than twice that.
    assert 0 < len(changed) < 2 * len(TERRITORIES) / 9


def test_consistent_hashing_moves_only_territories_of_a_leaving_agent() -> None:
    ring = ConsistentHashing()
    before = ring.assign(TERRITORIES, AGENTS, {})
    after = ring.assign(TERRITORIES, AGENTS[1:], {})
    assert {t for t in before if before[t] != after[t]} == {
        t for t, a in before.items() if a == AGENTS[0]
    }


def test_consistent_hashing_with_virtual_nodes_balances_uniform_load() -> None:
    owners = ConsistentHashing(virtual_nodes=256).assign(TERRITORIES, AGENTS, {})
    assert balance(owners, AGENTS, {}).max_over_mean < 1.3


def test_curve_ranges_are_contiguous_along_the_curve() -> None:
    rng = random.Random(3)
    points = [Territory(f"cell/{i}", (rng.random(), rng.random())) for i in range(500)]
    strategy = CurveRanges("hilbert", dims=2, bits=10)
    owners = strategy.assign(points, AGENTS, {})
    ordered = sorted(points, key=lambda t: (strategy.index(t), t.name))
    runs = [owners[ordered[0].name]]
    for territory in ordered[1:]:
        if owners[territory.name] != runs[-1]:
            runs.append(owners[territory.name])
    assert sorted(runs) == sorted(AGENTS)  # one run per agent, each agent once
    counts = balance(owners, AGENTS, {})
    assert counts.max_over_mean <= 1.0 + len(AGENTS) / len(points)


def test_curve_accepts_n_dimensional_points_with_z_order() -> None:
    points = [Territory(f"v/{i}", (i / 100, (i * 7 % 100) / 100, 0.5)) for i in range(100)]
    owners = CurveRanges("z-order", dims=3, bits=8).assign(points, AGENTS[:3], {})
    assert set(owners.values()) == set(AGENTS[:3])


def test_curve_refuses_points_of_the_wrong_dimension_or_range() -> None:
    strategy = CurveRanges(dims=2)
    with pytest.raises(InvalidTerritoryConfig, match="2 coordinates"):
        strategy.assign([Territory("x", (0.1, 0.2, 0.3))], AGENTS, {})
    with pytest.raises(InvalidTerritoryConfig, match=r"point\[1\]"):
        strategy.assign([Territory("x", (0.1, 1.5))], AGENTS, {})
    with pytest.raises(InvalidTerritoryConfig, match="curve"):
        CurveRanges("peano")


def test_heat_aware_moves_hot_territories_off_the_loaded_agent() -> None:
    load = {t.name: 1.0 for t in TERRITORIES}
    ring_owners = ConsistentHashing().assign(TERRITORIES, AGENTS, load)
    victim = ring_owners[TERRITORIES[0].name]
    for t, agent in ring_owners.items():
        if agent == victim:
            load[t] = 5.0  # every territory of one agent runs hot
    ring_balance = balance(ring_owners, AGENTS, load)
    aware = HeatAware(tolerance=0.1).assign(TERRITORIES, AGENTS, load)
    aware_balance = balance(aware, AGENTS, load)
    assert aware_balance.max_over_mean < ring_balance.max_over_mean
    assert aware_balance.max_over_mean <= 1.1 + 5.0 * len(AGENTS) / sum(load.values())


def test_heat_aware_equals_the_ring_when_load_is_even() -> None:
    ring = ConsistentHashing().assign(TERRITORIES, AGENTS, {})
    aware = HeatAware(tolerance=0.5).assign(TERRITORIES, AGENTS, {})
    assert moved(ring, aware) <= len(TERRITORIES) // 10


def test_hilbert_visits_neighbouring_cells_in_order() -> None:
    bits = 3
    cells = {hilbert_index([x, y], bits): (x, y) for x in range(8) for y in range(8)}
    assert sorted(cells) == list(range(64))
    for i in range(63):
        (x0, y0), (x1, y1) = cells[i], cells[i + 1]
        assert abs(x0 - x1) + abs(y0 - y1) == 1


@settings(max_examples=50)
@given(st.integers(1, 5), st.integers(1, 6))
def test_both_curves_are_bijections_on_small_grids(dims: int, bits: int) -> None:
    if dims * bits > 12:
        return
    size = 1 << bits
    cells = [[(n >> (bits * d)) % size for d in range(dims)] for n in range(size**dims)]
    for index in (hilbert_index, z_order_index):
        assert sorted(index(c, bits) for c in cells) == list(range(size**dims))


def test_moved_counts_changed_owners() -> None:
    assert moved({"a": "x", "b": "y"}, {"a": "x", "b": "z", "c": "x"}) == 2
