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
    "GRANTED",
    "HELD",
    "NOT_HELD",
    "REFUSED",
    "RELEASED",
    "RENEWED",
    "Lease",
    "Outcome",
    "decide_acquire",
    "decide_release",
    "decide_renew",
    "lease_row",
]

GRANTED: Final = "granted"
RENEWED: Final = "renewed"
RELEASED: Final = "released"
REFUSED: Final = "refused"
EXPIRED: Final = "expired"
"""Outcome kinds; ``EXPIRED`` is also a refusal reason."""
HELD: Final = "held"
NOT_HELD: Final = "not-held"
"""Refusal reasons (with ``EXPIRED``)."""


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


class Outcome(msgspec.Struct, frozen=True, gc=False):
    """What one lease request did."""

    kind: str
    """``granted``, ``renewed``, ``released`` or ``refused``."""
    territory: str
    holder: str
    lease: Lease | None = None
    """The lease granted, renewed or released (``None`` when refused)."""
    reason: str = ""
    """Why it was refused: ``held``, ``not-held`` or ``expired``."""
    current: Lease | None = None
    """The live lease that caused a ``held`` refusal."""
    reclaimed: Lease | None = None
    """An expired lease this request reclaimed on its way (recorded as expired)."""
    token: int = 0
    """The token the request named (renew, release)."""


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
) -> Outcome:
    """Grant a new lease, or refuse because a live lease exists."""
    if row is not None and now < row.expires:
        return Outcome(REFUSED, territory, holder, reason=HELD, current=row)
    lease = Lease(territory, holder, last_token + 1, now + ttl, now)
    return Outcome(GRANTED, territory, holder, lease, reclaimed=row)


def decide_renew(
    row: Lease | None, territory: str, holder: str, token: int, ttl: float, now: float
) -> Outcome:
    """Extend the caller's live lease, or refuse (and reclaim it if expired)."""
    if row is None or row.token != token or row.holder != holder:
        return Outcome(REFUSED, territory, holder, reason=NOT_HELD, current=row, token=token)
    if now >= row.expires:
        return Outcome(REFUSED, territory, holder, reason=EXPIRED, reclaimed=row, token=token)
    lease = Lease(territory, holder, token, now + ttl, row.granted)
    return Outcome(RENEWED, territory, holder, lease, token=token)


def decide_release(
    row: Lease | None, territory: str, holder: str, token: int, now: float
) -> Outcome:
    """Give the caller's live lease up, or refuse (and reclaim it if expired)."""
    if row is None or row.token != token or row.holder != holder:
        return Outcome(REFUSED, territory, holder, reason=NOT_HELD, current=row, token=token)
    if now >= row.expires:
        return Outcome(REFUSED, territory, holder, reason=EXPIRED, reclaimed=row, token=token)
    return Outcome(RELEASED, territory, holder, row, token=token)
