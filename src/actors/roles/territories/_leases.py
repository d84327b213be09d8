"""Leases and the pure rules that grant, renew, release and expire them.

A lease gives one holder a territory until ``expires`` (seconds on the
manager's clock). Every grant carries a fencing token one above the highest
ever issued for that territory, so tokens strictly increase per territory and
never repeat. The rules here are pure functions of the current row, the last
token and the request; each lease store (in memory, SQLite) applies them
inside one transaction, so the token advances together with the lease row.

Rules:

* **acquire**: granted when the territory has no row or its row has expired
  (``now >= expires``; the old row is reclaimed first and reported as
  expired); refused (``held``) while another lease is live, even the
  caller's own.
* **renew**: the caller must name the live lease's holder and token; then
  ``expires = now + ttl``. A renew after expiry reclaims the lease and is
  refused (``expired``); another holder or token is refused (``not-held``).
* **release**: as renew, then the row goes; the last token stays.
* **expire** (maintenance): every row with ``now >= expires`` is reclaimed.
"""

from __future__ import annotations

from typing import Final

import msgspec

__all__ = [
    "EXPIRED",
    "HELD",
    "NOT_HELD",
    "Decision",
    "Lease",
    "Refusal",
    "decide_acquire",
    "decide_release",
    "decide_renew",
    "lease_row",
]

EXPIRED: Final = "expired"
HELD: Final = "held"
NOT_HELD: Final = "not-held"
"""Refusal reasons."""


class Lease(msgspec.Struct, frozen=True, gc=False):
    """One holder's lease on one territory."""

    territory: str
    holder: str
    """The holder's id (an actor ref's address, or any agent id)."""
    token: int
    """The fencing token: strictly increasing per territory, never repeated."""
    expires: float
    """When it lapses, in seconds on the manager's clock (``wall()``)."""
    granted: float
    """When it was granted."""


class Refusal(msgspec.Struct, frozen=True, gc=False):
    """A lease request the rules refused."""

    territory: str
    holder: str
    """Who asked."""
    reason: str
    """``held`` (acquire: another live lease), ``not-held`` or ``expired`` (renew, release)."""
    token: int = 0
    """The token the request named (renew, release)."""
    current: Lease | None = None
    """The lease in the way: the live one (``held``), the row found (``not-held``), or the
    caller's own lapsed lease (``expired``)."""


Decision = tuple[Lease | Refusal, Lease | None]
"""What a rule returns: the lease granted, renewed or released (or the refusal), and
the expired lease the request reclaimed on its way (or ``None``)."""


def lease_row(lease: Lease) -> dict[str, object]:
    """A lease as the lease table's state holds it (see :func:`lease_table_reducers`)."""
    return {
        "holder": lease.holder,
        "token": lease.token,
        "expires": lease.expires,
        "granted": lease.granted,
    }


def decide_acquire(
    row: Lease | None, last_token: int, territory: str, holder: str, ttl: float, now: float
) -> Decision:
    """Grant a new lease (reclaiming an expired row), or refuse because a live lease exists."""
    if row is not None and now < row.expires:
        return Refusal(territory, holder, HELD, 0, row), None
    return Lease(territory, holder, last_token + 1, now + ttl, now), row


def decide_renew(
    row: Lease | None, territory: str, holder: str, token: int, ttl: float, now: float
) -> Decision:
    """Extend the caller's live lease, or refuse (and reclaim it if expired)."""
    if row is None or row.token != token or row.holder != holder:
        return Refusal(territory, holder, NOT_HELD, token, row), None
    if now >= row.expires:
        return Refusal(territory, holder, EXPIRED, token, row), row
    return Lease(territory, holder, token, now + ttl, row.granted), None


def decide_release(
    row: Lease | None, territory: str, holder: str, token: int, now: float
) -> Decision:
    """Give the caller's live lease up (the result is the lease released), or refuse."""
    if row is None or row.token != token or row.holder != holder:
        return Refusal(territory, holder, NOT_HELD, token, row), None
    if now >= row.expires:
        return Refusal(territory, holder, EXPIRED, token, row), row
    return row, None
