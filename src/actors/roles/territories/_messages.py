"""What a :class:`~actors.roles.territories.TerritoryManager` accepts, answers and publishes."""

from __future__ import annotations

from typing import Final

import msgspec

from protocol import Message

from ._leases import Lease
from ._strategies import Territory
from ._telemetry import Balance

__all__ = [
    "TERRITORY_EVENTS",
    "Acquire",
    "AddTerritories",
    "Assignment",
    "AttachGuard",
    "Contention",
    "GetAssignment",
    "GetHeat",
    "GetLeases",
    "GetStatistics",
    "Granted",
    "HeatAlert",
    "HeatCleared",
    "HeatReport",
    "Join",
    "LeaseEnded",
    "Leave",
    "ManagerStatistics",
    "Rebalance",
    "Refused",
    "Release",
    "Released",
    "Renew",
    "Renewed",
    "StaleTokenSeen",
]

TERRITORY_EVENTS: Final = "territories.events"
"""The topic of a manager's :class:`HeatAlert`, :class:`HeatCleared`, :class:`LeaseEnded`."""


class Acquire(Message, tag="territories.acquire"):
    """Ask for a lease on ``territory`` for ``holder``; ``ttl`` seconds (``None``: the default)."""

    territory: str
    holder: str
    ttl: float | None = None


class Renew(Message, tag="territories.renew"):
    """Extend the lease ``holder`` holds on ``territory`` with ``token`` by ``ttl`` from now."""

    territory: str
    holder: str
    token: int
    ttl: float | None = None


class Release(Message, tag="territories.release"):
    """Give up the lease ``holder`` holds on ``territory`` with ``token``."""

    territory: str
    holder: str
    token: int


class Granted(Message, tag="territories.granted"):
    lease: Lease


class Renewed(Message, tag="territories.renewed"):
    lease: Lease


class Released(Message, tag="territories.released"):
    lease: Lease


class Refused(Message, tag="territories.refused"):
    """A lease request refused: ``reason`` is ``held``, ``not-held``, ``expired`` or ``invalid``."""

    territory: str
    holder: str
    reason: str
    token: int = 0
    current_holder: str | None = None
    current_token: int | None = None
    expires: float | None = None
    error: str = ""


class Contention(Message, tag="territories.contention"):
    """Report contention on ``territory`` (a conflicting write, say): heat goes up by ``amount``."""

    territory: str
    amount: float = 1.0


class StaleTokenSeen(Message, tag="territories.stale_token"):
    """A guard refused a stale fenced message (sent by guards to their manager)."""

    territory: str
    token: int
    highest: int
    guard: str = ""


class AttachGuard(Message, tag="territories.attach_guard"):
    """Revoke ended leases at the fencing guard of the local actor at ``path``.

    The manager finds the :class:`~actors.roles.territories.FencingGuard`
    installed on that actor (see :func:`~actors.roles.territories.guard`) and,
    from then on, revokes every lease that ends there at once, so the old
    holder's token is refused even before a newer one is seen; refusals come
    back to the manager as heat. Answers ``True``, or ``False`` when there is no
    such local actor or it has no guard.
    """

    path: str


class Join(Message, tag="territories.join"):
    """An agent (an actor's address, or any id) joins: territories are reassigned."""

    agent: str


class Leave(Message, tag="territories.leave"):
    agent: str


class AddTerritories(Message, tag="territories.add"):
    territories: tuple[Territory, ...]


class Rebalance(Message, tag="territories.rebalance"):
    """Reassign now (the heat-aware strategy reads the current heat)."""


class GetAssignment(Message, tag="territories.get_assignment"):
    pass


class Assignment(Message, tag="territories.assignment"):
    """Who owns what, and how the last reassignment went."""

    strategy: str
    owners: dict[str, str]
    balance: Balance
    moved: int
    """Territories that changed owner in the last reassignment."""
    latency: float
    """Seconds the last reassignment took (the manager's clock)."""


class GetLeases(Message, tag="territories.get_leases"):
    pass


class GetHeat(Message, tag="territories.get_heat"):
    pass


class HeatReport(Message, tag="territories.heat"):
    heat: dict[str, float]
    alerted: tuple[str, ...]


class GetStatistics(Message, tag="territories.get_statistics"):
    pass


class ManagerStatistics(msgspec.Struct, frozen=True):
    """Counters of one territory manager."""

    granted: int
    renewed: int
    released: int
    expired: int
    refused: int
    stale_refused: int
    alerts: int
    clears: int
    leases: int
    """Leases held now (live or awaiting reclaim)."""
    reassignments: int
    moved: int
    """Territories moved over every reassignment."""


class HeatAlert(Message, tag="territories.heat_alert"):
    territory: str
    heat: float
    threshold: float


class HeatCleared(Message, tag="territories.heat_cleared"):
    territory: str
    heat: float
    clear_below: float


class LeaseEnded(Message, tag="territories.lease_ended"):
    """A lease expired or was released (published so holders and guards can react)."""

    territory: str
    holder: str
    token: int
    how: str
