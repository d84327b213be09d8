"""One call for the node: start a system's stability monitor and build its metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from ._metrics import NodeMetrics
from ._monitor import MonitorConfig, StabilityMonitor

if TYPE_CHECKING:
    from actors import ActorRef, ActorSystem

__all__ = ["Operations", "start_operations"]


class Operations(msgspec.Struct, frozen=True):
    """What :func:`start_operations` started: the monitor and the metrics over it."""

    monitor: StabilityMonitor
    metrics: NodeMetrics

    def stop(self) -> None:
        """Stop sampling (it also stops by itself when the system stops)."""
        self.monitor.stop()


def start_operations(
    system: ActorSystem,
    *,
    remote: Any = None,
    cluster: Any = None,
    ledger: Any = None,
    supervisor: ActorRef[Any] | None = None,
    territories: ActorRef[Any] | None = None,
    config: MonitorConfig | None = None,
) -> Operations:
    """Start a :class:`StabilityMonitor` on ``system`` and a :class:`NodeMetrics` reading it.

    Call it inside the running system (``async with system:``), once the
    parts it reports on exist: ``remote``, ``cluster`` and ``ledger`` add
    their metrics, ``supervisor`` and ``territories`` (refs to a local job
    supervisor and territory manager) add their order parameters and
    metrics. Serve ``operations.metrics.registry`` on ``/metrics``.
    """
    # Any: the parts are read through their statistics() records (duck-typed).
    monitor = StabilityMonitor(
        system,
        config=config,
        supervisor=supervisor,
        territories=territories,
        ledger=ledger,
    )
    monitor.start()
    metrics = NodeMetrics(system, remote=remote, cluster=cluster, ledger=ledger, monitor=monitor)
    return Operations(monitor, metrics)
