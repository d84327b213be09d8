"""Replaying the territory records rebuilds the lease table byte for byte.

Generated histories of acquire / renew / release / maintenance expiry, with
times that may jump backwards (a clock jump), run against each lease store
through the manager's recording path (:func:`record_result`,
:func:`record_expired`); the records are chained as the ledger chains them and
folded by :func:`lease_table_reducers`. The replayed state's canonical bytes
equal the store's snapshot's, twice over.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.ledger import GENESIS_HASH, Record, state_digest
from actors.ledger._record import encode_payload, make_record
from actors.roles.territories import (
    Lease,
    LeaseStore,
    MemoryLeaseStore,
    SQLiteLeaseStore,
    lease_table_reducers,
)
from actors.roles.territories._records import record_expired, record_result


class ChainSink:
    """Records chained exactly as the ledger chains them (seq, hash of the previous)."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def append_nowait(self, kind: str, payload: object) -> Record:
        prev = self.records[-1].hash if self.records else GENESIS_HASH
        record = make_record(len(self.records) + 1, 0, 0.0, kind, encode_payload(payload), prev)
        self.records.append(record)
        return record


territories = st.sampled_from(["a", "b", "c"])
holders = st.sampled_from(["x", "y", "z"])
ttls = st.sampled_from([0.5, 1.0, 3.0])
steps = st.lists(
    st.one_of(
        st.tuples(st.just("acquire"), territories, holders, ttls),
        st.tuples(st.just("renew"), territories, holders, ttls),
        st.tuples(st.just("release"), territories, holders, ttls),
        st.tuples(st.just("expire"), territories, holders, ttls),
        st.tuples(st.just("tick"), territories, holders, st.sampled_from([0.25, 1.0, -2.0])),
    ),
    max_size=60,
)


def run_history(store: LeaseStore, history: list[tuple[str, str, str, float]]) -> ChainSink:
    sink = ChainSink()
    now = 100.0
    held: dict[tuple[str, str], int] = {}
    for op, territory, holder, value in history:
        if op == "tick":
            now += value  # negative: the manager's clock jumped back
            continue
        if op == "acquire":
            result = store.acquire(territory, holder, value, now)
            if isinstance(result, Lease):
                held[territory, holder] = result.token
        elif op == "renew":
            token = held.get((territory, holder), 1)
            result = store.renew(territory, holder, token, value, now)
        elif op == "release":
            token = held.get((territory, holder), 1)
            result = store.release(territory, holder, token, now)
        else:
            for lease in store.expire(now):
                record_expired(sink, lease)
            continue
        for lease in store.take_reclaimed():  # as the manager does
            record_expired(sink, lease)
        record_result(sink, op, result)
    return sink


def replay(records: list[Record]) -> tuple[Any, bytes]:
    reducers = lease_table_reducers()
    state = reducers.initial()
    for record in records:
        state = reducers.apply(state, record)
    return state, reducers.encode_state(state)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@settings(max_examples=150, deadline=None)
@given(history=steps)
def test_replay_rebuilds_the_lease_table_byte_identically(
    kind: str, history: list[tuple[str, str, str, float]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store: LeaseStore = (
            MemoryLeaseStore() if kind == "memory" else SQLiteLeaseStore(Path(folder) / "l.db")
        )
        try:
            sink = run_history(store, history)
            reducers = lease_table_reducers()
            expected = reducers.encode_state(store.snapshot())
            state, encoded = replay(sink.records)
            assert encoded == expected
            assert replay(sink.records)[1] == encoded
            assert state_digest(state) == state_digest(store.snapshot())
        finally:
            store.close()


@settings(max_examples=100, deadline=None)
@given(history=steps)
def test_memory_and_sqlite_stores_decide_alike(history: list[tuple[str, str, str, float]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        memory = MemoryLeaseStore()
        sqlite = SQLiteLeaseStore(Path(folder) / "l.db")
        try:
            a = run_history(memory, history)
            b = run_history(sqlite, history)
            assert [r.hash for r in a.records] == [r.hash for r in b.records]
            assert memory.snapshot() == sqlite.snapshot()
        finally:
            sqlite.close()


@settings(max_examples=100, deadline=None)
@given(history=steps, cut=st.integers(0, 200))
def test_a_store_rebuilt_from_a_replay_continues_the_same_tokens(
    history: list[tuple[str, str, str, float]], cut: int
) -> None:
    store = MemoryLeaseStore()
    sink = run_history(store, history[: cut % (len(history) + 1)])
    state, _ = replay(sink.records)
    rebuilt = MemoryLeaseStore(state)
    for territory in ("a", "b", "c"):
        assert rebuilt.last_token(territory) == store.last_token(territory)
