"""Prometheus metrics for one node: a registry, and a collector that reads at scrape time.

:class:`NodeMetrics` owns one :class:`prometheus_client.CollectorRegistry`
holding one collector. Nothing is counted for the metrics: at each scrape
the collector reads the plain counters the runtime keeps anyway (the
system's lifetime totals, each live actor's mailbox, the remote transport's,
the cluster's, the ledger's and the maintenance pool's statistics, the last
sample of a :class:`~actors.ops.StabilityMonitor`), so the hot paths pay
nothing. Every name starts with ``tadpole_``; docs/operations.md lists them.

Serve it with ``prometheus_client.generate_latest(metrics.registry)``.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any, cast

from ..lowlevel import cells, totals

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector

    from actors import ActorSystem

    from ._monitor import StabilityMonitor

__all__ = ["JOB_STATES", "NodeMetrics", "RuntimeCollector", "metrics_available"]

_MISSING = (
    "actors.ops.NodeMetrics needs prometheus-client: install the metrics extra "
    "(pip install 'tadpole-actors[metrics]')"
)


def metrics_available() -> bool:
    """Whether prometheus-client (the ``metrics`` extra) is installed.

    The monitor and its alerts work without it; only :class:`NodeMetrics` needs it.
    """
    return importlib.util.find_spec("prometheus_client") is not None


JOB_STATES = ("queued", "waiting", "running", "completed", "failed", "needs_review", "unread")
"""The job counts exported as ``tadpole_jobs{state=...}``, from the supervisor's statistics."""


class NodeMetrics:
    """One node's Prometheus registry (:attr:`registry`) over its system and parts.

    ``remote`` (a :class:`~actors.remote.RemoteNode`), ``cluster`` (a
    :class:`~actors.cluster.Cluster`), ``ledger`` (a
    :class:`~actors.ledger.Ledger`; default: the system's, when it has
    ``statistics``) and ``monitor`` add their metrics when given.
    """

    def __init__(
        self,
        system: ActorSystem,
        *,
        remote: Any = None,
        cluster: Any = None,
        ledger: Any = None,
        monitor: StabilityMonitor | None = None,
    ) -> None:
        # Any: each part is read only through its statistics() record (duck-typed,
        # so the metrics import none of the wings they report on).
        try:
            from prometheus_client import CollectorRegistry
        except ImportError as missing:
            raise ImportError(_MISSING) from missing
        if ledger is None and hasattr(system.ledger, "statistics"):
            ledger = system.ledger
        self.registry = CollectorRegistry(auto_describe=False)
        """The node's own registry (never the process-global default one)."""
        self.collector = RuntimeCollector(
            system, remote=remote, cluster=cluster, ledger=ledger, monitor=monitor
        )
        # Duck-typed: a collector is anything with collect(); the class itself does not
        # derive from prometheus-client's so that importing actors.ops does not need it.
        self.registry.register(cast("Collector", self.collector))


class RuntimeCollector:
    """Reads the runtime's counters into metric families at each scrape."""

    def __init__(
        self,
        system: ActorSystem,
        *,
        remote: Any = None,
        cluster: Any = None,
        ledger: Any = None,
        monitor: StabilityMonitor | None = None,
    ) -> None:
        self.system = system
        self.remote = remote
        self.cluster = cluster
        self.ledger = ledger
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        yield from self._system()
        yield from self._maintenance()
        if self.remote is not None:
            yield from self._remote(self.remote.statistics())
        if self.cluster is not None:
            yield from self._cluster(self.cluster.statistics())
        if self.ledger is not None:
            yield from self._ledger(self.ledger.statistics())
        if self.monitor is not None:
            yield from self._monitor(self.monitor)

    def _system(self) -> Iterator[Metric]:
        system = self.system
        t = totals(system)
        live = cells(system)
        depths = [len(cell) for cell in live]
        yield _gauge("tadpole_actors", "Live actors.", len(live))
        yield _gauge(
            "tadpole_actor_loops",
            "Live actors holding a loop task (the others are dormant or hibernating).",
            sum(1 for cell in live if cell.task is not None),
        )
        yield _counter(
            "tadpole_messages_processed", "Messages handled by actors.", t.messages_processed
        )
        yield _counter(
            "tadpole_messages_enqueued",
            "Messages and asks accepted into mailboxes.",
            t.messages_enqueued,
        )
        yield _counter(
            "tadpole_messages_dropped", "Messages a full mailbox dropped or refused.", t.dropped
        )
        yield _gauge("tadpole_mailbox_depth", "Messages waiting in every mailbox.", sum(depths))
        yield _gauge("tadpole_mailbox_depth_max", "The deepest mailbox.", max(depths, default=0))
        yield _counter(
            "tadpole_dead_letters", "Messages sent to dead letters.", system.dead_letters.count
        )
        yield _counter("tadpole_restarts", "Actor restarts.", t.restarts)
        yield _counter("tadpole_failures", "Actor failures.", t.failures)
        yield _counter("tadpole_asks", "Asks given a correlation id.", t.asks)
        yield _counter("tadpole_ask_timeouts", "Local asks that timed out.", t.ask_timeouts)
        topics = system.topics
        yield _counter("tadpole_topic_published", "Messages published on topics.", topics.published)

    def _maintenance(self) -> Iterator[Metric]:
        stats = self.system.maintenance.statistics()
        pool = stats.pool
        queue = (
            0 if pool is None else pool.injection_queue + sum(w.deque.size for w in pool.workers)
        )
        steals = 0 if pool is None else pool.steals
        completed = 0 if pool is None else pool.completed
        yield _gauge("tadpole_scheduler_queue", "Jobs waiting in the maintenance pool.", queue)
        yield _counter("tadpole_scheduler_steals", "Jobs stolen between pool workers.", steals)
        yield _counter("tadpole_scheduler_completed", "Jobs the pool executed.", completed)

    def _remote(self, s: Any) -> Iterator[Metric]:
        yield _counter("tadpole_remote_bytes_sent", "Bytes written to peers.", s.bytes_sent)
        yield _counter("tadpole_remote_bytes_received", "Bytes read from peers.", s.bytes_received)
        yield _counter("tadpole_remote_messages_sent", "Messages sent to peers.", s.messages_sent)
        yield _counter(
            "tadpole_remote_messages_received", "Messages from peers.", s.messages_received
        )
        yield _gauge("tadpole_remote_connections", "Open connections to peers.", s.connections)
        yield _counter(
            "tadpole_remote_connections_opened", "Connections opened.", s.connections_opened
        )
        yield _counter(
            "tadpole_remote_connect_failures", "Failed connection attempts.", s.connect_failures
        )
        yield _gauge(
            "tadpole_remote_asks_in_flight", "Asks to peers awaiting an answer.", s.asks_in_flight
        )
        yield _counter("tadpole_remote_ask_timeouts", "Asks to peers that expired.", s.asks_expired)
        yield _counter("tadpole_remote_dropped", "Messages to peers dropped.", s.dropped)

    def _cluster(self, s: Any) -> Iterator[Metric]:
        yield _gauge(
            "tadpole_cluster_members", "Members this node knows (itself included).", s.members
        )
        yield _gauge("tadpole_cluster_unreachable", "Members marked unreachable.", s.unreachable)
        yield _counter("tadpole_cluster_downed", "Members downed.", s.downed)
        yield _counter("tadpole_cluster_heartbeats_sent", "Heartbeats sent.", s.heartbeats_sent)

    def _ledger(self, s: Any) -> Iterator[Metric]:
        yield _counter(
            "tadpole_ledger_appends", "Records appended (the head's sequence number).", s.head_seq
        )
        yield _gauge("tadpole_ledger_committed_seq", "The last committed record.", s.committed_seq)
        yield _gauge(
            "tadpole_ledger_lag",
            "Records appended, not yet committed.",
            s.head_seq - s.committed_seq,
        )
        yield _gauge(
            "tadpole_ledger_durability_lag",
            "Records committed, not yet fsynced.",
            s.committed_seq - s.durable_seq,
        )
        yield _counter("tadpole_ledger_batches", "Batches committed.", s.batches)

    def _monitor(self, monitor: StabilityMonitor) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        params = GaugeMetricFamily(
            "tadpole_order_parameter",
            "Order parameters (docs/operations.md).",
            labels=["parameter"],
        )
        for name, value in sorted(monitor.snapshot().items()):
            params.add_metric([name], value)
        yield params
        active = GaugeMetricFamily(
            "tadpole_alert_active", "Alerts raised and not cleared.", labels=["parameter", "level"]
        )
        for alert in monitor.active_alerts():
            active.add_metric([alert.parameter, alert.level], 1.0)
        yield active
        raised = CounterMetricFamily(
            "tadpole_alerts_raised", "Alerts raised.", labels=["parameter", "level"]
        )
        for (parameter, level), count in sorted(monitor.raised.items()):
            raised.add_metric([parameter, level], count)
        yield raised
        sup = monitor.last_supervisor
        if sup is not None:
            jobs = GaugeMetricFamily("tadpole_jobs", "Jobs by state.", labels=["state"])
            for state in JOB_STATES:
                jobs.add_metric([state], float(getattr(sup, state, 0)))
            yield jobs
            yield _gauge("tadpole_jobs_window", "The supervisor's concurrency window.", sup.window)
            yield _gauge("tadpole_tadpoles", "The supervisor's tadpoles.", sup.tadpoles)
        man = monitor.last_territories
        if man is not None:
            yield _gauge("tadpole_leases", "Leases held.", man.leases)
            events = CounterMetricFamily("tadpole_lease_events", "Lease events.", labels=["event"])
            for event in ("granted", "renewed", "released", "expired", "refused", "stale_refused"):
                events.add_metric([event], float(getattr(man, event)))
            yield events
            heat = monitor.last_heat
            if heat is not None:
                family = GaugeMetricFamily(
                    "tadpole_heat", "Heat by territory.", labels=["territory"]
                )
                for territory, value in sorted(heat.items()):
                    family.add_metric([territory], value)
                yield family


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    from prometheus_client.core import GaugeMetricFamily

    return GaugeMetricFamily(name, documentation, value=float(value))


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    from prometheus_client.core import CounterMetricFamily

    return CounterMetricFamily(name, documentation, value=float(value))
