"""Hypothesis: allocations never exceed the pools, whatever the requests and releases."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.roles import PoolConfig, ResourcePools, ResourceRequest, Resources

requests = st.builds(
    ResourceRequest,
    compute_units=st.integers(0, 400),
    memory_mb=st.integers(0, 100_000),
    bandwidth_mbps=st.integers(0, 15_000),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("allocate"), requests, st.sampled_from(["a", "b", "c"])),
        st.tuples(st.just("release"), st.integers(0, 50), st.just("")),
        st.tuples(st.just("reward"), st.floats(-1, 1), st.sampled_from(["a", "b", "c"])),
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(operations=operations, small=st.booleans())
def test_allocations_never_exceed_the_pools(
    operations: list[tuple[str, object, str]], small: bool
) -> None:
    config = PoolConfig(totals=Resources(40, 4_096, 1_000)) if small else PoolConfig()
    pools = ResourcePools(config)
    totals = config.totals.as_tuple()
    chunks = config.min_chunk.as_tuple()
    held: list[str] = []
    for i, (op, arg, key) in enumerate(operations):
        if op == "allocate":
            assert isinstance(arg, ResourceRequest)
            allocation = pools.allocate(f"j{i}", arg, key)
            if allocation is not None:
                held.append(f"j{i}")
                for amount, chunk in zip(allocation.granted.as_tuple(), chunks, strict=True):
                    assert amount % chunk == 0
        elif op == "release" and held:
            assert isinstance(arg, int)
            assert pools.release(held.pop(arg % len(held))) is not None
        elif op == "reward":
            assert isinstance(arg, float)
            low, high = config.weight_bounds
            assert low <= pools.reward(key, arg) <= high
        granted = [0, 0, 0]
        for allocation in pools.allocations.values():
            for r, amount in enumerate(allocation.granted.as_tuple()):
                granted[r] += amount
        free = pools.free.as_tuple()
        for r in range(3):
            assert free[r] >= 0
            assert granted[r] + free[r] == totals[r]
            assert granted[r] <= totals[r]
