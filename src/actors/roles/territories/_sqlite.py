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

from ._leases import Lease, Refusal, decide_acquire, decide_release, decide_renew
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
        self._reclaimed: list[Lease] = []

    def _row(self, territory: str) -> Lease | None:
        found = self._db.execute(
            "SELECT holder, token, expires, granted FROM leases WHERE territory = ?", (territory,)
        ).fetchone()
        if found is None:
            return None
        return Lease(territory, found[0], found[1], found[2], found[3])

    def acquire(self, territory: str, holder: str, ttl: float, now: float) -> Lease | Refusal:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            result, reclaimed = decide_acquire(
                self._row(territory), self.last_token(territory), territory, holder, ttl, now
            )
            if isinstance(result, Lease):
                db.execute(
                    "INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?, ?)",
                    (territory, holder, result.token, result.expires, result.granted),
                )
                db.execute(
                    "INSERT INTO tokens VALUES (?, ?) "
                    "ON CONFLICT(territory) DO UPDATE SET last = excluded.last",
                    (territory, result.token),
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        if reclaimed is not None:
            self._reclaimed.append(reclaimed)
        return result

    def renew(
        self, territory: str, holder: str, token: int, ttl: float, now: float
    ) -> Lease | Refusal:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            result, reclaimed = decide_renew(
                self._row(territory), territory, holder, token, ttl, now
            )
            if isinstance(result, Lease):
                db.execute(
                    "UPDATE leases SET expires = ? WHERE territory = ?", (result.expires, territory)
                )
            elif reclaimed is not None:
                db.execute("DELETE FROM leases WHERE territory = ?", (territory,))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        if reclaimed is not None:
            self._reclaimed.append(reclaimed)
        return result

    def release(self, territory: str, holder: str, token: int, now: float) -> Lease | Refusal:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            result, reclaimed = decide_release(self._row(territory), territory, holder, token, now)
            if isinstance(result, Lease) or reclaimed is not None:
                db.execute("DELETE FROM leases WHERE territory = ?", (territory,))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        if reclaimed is not None:
            self._reclaimed.append(reclaimed)
        return result

    def take_reclaimed(self) -> list[Lease]:
        reclaimed, self._reclaimed = self._reclaimed, []
        return reclaimed

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
