"""One call for the node: start a system's stability monitor and build its metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from ._metrics import NodeMetrics, metrics_available
from ._monitor import MonitorConfig, StabilityMonitor

if TYPE_CHECKING:
    from actors import ActorRef, ActorSystem

__all__ = ["Operations", "start_operations"]


class Operations(msgspec.Struct, frozen=True):
    """What :func:`start_operations` started: the monitor and the metrics over it."""

    monitor: StabilityMonitor
    metrics: NodeMetrics | None
    """``None`` when started with ``metrics=False`` (or without prometheus-client and
    ``metrics=None``)."""

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
    metrics: bool | None = True,
) -> Operations:
    """Start a :class:`StabilityMonitor` on ``system`` and a :class:`NodeMetrics` reading it.

    Call it inside the running system (``async with system:``), once the
    parts it reports on exist: ``remote``, ``cluster`` and ``ledger`` add
    their metrics, ``supervisor`` and ``territories`` (refs to a local job
    supervisor and territory manager) add their order parameters and
    metrics. Serve ``operations.metrics.registry`` on ``/metrics``.

    ``metrics=True`` needs prometheus-client (the ``metrics`` extra) and
    raises :class:`ImportError` without it, before anything starts;
    ``metrics=None`` builds the metrics only where it is installed (what the
    node does); ``False`` starts the monitor alone.
    """
    if metrics is None:
        metrics = metrics_available()
    # Any: the parts are read through their statistics() records (duck-typed).
    node_metrics = None
    monitor = StabilityMonitor(
        system,
        config=config,
        supervisor=supervisor,
        territories=territories,
        ledger=ledger,
    )
    if metrics:  # before the monitor starts: a missing extra leaves nothing running
        node_metrics = NodeMetrics(
            system, remote=remote, cluster=cluster, ledger=ledger, monitor=monitor
        )
    monitor.start()
    return Operations(monitor, node_metrics)
