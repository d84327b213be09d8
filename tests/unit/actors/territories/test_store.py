"""One conformance suite for every lease store: the rules, and tokens that never repeat."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from actors.roles.territories import (
    Lease,
    LeaseStore,
    MemoryLeaseStore,
    Refusal,
    SQLiteLeaseStore,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LeaseStore]:
    made: LeaseStore = (
        MemoryLeaseStore() if request.param == "memory" else SQLiteLeaseStore(tmp_path / "l.db")
    )
    yield made
    made.close()


def granted(result: Lease | Refusal) -> Lease:
    assert isinstance(result, Lease), result
    return result


def refused(result: Lease | Refusal) -> Refusal:
    assert isinstance(result, Refusal), result
    return result


def test_acquire_grants_with_token_one_then_refuses_others_while_live(store: LeaseStore) -> None:
    lease = granted(store.acquire("t", "a", 10.0, 0.0))
    assert (lease.token, lease.expires, lease.granted) == (1, 10.0, 0.0)
    refusal = refused(store.acquire("t", "b", 10.0, 5.0))
    assert (refusal.reason, refusal.holder, refusal.current) == ("held", "b", lease)
    assert refused(store.acquire("t", "a", 10.0, 5.0)).reason == "held"  # even the holder
    assert store.take_reclaimed() == []


def test_an_expired_lease_is_reclaimed_by_the_next_acquire_with_a_higher_token(
    store: LeaseStore,
) -> None:
    first = granted(store.acquire("t", "a", 10.0, 0.0))
    taken = granted(store.acquire("t", "b", 10.0, 10.0))
    assert taken.token == 2
    assert store.take_reclaimed() == [first]
    assert store.take_reclaimed() == []


def test_renew_extends_only_the_holders_live_lease(store: LeaseStore) -> None:
    first = granted(store.acquire("t", "a", 10.0, 0.0))
    renewed = granted(store.renew("t", "a", 1, 10.0, 5.0))
    assert (renewed.expires, renewed.granted, renewed.token) == (15.0, 0.0, 1)
    assert refused(store.renew("t", "b", 1, 10.0, 6.0)).reason == "not-held"
    assert refused(store.renew("t", "a", 2, 10.0, 6.0)).reason == "not-held"
    late = refused(store.renew("t", "a", 1, 10.0, 15.0))
    assert late.reason == "expired"
    assert store.take_reclaimed() == [renewed]
    assert store.lease("t") is None
    assert first.token == renewed.token


def test_release_ends_the_lease_but_keeps_the_token(store: LeaseStore) -> None:
    lease = granted(store.acquire("t", "a", 10.0, 0.0))
    assert refused(store.release("t", "b", 1, 1.0)).reason == "not-held"
    assert granted(store.release("t", "a", 1, 1.0)) == lease
    assert store.lease("t") is None
    assert store.last_token("t") == 1
    assert refused(store.release("t", "a", 1, 1.0)).reason == "not-held"
    assert granted(store.acquire("t", "b", 10.0, 2.0)).token == 2


def test_a_release_after_expiry_is_refused_and_reclaims(store: LeaseStore) -> None:
    lease = granted(store.acquire("t", "a", 1.0, 0.0))
    assert refused(store.release("t", "a", 1, 1.0)).reason == "expired"
    assert store.take_reclaimed() == [lease]


def test_expire_reclaims_exactly_the_lapsed_leases(store: LeaseStore) -> None:
    store.acquire("a", "x", 5.0, 0.0)
    store.acquire("b", "x", 50.0, 0.0)
    store.acquire("c", "y", 5.0, 1.0)
    gone = store.expire(6.0)
    assert [lease.territory for lease in gone] == ["a", "c"]
    assert store.expire(6.0) == []
    assert store.snapshot() == {
        "leases": {"b": {"holder": "x", "token": 1, "expires": 50.0, "granted": 0.0}},
        "tokens": {"a": 1, "b": 1, "c": 1},
    }


def test_sqlite_tokens_continue_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "leases.db"
    first = SQLiteLeaseStore(path)
    for n in range(3):
        assert granted(first.acquire("t", "a", 1.0, float(n * 10))).token == n + 1
    first.close()
    second = SQLiteLeaseStore(path)
    assert granted(second.acquire("t", "b", 1.0, 100.0)).token == 4
    second.close()


def test_memory_store_continues_from_a_replayed_table() -> None:
    first = MemoryLeaseStore()
    first.acquire("t", "a", 1.0, 0.0)
    first.acquire("t", "b", 1.0, 5.0)
    second = MemoryLeaseStore(first.snapshot())
    assert second.snapshot() == first.snapshot()
    assert granted(second.acquire("t", "c", 1.0, 10.0)).token == 3
