"""The conformance suite of the ``TicketStore`` protocol, run against every store.

A store keeps the ticket table as of a ledger sequence: what ``load`` returns
is exactly the rows last saved under each id (a later save replaces a row)
and the last ``applied``, and a durable store returns the same after being
reopened. A new implementation (PostgreSQL, say) joins ``STORES`` and must
pass every test here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.roles.tickets import (
    Concern,
    MemoryTicketStore,
    Pipeline,
    SQLiteTicketStore,
    Stage,
    Ticket,
    TicketStore,
    TicketTable,
)
from actors.roles.tickets._model import Run

Opener = Callable[[], TicketStore]
"""Opens the store under test; calling it again reopens the same store."""


@contextmanager
def memory_store() -> Iterator[Opener]:
    store = MemoryTicketStore()
    yield lambda: store  # in memory, "reopening" is the same object


@contextmanager
def sqlite_store() -> Iterator[Opener]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tickets.db"
        yield lambda: SQLiteTicketStore(path)


STORES = {"memory": memory_store, "sqlite": sqlite_store}

PIPELINE = Pipeline(stages=(Stage("parse", next="curate"), Stage("curate")))

runs = st.builds(
    Run,
    id=st.integers(1, 3).map(lambda n: f"run-{n}"),
    pipeline=st.just(PIPELINE),
    created=st.floats(0, 1e6, allow_nan=False),
    tickets=st.integers(0, 50),
)
concerns = st.builds(
    Concern,
    level=st.sampled_from(["info", "review", "error"]),
    message=st.text(max_size=20),
    suggestion=st.none() | st.text(max_size=10),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**31), 2**31) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
tickets = st.builds(
    Ticket,
    id=st.integers(1, 8).map(lambda n: f"t-{n}"),
    run=st.integers(1, 3).map(lambda n: f"run-{n}"),
    stage=st.sampled_from(["parse", "curate"]),
    worker_type=st.sampled_from(["parse", "curate"]),
    number=st.integers(0, 50),
    input=json_values,
    parents=st.lists(st.text(max_size=5), max_size=2),
    sources=st.lists(st.text(max_size=5), max_size=2),
    status=st.sampled_from(["pending", "claimed", "completed", "failed", "needs_review"]),
    output=json_values,
    concerns=st.lists(concerns, max_size=2),
    attempts=st.integers(0, 5),
    token=st.integers(0, 100),
    worker=st.none() | st.text(min_size=1, max_size=5),
    lease_expires=st.none() | st.floats(0, 1e6, allow_nan=False),
)
saves = st.lists(
    st.tuples(st.lists(runs, max_size=3), st.lists(tickets, max_size=4)), min_size=1, max_size=5
)


@pytest.mark.parametrize("kind", list(STORES))
def test_a_new_store_holds_an_empty_table_at_sequence_zero(kind: str) -> None:
    with STORES[kind]() as open_store:
        table, applied = open_store().load()
        assert table.encode() == TicketTable().encode()
        assert applied == 0


@pytest.mark.parametrize("kind", list(STORES))
@settings(max_examples=40, deadline=None)
@given(history=saves)
def test_load_returns_the_last_saved_row_of_each_id_and_the_last_sequence(
    kind: str, history: list[tuple[list[Run], list[Ticket]]]
) -> None:
    expected_runs: dict[str, Run] = {}
    expected_tickets: dict[str, Ticket] = {}
    with STORES[kind]() as open_store:
        store = open_store()
        for applied, (new_runs, new_tickets) in enumerate(history, start=1):
            store.save(new_runs, new_tickets, applied)
            expected_runs.update((run.id, run) for run in new_runs)
            expected_tickets.update((ticket.id, ticket) for ticket in new_tickets)
            table, seen = store.load()
            assert seen == applied
            want = TicketTable.from_rows(
                list(expected_runs.values()), list(expected_tickets.values())
            )
            assert table.encode() == want.encode()
        store.close()
        reopened = open_store()
        table, seen = reopened.load()
        assert seen == len(history)
        assert table.encode() == want.encode()
        reopened.close()
