"""What the dashboard shows, behind one small protocol, and the node's adapter.

The dashboard reads a :class:`DashboardSource` on the node's event loop; each
method is synchronous and never blocks (it returns what its owner already
holds). :class:`NodeSource` is the node's source: members from the cluster,
order parameters, history and alerts from a stability monitor (anything with
``snapshot()``, ``history(name)`` and ``active_alerts()``, as
``actors.ops.StabilityMonitor`` has), jobs from a callable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from ..ops import MonitorLike

__all__ = (
    "AlertRow",
    "DashboardSource",
    "JobRow",
    "MemberLike",
    "MemberRow",
    "NodeSource",
)


class MemberRow(msgspec.Struct, frozen=True):
    """One cluster member on the dashboard."""

    node: str
    address: str
    status: str = "up"
    """``up`` or ``unreachable`` (free text: the dashboard shows it as given)."""


class JobRow(msgspec.Struct, frozen=True):
    """One job on the dashboard."""

    job: str
    state: str
    detail: str = ""


class AlertRow(msgspec.Struct, frozen=True):
    """One active alert: an order parameter past its threshold."""

    parameter: str
    level: str
    value: float
    threshold: float
    message: str
    raised_at: float
    """When it was raised, in the monitor's clock (seconds)."""


class DashboardSource(Protocol):
    """What the dashboard reads, on the node's loop; no method may block."""

    def members(self) -> Sequence[MemberRow]: ...

    def parameters(self) -> Mapping[str, float]:
        """Each order parameter's current value, by name."""
        ...

    def history(self, name: str) -> Sequence[float]:
        """The parameter's recent values, oldest first (the sparkline)."""
        ...

    def alerts(self) -> Sequence[AlertRow]: ...

    def jobs(self) -> Sequence[JobRow]: ...


class MemberLike(Protocol):
    """A member as ``actors.cluster.Cluster.members()`` gives it."""

    @property
    def node(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def reachable(self) -> bool: ...


class NodeSource:
    """The node's :class:`DashboardSource`, assembled from the parts it has.

    ``members`` is a callable such as ``lambda: cluster.members``; ``monitor`` gives the
    order parameters, their history and the active alerts; ``jobs`` lists jobs.
    A part left out shows as empty.
    """

    def __init__(
        self,
        *,
        members: Callable[[], Sequence[MemberLike]] | None = None,
        monitor: MonitorLike | None = None,
        jobs: Callable[[], Sequence[JobRow]] | None = None,
    ) -> None:
        self._members = members
        self._monitor = monitor
        self._jobs = jobs

    def members(self) -> Sequence[MemberRow]:
        if self._members is None:
            return ()
        return tuple(
            MemberRow(m.node, m.address, "up" if m.reachable else "unreachable")
            for m in self._members()
        )

    def parameters(self) -> Mapping[str, float]:
        return {} if self._monitor is None else self._monitor.snapshot()

    def history(self, name: str) -> Sequence[float]:
        return () if self._monitor is None else self._monitor.history(name)

    def alerts(self) -> Sequence[AlertRow]:
        if self._monitor is None:
            return ()
        return tuple(
            AlertRow(
                str(a.parameter),
                str(a.level),
                float(a.value),
                float(a.threshold),
                str(a.message),
                float(a.raised_at),
            )
            for a in self._monitor.active_alerts()
        )

    def jobs(self) -> Sequence[JobRow]:
        return () if self._jobs is None else self._jobs()
