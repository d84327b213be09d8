"""One conformance suite for every lease store: the rules, and tokens that never repeat."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from actors.roles.territories import LeaseStore, MemoryLeaseStore, SQLiteLeaseStore

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


def test_acquire_grants_with_token_one_then_refuses_others_while_live(store: LeaseStore) -> None:
    granted = store.acquire("t", "a", 10.0, 0.0)
    assert granted.kind == "granted"
    assert granted.lease is not None
    assert (granted.lease.token, granted.lease.expires) == (1, 10.0)
    refused = store.acquire("t", "b", 10.0, 5.0)
    assert (refused.kind, refused.reason) == ("refused", "held")
    assert refused.current == granted.lease
    again = store.acquire("t", "a", 10.0, 5.0)  # even the holder itself
    assert again.reason == "held"


def test_an_expired_lease_is_reclaimed_by_the_next_acquire_with_a_higher_token(
    store: LeaseStore,
) -> None:
    store.acquire("t", "a", 10.0, 0.0)
    taken = store.acquire("t", "b", 10.0, 10.0)
    assert taken.kind == "granted"
    assert taken.lease is not None
    assert taken.lease.token == 2
    assert taken.reclaimed is not None
    assert taken.reclaimed.holder == "a"


def test_renew_extends_only_the_holders_live_lease(store: LeaseStore) -> None:
    store.acquire("t", "a", 10.0, 0.0)
    renewed = store.renew("t", "a", 1, 10.0, 5.0)
    assert renewed.kind == "renewed"
    assert renewed.lease is not None
    assert renewed.lease.expires == 15.0
    assert renewed.lease.granted == 0.0
    assert store.renew("t", "b", 1, 10.0, 6.0).reason == "not-held"
    assert store.renew("t", "a", 2, 10.0, 6.0).reason == "not-held"
    late = store.renew("t", "a", 1, 10.0, 15.0)
    assert (late.kind, late.reason) == ("refused", "expired")
    assert late.reclaimed is not None
    assert store.lease("t") is None


def test_release_ends_the_lease_but_keeps_the_token(store: LeaseStore) -> None:
    store.acquire("t", "a", 10.0, 0.0)
    assert store.release("t", "b", 1, 1.0).reason == "not-held"
    assert store.release("t", "a", 1, 1.0).kind == "released"
    assert store.lease("t") is None
    assert store.last_token("t") == 1
    assert store.release("t", "a", 1, 1.0).reason == "not-held"
    again = store.acquire("t", "b", 10.0, 2.0)
    assert again.lease is not None
    assert again.lease.token == 2


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
        outcome = first.acquire("t", "a", 1.0, float(n * 10))
        assert outcome.lease is not None
        assert outcome.lease.token == n + 1
    first.close()
    second = SQLiteLeaseStore(path)
    outcome = second.acquire("t", "b", 1.0, 100.0)
    assert outcome.lease is not None
    assert outcome.lease.token == 4
    second.close()


def test_memory_store_continues_from_a_replayed_table() -> None:
    first = MemoryLeaseStore()
    first.acquire("t", "a", 1.0, 0.0)
    first.acquire("t", "b", 1.0, 5.0)
    second = MemoryLeaseStore(first.snapshot())
    assert second.snapshot() == first.snapshot()
    outcome = second.acquire("t", "c", 1.0, 10.0)
    assert outcome.lease is not None
    assert outcome.lease.token == 3
