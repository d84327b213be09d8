"""Ticket stores: where the ticket table is kept between runs of a node.

The ledger is the authority: every transition is a ``tickets.*`` record,
committed before the request is answered. A store keeps the table *as of* a
ledger sequence number (``applied``), written in one transaction with the rows
that changed, so it is a checkpoint of the ledger's projection: at start the
:class:`~actors.roles.tickets.Tickets` actor loads the store and applies the
ledger records after ``applied``. A crash between the ledger commit and the
store write therefore loses nothing: the record is applied again at start.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Protocol

import msgspec

from ._model import Run, Ticket, TicketTable

__all__ = ["MemoryTicketStore", "SQLiteTicketStore", "TicketStore"]


class TicketStore(Protocol):
    """Durable rows of the ticket table, with the ledger sequence they reflect."""

    def load(self) -> tuple[TicketTable, int]:
        """The stored table and the last ledger sequence applied to it (0: none)."""
        ...

    def save(self, runs: list[Run], tickets: list[Ticket], applied: int) -> None:
        """Write these rows (inserted or replaced) and ``applied``, atomically."""
        ...

    def close(self) -> None: ...


class MemoryTicketStore:
    """A store in memory: for tests, and for a node without a data directory."""

    def __init__(self) -> None:
        self._runs: dict[str, bytes] = {}
        self._tickets: dict[str, bytes] = {}
        self.applied = 0

    def load(self) -> tuple[TicketTable, int]:
        runs = [msgspec.msgpack.decode(b, type=Run) for b in self._runs.values()]
        tickets = [msgspec.msgpack.decode(b, type=Ticket) for b in self._tickets.values()]
        return TicketTable.from_rows(runs, tickets), self.applied

    def save(self, runs: list[Run], tickets: list[Ticket], applied: int) -> None:
        for run in runs:
            self._runs[run.id] = msgspec.msgpack.encode(run)
        for ticket in tickets:
            self._tickets[ticket.id] = msgspec.msgpack.encode(ticket)
        self.applied = applied

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tickets (id TEXT PRIMARY KEY, run TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class SQLiteTicketStore:
    """The embedded store: one SQLite file in WAL mode (``tickets.db`` in a node's data dir)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)

    def load(self) -> tuple[TicketTable, int]:
        conn = self._conn
        runs = [
            msgspec.msgpack.decode(b, type=Run) for (b,) in conn.execute("SELECT body FROM runs")
        ]
        tickets = [
            msgspec.msgpack.decode(b, type=Ticket)
            for (b,) in conn.execute("SELECT body FROM tickets")
        ]
        row = conn.execute("SELECT value FROM meta WHERE key = 'applied'").fetchone()
        return TicketTable.from_rows(runs, tickets), int(row[0]) if row else 0

    def save(self, runs: list[Run], tickets: list[Ticket], applied: int) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT OR REPLACE INTO runs (id, body) VALUES (?, ?)",
                [(r.id, msgspec.msgpack.encode(r)) for r in runs],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO tickets (id, run, body) VALUES (?, ?, ?)",
                [(t.id, t.run, msgspec.msgpack.encode(t)) for t in tickets],
            )
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('applied', ?)", (applied,)
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteTicketStore({self.path!r})"
