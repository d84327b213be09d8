"""The stability monitor: samples a system's counters, computes order parameters, alerts.

Once per ``interval`` (on the system's clock, so virtual time drives it in a
simulation) the monitor reads counters the runtime keeps anyway, without
sending a message or touching a hot path:

* every live actor's cell (through :func:`actors.lowlevel.cells`): messages
  processed and mailbox depth;
* a job supervisor's :meth:`statistics` (``actors.roles.JobSupervisor``):
  completed, failed, queued, the concurrency window;
* a territory manager's :meth:`statistics`
  (``actors.roles.territories.TerritoryManager``): leases granted, expired,
  refused.

A supervisor or manager not given is *discovered*: at each sample, the first
live actor (in registration order) whose ``statistics()`` record has a
supervisor's counters (``completed``, ``failed``, ``queued``, ``window``), or
a manager's (``granted``, ``expired``, ``refused``), is sampled. So an
application that spawns one after the monitor started (as a node's ``--app``
does) has it sampled with no wiring; :meth:`StabilityMonitor.watch` names one
instead. Each actor class is classified once, by one call of its instance's
``statistics()``; ops imports none of the roles.

From the rolling windows of those samples it computes the order parameters
of :mod:`actors.ops._params` (formulas there and in docs/operations.md),
feeds each to its :class:`~actors.ops.Threshold`'s hysteresis, and sends
every :class:`~actors.ops.Alert` and :class:`~actors.ops.AlertCleared` four
ways: published on the system topic ``ops.alerts``, appended to the ledger
(kinds ``ops.alert`` and ``ops.alert_cleared``), logged
(``stability_alert_raised`` at warning, ``stability_alert_cleared`` at info),
and counted for the metrics (:class:`~actors.ops.NodeMetrics`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Self

import msgspec
import structlog

from ..lowlevel import cell_of, cells
from . import _params
from ._alerts import Alert, AlertCleared, AlertTracker, Threshold

if TYPE_CHECKING:
    from types import TracebackType

    from actors import ActorRef, ActorSystem, Cancellable, RecordSink

__all__ = [
    "ALERTS_TOPIC",
    "DEFAULT_THRESHOLDS",
    "PARAMETERS",
    "AlertListener",
    "MonitorConfig",
    "MonitorStatistics",
    "StabilityMonitor",
]

logger = structlog.get_logger(__name__)

ALERTS_TOPIC = "ops.alerts"
"""The system topic every :class:`Alert` and :class:`AlertCleared` is published on."""

ALERT_RECORD = "ops.alert"
CLEARED_RECORD = "ops.alert_cleared"

PARAMETERS = (
    "message_rate_variance",
    "mailbox_amplitude",
    "mailbox_reversals",
    "backlog_amplitude",
    "backlog_reversals",
    "lease_churn",
    "success_rate",
    "concurrency_window",
)
"""Every order parameter's name; the last five only with a supervisor or manager."""

DEFAULT_THRESHOLDS = (
    Threshold("message_rate_variance", raise_at=4.0, clear_at=1.0, trend=0.5),
    Threshold("mailbox_amplitude", raise_at=1000.0, clear_at=200.0, trend=50.0),
    Threshold("mailbox_reversals", raise_at=20.0, clear_at=6.0),
    Threshold("backlog_amplitude", raise_at=100.0, clear_at=20.0, trend=5.0),
    Threshold("backlog_reversals", raise_at=20.0, clear_at=6.0),
    Threshold("lease_churn", raise_at=20.0, clear_at=5.0, trend=2.0),
    Threshold("success_rate", raise_at=0.8, clear_at=0.9, direction="below"),
    Threshold("concurrency_window", raise_at=2.0, clear_at=4.0, direction="below"),
)
"""Thresholds used unless :class:`MonitorConfig` names others (tune them per swarm)."""

AlertListener = Callable[[Alert | AlertCleared], object]
"""Called with each alert and clear as it happens (on the event loop; must not block)."""


class MonitorConfig(msgspec.Struct, frozen=True):
    """The monitor's sampling interval, windows (seconds), history and thresholds."""

    interval: float = 1.0
    """Seconds between samples."""
    rate_window: float = 10.0
    """Window of ``message_rate_variance``."""
    queue_window: float = 30.0
    """Window of the ``*_amplitude`` and ``*_reversals`` parameters."""
    churn_window: float = 10.0
    """Window of ``lease_churn``."""
    outcome_window: float = 30.0
    """Window of ``success_rate``."""
    queue_noise: float = 1.0
    """Queue steps of at most this size are not counted as reversals."""
    history: int = 120
    """Samples kept per parameter for :meth:`StabilityMonitor.history`."""
    thresholds: tuple[Threshold, ...] = DEFAULT_THRESHOLDS
    topic: str = ALERTS_TOPIC

    def __post_init__(self) -> None:
        for name in ("interval", "rate_window", "queue_window", "churn_window", "outcome_window"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"MonitorConfig.{name} must be > 0 seconds, got {value!r}")
        if self.history < 2:
            raise ValueError(f"MonitorConfig.history must be >= 2, got {self.history!r}")
        if self.queue_noise < 0:
            raise ValueError(f"MonitorConfig.queue_noise must be >= 0, got {self.queue_noise!r}")
        names = [t.parameter for t in self.thresholds]
        unknown = sorted(set(names) - set(PARAMETERS))
        if unknown:
            raise ValueError(f"MonitorConfig.thresholds name unknown parameters: {unknown}")
        if len(set(names)) != len(names):
            raise ValueError("MonitorConfig.thresholds: at most one threshold per parameter")


class MonitorStatistics(msgspec.Struct, frozen=True):
    """A snapshot of a monitor's counters."""

    running: bool
    samples: int
    """Samples taken since it started."""
    alerts_raised: int
    """Alerts raised, escalations from warning to critical included."""
    alerts_cleared: int
    active: int
    """Alerts raised and not cleared now."""


class _SupervisorCounters(Protocol):
    completed: int
    failed: int
    queued: int
    window: int


class _ManagerCounters(Protocol):
    granted: int
    expired: int
    refused: int


_SUPERVISOR_FIELDS = ("completed", "failed", "queued", "window")
_MANAGER_FIELDS = ("granted", "expired", "refused")
_SUPERVISOR = "supervisor"
_TERRITORIES = "territories"


def _classify(instance: object) -> str | None:
    """``supervisor``, ``territories`` or ``None``, by the fields of ``instance.statistics()``.

    Raises what ``statistics()`` raises (the caller classifies it again later).
    """
    statistics = getattr(instance, "statistics", None)
    if not callable(statistics):
        return None
    record = statistics()
    if all(isinstance(getattr(record, f, None), int) for f in _SUPERVISOR_FIELDS):
        return _SUPERVISOR
    if all(isinstance(getattr(record, f, None), int) for f in _MANAGER_FIELDS):
        return _TERRITORIES
    return None


class _Sample(msgspec.Struct):
    at: float
    depth: float
    backlog: float | None
    churn: float | None
    completed: int | None
    failed: int | None


class StabilityMonitor:
    """Samples one system and keeps its order parameters and alerts.

    ``supervisor`` and ``territories`` are refs to a local
    ``actors.roles.JobSupervisor`` and ``TerritoryManager``; each adds its
    parameters. Left ``None``, each is discovered among the live actors at
    every sample (see the module docstring); :attr:`supervisor` and
    :attr:`territories` then hold the one sampled last. ``ledger`` defaults
    to the system's. Start it inside the
    running system (``async with StabilityMonitor(system) as monitor:`` or
    :meth:`start`/:meth:`stop`); it stops by itself when the system stops.
    """

    def __init__(
        self,
        system: ActorSystem,
        *,
        config: MonitorConfig | None = None,
        supervisor: ActorRef[Any] | None = None,
        territories: ActorRef[Any] | None = None,
        ledger: RecordSink | None = None,
    ) -> None:
        self.system = system
        self.config = config if config is not None else MonitorConfig()
        self.supervisor = supervisor
        """The job supervisor sampled: the one given, else the one discovered last."""
        self.territories = territories
        """The territory manager sampled: the one given, else the one discovered last."""
        self._discover = {_SUPERVISOR: supervisor is None, _TERRITORIES: territories is None}
        self._kinds: dict[type, str | None] = {}
        self.ledger = ledger if ledger is not None else system.ledger
        c = self.config
        self._trackers = {t.parameter: AlertTracker(t) for t in c.thresholds}
        self._samples: deque[_Sample] = deque()
        self._processed: deque[tuple[float, dict[int, int]]] = deque()
        # Per parameter: (sample time, value); a parameter whose source was
        # missing at a sample (a supervisor restarting) skips it.
        self._history: dict[str, deque[tuple[float, float]]] = {}
        self._values: dict[str, float] = {}
        self._listeners: list[AlertListener] = []
        self._handle: Cancellable | None = None
        self._started: float | None = None
        self._windows = _windows(c)
        self.samples = 0
        """Samples taken since the monitor started."""
        self.raised: dict[tuple[str, str], int] = {}
        """Alerts raised so far, by (parameter, level)."""
        self.cleared: dict[str, int] = {}
        """Alerts cleared so far, by parameter."""
        self.last_supervisor: Any = None
        """The supervisor's last sampled statistics (``SupervisorStatistics``), if any."""
        self.last_territories: Any = None
        """The manager's last sampled statistics (``ManagerStatistics``), if any."""
        self.last_heat: dict[str, float] | None = None
        """The manager's heat by territory at the last sample, if any."""
        for ref in (supervisor, territories):
            if ref is not None:
                cell_of(ref)  # a TypeError now for a ref that is not local

    # -- the interface the node, its dashboard and the CLI read ------------------------

    def snapshot(self) -> Mapping[str, float]:
        """The current value of each order parameter, by name."""
        return dict(self._values)

    def history(self, name: str) -> Sequence[float]:
        """Recent values of parameter ``name``, oldest first (empty if unknown)."""
        return tuple(value for _, value in self._history.get(name, ()))

    def times(self, name: str) -> Sequence[float]:
        """The clock's ``now`` of each value :meth:`history` returns for ``name``."""
        return tuple(at for at, _ in self._history.get(name, ()))

    def active_alerts(self) -> Sequence[Alert]:
        """The alerts raised and not cleared yet, in parameter order."""
        return tuple(
            tracker.active for tracker in self._trackers.values() if tracker.active is not None
        )

    def subscribe(self, listener: AlertListener) -> Callable[[], None]:
        """Call ``listener`` with every alert and clear; returns a function that unsubscribes.

        Actors subscribe to the system topic :data:`ALERTS_TOPIC` instead
        (``system.topics.subscribe("ops.alerts", ref)``).
        """
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def watch(
        self,
        *,
        supervisor: ActorRef[Any] | None = None,
        territories: ActorRef[Any] | None = None,
    ) -> None:
        """Sample this supervisor and/or territory manager from now on, instead of discovering.

        The registration hook for an application that runs several and wants
        one in particular; a part left ``None`` keeps what it had.
        """
        for ref in (supervisor, territories):
            if ref is not None:
                cell_of(ref)  # a TypeError now for a ref that is not local
        if supervisor is not None:
            self.supervisor = supervisor
            self._discover[_SUPERVISOR] = False
        if territories is not None:
            self.territories = territories
            self._discover[_TERRITORIES] = False

    def reconfigure(self, config: MonitorConfig) -> None:
        """Use ``config`` from the next sample on (the node's app tunes the node's monitor so).

        Samples taken so far stay and are read through the new windows. A
        threshold that is unchanged keeps its state; an active alert whose
        threshold changed or went away is cleared (an :class:`AlertCleared`
        sent the four ways, saying so), and the new threshold judges the
        parameter afresh. A new ``interval`` applies from the next tick.
        """
        old = self.config
        self.config = config
        self._windows = _windows(config)
        trackers: dict[str, AlertTracker] = {}
        for threshold in config.thresholds:
            kept = self._trackers.get(threshold.parameter)
            if kept is not None and kept.threshold == threshold:
                trackers[threshold.parameter] = kept
            else:
                trackers[threshold.parameter] = AlertTracker(threshold)
        wall = self.system.clock.wall()
        for name, tracker in self._trackers.items():
            active = tracker.active
            if active is None or trackers.get(name) is tracker:
                continue
            tracker.active = None
            self._emit(
                AlertCleared(
                    parameter=name,
                    level=active.level,
                    value=self._values.get(name, active.value),
                    threshold=tracker.threshold.clear_at,
                    message=f"{name} alert withdrawn: its threshold was reconfigured",
                    raised_at=active.raised_at,
                    cleared_at=wall,
                )
            )
        self._trackers = trackers
        if config.history != old.history:
            self._history = {
                name: deque(series, maxlen=config.history) for name, series in self._history.items()
            }
        if self._handle is not None and config.interval != old.interval:
            self._handle.cancel()
            self._handle = self.system.clock.call_later(config.interval, self._tick)

    def statistics(self) -> MonitorStatistics:
        return MonitorStatistics(
            running=self.running,
            samples=self.samples,
            alerts_raised=sum(self.raised.values()),
            alerts_cleared=sum(self.cleared.values()),
            active=len(self.active_alerts()),
        )

    # -- running -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._handle is not None

    def start(self) -> None:
        """Take a first sample and sample every ``interval`` from now (idempotent)."""
        if self._handle is not None:
            return
        self._started = self.system.clock.now()
        self.sample()
        self._handle = self.system.clock.call_later(self.config.interval, self._tick)

    def stop(self) -> None:
        """Stop sampling (idempotent); what was computed stays readable."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _tick(self) -> None:
        if self._handle is None:
            return
        if not self.system.running:
            self._handle = None
            return
        try:
            self.sample()
        except Exception:
            logger.exception("stability_sample_failed", system=self.system.name)
        self._handle = self.system.clock.call_later(self.config.interval, self._tick)

    # -- sampling ----------------------------------------------------------------------

    def sample(self) -> Mapping[str, float]:
        """Sample now, update every parameter and alert; returns the new snapshot."""
        c = self.config
        clock = self.system.clock
        now = clock.now()
        # By the cell's uid (unique per process): an actor stopped and started again
        # under the same path is another actor, counted from 0.
        processed: dict[int, int] = {}
        depth = 0
        discover = self._discover
        found: dict[str, ActorRef[Any]] = {}
        kinds = self._kinds
        for cell in cells(self.system):
            processed[cell.uid] = cell.processed
            depth += len(cell)
            if discover[_SUPERVISOR] or discover[_TERRITORIES]:
                instance = cell.instance
                if instance is None:
                    continue
                kind = kinds.get(type(instance), "?")
                if kind == "?":
                    try:
                        kind = kinds[type(instance)] = _classify(instance)
                    except Exception:  # not ready to say: asked again at the next sample
                        continue
                if kind is not None and discover[kind] and kind not in found:
                    found[kind] = cell.ref
        if discover[_SUPERVISOR]:
            self.supervisor = found.get(_SUPERVISOR)
        if discover[_TERRITORIES]:
            self.territories = found.get(_TERRITORIES)
        sup = self._statistics(self.supervisor)
        man = self._statistics(self.territories)
        self.last_supervisor = sup
        self.last_territories = man
        self.last_heat = None if man is None else self._heat(clock.wall())
        sample = _Sample(
            at=now,
            depth=float(depth),
            backlog=None if sup is None else float(sup.queued),
            churn=None if man is None else float(man.granted + man.expired + man.refused),
            completed=None if sup is None else sup.completed,
            failed=None if sup is None else sup.failed,
        )
        self._samples.append(sample)
        self._processed.append((now, processed))
        longest = max(c.queue_window, c.churn_window, c.outcome_window)
        _trim(self._samples, now - longest)
        _trim(self._processed, now - c.rate_window)

        values: dict[str, float] = {}
        start, counts = self._processed[0]
        values["message_rate_variance"] = _params.rate_variance(counts, processed, now - start)
        queue = _since(self._samples, now - c.queue_window)
        span = now - queue[0].at
        depths = [s.depth for s in queue]
        values["mailbox_amplitude"] = _params.amplitude(depths)
        values["mailbox_reversals"] = _params.reversals_per_minute(depths, span, c.queue_noise)
        if sup is not None:
            backlog = [s.backlog for s in queue if s.backlog is not None]
            values["backlog_amplitude"] = _params.amplitude(backlog)
            values["backlog_reversals"] = _params.reversals_per_minute(backlog, span, c.queue_noise)
            window = _since(self._samples, now - c.outcome_window)
            outcomes = [s for s in window if s.completed is not None]
            first = outcomes[0] if outcomes else sample
            values["success_rate"] = _params.success_rate(
                sup.completed - (first.completed or 0), sup.failed - (first.failed or 0)
            )
            values["concurrency_window"] = float(sup.window)
        if man is not None:
            churn = [s for s in _since(self._samples, now - c.churn_window) if s.churn is not None]
            first_churn = churn[0]
            values["lease_churn"] = _params.delta_rate(
                first_churn.churn or 0.0, sample.churn or 0.0, now - first_churn.at
            )
        self._values = values
        for name, value in values.items():
            series = self._history.get(name)
            if series is None:
                series = self._history[name] = deque(maxlen=c.history)
            series.append((now, value))
        self.samples += 1
        if self._started is None:
            self._started = now
        self._check(values, now - self._started, clock.wall())
        return dict(values)

    def _statistics(self, ref: ActorRef[Any] | None) -> Any:
        # Any: a JobSupervisor's or TerritoryManager's statistics record (duck-typed,
        # so ops needs no import of the roles); None when absent or not running.
        if ref is None:
            return None
        instance = cell_of(ref).instance
        statistics = getattr(instance, "statistics", None)
        return None if statistics is None else statistics()

    def _heat(self, wall: float) -> dict[str, float] | None:
        assert self.territories is not None
        heat = getattr(cell_of(self.territories).instance, "heat", None)
        snapshot = getattr(heat, "snapshot", None)
        return None if snapshot is None else dict(snapshot(wall))

    # -- alerts ------------------------------------------------------------------------

    def _check(self, values: Mapping[str, float], running: float, wall: float) -> None:
        for name, tracker in self._trackers.items():
            value = values.get(name)
            if value is None or running < self._windows[name]:
                continue  # no alert before the parameter's first full window
            n = tracker.threshold.trend_samples
            recent = list(self._history[name])[-n:]
            trend = _params.slope([at for at, _ in recent], [v for _, v in recent])
            event = tracker.observe(value, trend, wall)
            if event is not None:
                self._emit(event)

    def _emit(self, event: Alert | AlertCleared) -> None:
        system = self.system
        fields = msgspec.structs.asdict(event)
        if isinstance(event, Alert):
            key = (event.parameter, event.level)
            self.raised[key] = self.raised.get(key, 0) + 1
            logger.warning("stability_alert_raised", system=system.name, **fields)
            kind = ALERT_RECORD
        else:
            self.cleared[event.parameter] = self.cleared.get(event.parameter, 0) + 1
            logger.info("stability_alert_cleared", system=system.name, **fields)
            kind = CLEARED_RECORD
        if self.ledger is not None:
            try:
                self.ledger.append_nowait(kind, fields)
            except Exception as exc:  # a full or closed ledger must not stop monitoring
                logger.warning("stability_alert_not_recorded", kind=kind, error=repr(exc))
        system.topics.publish(self.config.topic, event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("stability_listener_failed", parameter=event.parameter)


def _windows(c: MonitorConfig) -> dict[str, float]:
    """Each parameter's window: no alert on it before the monitor ran that long."""
    return {
        "message_rate_variance": c.rate_window,
        "mailbox_amplitude": c.queue_window,
        "mailbox_reversals": c.queue_window,
        "backlog_amplitude": c.queue_window,
        "backlog_reversals": c.queue_window,
        "lease_churn": c.churn_window,
        "success_rate": c.outcome_window,
        "concurrency_window": c.interval,
    }


def _trim(window: deque[Any], oldest: float) -> None:
    """Drop entries before ``oldest`` but keep the last one at or before it (the window's start)."""
    while len(window) > 1 and _at(window[1]) <= oldest:
        window.popleft()


def _at(entry: Any) -> float:
    return entry.at if isinstance(entry, _Sample) else float(entry[0])


def _since(window: deque[_Sample], oldest: float) -> list[_Sample]:
    """The samples of ``window`` from the last one at or before ``oldest`` on."""
    items = list(window)
    first = 0
    for index, sample in enumerate(items):
        if sample.at <= oldest:
            first = index
        else:
            break
    return items[first:]
