"""Where the admin actor finds what it reports: :class:`AdminSources`.

The node fills in what it owns (its cluster, its ledger); the application
(``--app``) or the node's wiring adds what it runs: a job supervisor, a
territory manager, a stability monitor. A job supervisor or territory manager
left unset is looked for among the system's live actors (the first by path),
so an application that spawns one needs no wiring to have it reported.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .. import ActorRef
    from ..cluster import Cluster
    from ..ledger import Ledger
    from ..ops import MonitorLike
    from ..remote import RemoteNode

__all__ = ["AdminSources"]


@dataclasses.dataclass
class AdminSources:
    """What the node's admin actor reports on; every part is optional.

    Set attributes any time: the admin actor reads them at each query.
    """

    remote: RemoteNode | None = None
    """The node's network endpoint (its name and address)."""
    cluster: Cluster | None = None
    """Membership, for ``status``."""
    ledger: Ledger | None = None
    """The node's ledger, for job traces and ``ledger`` queries."""
    jobs: ActorRef[Any] | None = None
    """A :class:`~actors.roles.JobSupervisor` (``None``: the first one alive)."""
    territories: ActorRef[Any] | None = None
    """A :class:`~actors.roles.territories.TerritoryManager` (``None``: the first one alive)."""
    stability: MonitorLike | None = None
    """The order parameters and alerts (an ``actors.ops.StabilityMonitor``)."""
    version: str = ""
    """The version ``status`` reports (empty: the installed package's)."""
