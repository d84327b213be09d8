"""A lease store in an embedded SQLite database: survives a killed process.

Two tables, ``leases`` (one row per held territory) and ``tokens`` (the last
token issued per territory). Each request is one ``BEGIN IMMEDIATE``
transaction that reads the row and the token, applies the pure rule of
:mod:`._leases` and writes both back, so a granted token is durable before
the grant is answered and never issued again, even after a crash. WAL
journal; ``synchronous=FULL`` by default (``durable=False``: ``NORMAL``,
which survives a killed process but not a power cut).

Calls block on the disk: the manager makes them from its actor, one at a
time. One connection, used from one thread at a time.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from ._leases import (
    GRANTED,
    RELEASED,
    RENEWED,
    Lease,
    Outcome,
    decide_acquire,
    decide_release,
    decide_renew,
)
from ._store import table_state

__all__ = ["SQLiteLeaseStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    territory TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    token INTEGER NOT NULL,
    expires REAL NOT NULL,
    granted REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    territory TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);
"""


class SQLiteLeaseStore:
    """Lease rows and tokens in SQLite at ``path`` (``":memory:"`` for a throwaway one)."""

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.path = os.fspath(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.executescript(_SCHEMA)
        self._closed = False

    def _row(self, territory: str) -> Lease | None:
        found = self._db.execute(
            "SELECT holder, token, expires, granted FROM leases WHERE territory = ?", (territory,)
        ).fetchone()
        if found is None:
            return None
        return Lease(territory, found[0], found[1], found[2], found[3])

    def _apply(self, outcome: Outcome) -> None:
        db = self._db
        if outcome.reclaimed is not None:
            db.execute("DELETE FROM leases WHERE territory = ?", (outcome.territory,))
        lease = outcome.lease
        if lease is None:
            return
        if outcome.kind == GRANTED:
            db.execute(
                "INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?, ?)",
                (lease.territory, lease.holder, lease.token, lease.expires, lease.granted),
            )
            db.execute(
                "INSERT INTO tokens VALUES (?, ?) "
                "ON CONFLICT(territory) DO UPDATE SET last = excluded.last",
                (lease.territory, lease.token),
            )
        elif outcome.kind == RENEWED:
            db.execute(
                "UPDATE leases SET expires = ? WHERE territory = ?",
                (lease.expires, lease.territory),
            )
        elif outcome.kind == RELEASED:
            db.execute("DELETE FROM leases WHERE territory = ?", (lease.territory,))

    def _transaction(self, decide: Any, territory: str) -> Outcome:  # Any: a decision closure
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            outcome: Outcome = decide(self._row(territory))
            self._apply(outcome)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return outcome

    def acquire(self, territory: str, holder: str, ttl: float, now: float) -> Outcome:
        return self._transaction(
            lambda row: decide_acquire(
                row, self.last_token(territory), territory, holder, ttl, now
            ),
            territory,
        )

    def renew(self, territory: str, holder: str, token: int, ttl: float, now: float) -> Outcome:
        return self._transaction(
            lambda row: decide_renew(row, territory, holder, token, ttl, now), territory
        )

    def release(self, territory: str, holder: str, token: int, now: float) -> Outcome:
        return self._transaction(
            lambda row: decide_release(row, territory, holder, token, now), territory
        )

    def expire(self, now: float) -> list[Lease]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            rows = db.execute(
                "SELECT territory, holder, token, expires, granted FROM leases "
                "WHERE expires <= ? ORDER BY territory",
                (now,),
            ).fetchall()
            db.execute("DELETE FROM leases WHERE expires <= ?", (now,))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return [Lease(*row) for row in rows]

    def lease(self, territory: str) -> Lease | None:
        return self._row(territory)

    def last_token(self, territory: str) -> int:
        found = self._db.execute(
            "SELECT last FROM tokens WHERE territory = ?", (territory,)
        ).fetchone()
        return 0 if found is None else int(found[0])

    def snapshot(self) -> dict[str, Any]:  # Any: a plain msgpack-shaped state
        leases = {
            row[0]: Lease(*row)
            for row in self._db.execute(
                "SELECT territory, holder, token, expires, granted FROM leases"
            )
        }
        rows = self._db.execute("SELECT territory, last FROM tokens")
        tokens = {row[0]: int(row[1]) for row in rows}
        return table_state(leases, tokens)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteLeaseStore({self.path!r})"
