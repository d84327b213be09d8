"""The lease store: where lease rows and fencing tokens live, durably.

:class:`LeaseStore` is the protocol; :class:`MemoryLeaseStore` keeps rows in
dicts (it outlives the manager actor that uses it, so a restarted manager
keeps its tokens) and :class:`~actors.roles.territories.SQLiteLeaseStore`
keeps them in an embedded database that survives a killed process. Each
request is one transaction: the decision (see :mod:`._leases`) reads the row
and the territory's last token and writes both back, so a token can never be
issued twice, even across a restart. One conformance suite
(``tests/unit/actors/territories/test_store.py``) runs against every store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ._leases import EXPIRED, HELD, NOT_HELD, Lease, Refusal, lease_row

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["LeaseStore", "MemoryLeaseStore", "table_state"]


class LeaseStore(Protocol):
    """What the territory manager needs of durable lease state (blocking calls).

    A request returns the :class:`Lease` granted, renewed or released, or a
    :class:`Refusal`. An expired lease a request found in its way is reclaimed
    in the same transaction and kept for :meth:`take_reclaimed`.
    """

    def acquire(self, territory: str, holder: str, ttl: float, now: float) -> Lease | Refusal:
        """Grant ``territory`` to ``holder`` until ``now + ttl`` with the next token, or refuse."""
        ...

    def renew(
        self, territory: str, holder: str, token: int, ttl: float, now: float
    ) -> Lease | Refusal:
        """Extend the live lease ``holder`` holds with ``token`` to ``now + ttl``, or refuse."""
        ...

    def release(self, territory: str, holder: str, token: int, now: float) -> Lease | Refusal:
        """End the live lease ``holder`` holds with ``token`` (returned), or refuse."""
        ...

    def take_reclaimed(self) -> list[Lease]:
        """The expired leases requests reclaimed since the last call, in order; forgets them."""
        ...

    def expire(self, now: float) -> list[Lease]:
        """Reclaim every lease with ``expires <= now``; return them by territory."""
        ...

    def lease(self, territory: str) -> Lease | None:
        """The territory's lease row (live or not yet reclaimed), if any."""
        ...

    def last_token(self, territory: str) -> int:
        """The highest token ever issued for ``territory`` (0 if none)."""
        ...

    def snapshot(self) -> dict[str, Any]:  # Any: a plain msgpack-shaped state
        """The lease table as ``{"leases": {...}, "tokens": {...}}`` (what replay rebuilds)."""
        ...

    def close(self) -> None:
        """Release the store's resources; idempotent."""
        ...


def table_state(leases: Mapping[str, Lease], tokens: Mapping[str, int]) -> dict[str, Any]:
    """The canonical lease-table state of these rows and tokens."""
    return {
        "leases": {territory: lease_row(lease) for territory, lease in leases.items()},
        "tokens": dict(tokens),
    }


class MemoryLeaseStore:
    """Lease rows and tokens in dicts: fast, and kept as long as the object lives.

    ``state`` (a replayed lease table, see
    :func:`~actors.roles.territories.lease_table_reducers`) seeds it, so a
    manager started on a fresh process can continue its tokens from the ledger.
    """

    def __init__(self, state: Mapping[str, Any] | None = None) -> None:  # Any: replayed state
        self._leases: dict[str, Lease] = {}
        self._tokens: dict[str, int] = {}
        self._reclaimed: list[Lease] = []
        if state is not None:
            for territory, row in state["leases"].items():
                self._leases[territory] = Lease(
                    territory, row["holder"], row["token"], row["expires"], row["granted"]
                )
            self._tokens.update(state["tokens"])

    # The rules of :mod:`._leases`, inlined: this is the hot path the throughput
    # benchmark holds to at least half a bare dict's speed.

    def acquire(self, territory: str, holder: str, ttl: float, now: float) -> Lease | Refusal:
        leases = self._leases
        row = leases.get(territory)
        if row is not None:
            if now < row.expires:
                return Refusal(territory, holder, HELD, 0, row)
            self._reclaimed.append(row)
        token = self._tokens.get(territory, 0) + 1
        lease = leases[territory] = Lease(territory, holder, token, now + ttl, now)
        self._tokens[territory] = token
        return lease

    def renew(
        self, territory: str, holder: str, token: int, ttl: float, now: float
    ) -> Lease | Refusal:
        row = self._leases.get(territory)
        if row is not None and row.token == token and row.holder == holder and now < row.expires:
            lease = self._leases[territory] = Lease(
                territory, holder, token, now + ttl, row.granted
            )
            return lease
        return self._refuse(row, territory, holder, token)

    def release(self, territory: str, holder: str, token: int, now: float) -> Lease | Refusal:
        row = self._leases.get(territory)
        if row is not None and row.token == token and row.holder == holder and now < row.expires:
            del self._leases[territory]
            return row
        return self._refuse(row, territory, holder, token)

    def _refuse(self, row: Lease | None, territory: str, holder: str, token: int) -> Refusal:
        if row is not None and row.token == token and row.holder == holder:
            del self._leases[territory]  # expired: reclaimed on the way
            self._reclaimed.append(row)
            return Refusal(territory, holder, EXPIRED, token, row)
        return Refusal(territory, holder, NOT_HELD, token, row)

    def take_reclaimed(self) -> list[Lease]:
        reclaimed = self._reclaimed
        if not reclaimed:
            return []
        self._reclaimed = []
        return reclaimed

    def expire(self, now: float) -> list[Lease]:
        gone = [lease for lease in self._leases.values() if now >= lease.expires]
        gone.sort(key=lambda lease: lease.territory)
        for lease in gone:
            del self._leases[lease.territory]
        return gone

    def lease(self, territory: str) -> Lease | None:
        return self._leases.get(territory)

    def last_token(self, territory: str) -> int:
        return self._tokens.get(territory, 0)

    def snapshot(self) -> dict[str, Any]:  # Any: a plain msgpack-shaped state
        return table_state(self._leases, self._tokens)

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"MemoryLeaseStore(leases={len(self._leases)}, territories={len(self._tokens)})"
