"""Operating a swarm: stability monitoring, alerts and Prometheus metrics.

* :class:`StabilityMonitor`: samples a system's counters on its clock and
  keeps order parameters over rolling windows (message-rate variance, queue
  oscillation, lease churn, the supervisor's success rate and concurrency
  window); :meth:`~StabilityMonitor.snapshot`,
  :meth:`~StabilityMonitor.history`, :meth:`~StabilityMonitor.active_alerts`.
* :class:`Threshold`: a level and a trend with hysteresis; an :class:`Alert`
  and its :class:`AlertCleared` go to the topic ``ops.alerts``, the ledger,
  the log and the metrics.
* :class:`NodeMetrics`: one ``prometheus_client.CollectorRegistry`` per node
  whose collector reads the runtime's plain counters at scrape time.
* :func:`start_operations`: both at once, for the node.

:class:`NodeMetrics` needs the ``metrics`` extra (``prometheus-client``); the
monitor and its alerts do not. See the "Operations" page.
"""

from protocol._public import publish as _publish_names

from ._alerts import CRITICAL as CRITICAL
from ._alerts import WARNING as WARNING
from ._alerts import Alert as Alert
from ._alerts import AlertCleared as AlertCleared
from ._alerts import AlertTracker as AlertTracker
from ._alerts import Threshold as Threshold
from ._metrics import NodeMetrics as NodeMetrics
from ._monitor import ALERTS_TOPIC as ALERTS_TOPIC
from ._monitor import DEFAULT_THRESHOLDS as DEFAULT_THRESHOLDS
from ._monitor import PARAMETERS as PARAMETERS
from ._monitor import AlertListener as AlertListener
from ._monitor import MonitorConfig as MonitorConfig
from ._monitor import MonitorStatistics as MonitorStatistics
from ._monitor import StabilityMonitor as StabilityMonitor
from ._start import Operations as Operations
from ._start import start_operations as start_operations
from ._views import AlertLike as AlertLike
from ._views import MonitorLike as MonitorLike

__all__ = (
    "ALERTS_TOPIC",
    "CRITICAL",
    "DEFAULT_THRESHOLDS",
    "PARAMETERS",
    "WARNING",
    "Alert",
    "AlertCleared",
    "AlertLike",
    "AlertListener",
    "AlertTracker",
    "MonitorConfig",
    "MonitorLike",
    "MonitorStatistics",
    "NodeMetrics",
    "Operations",
    "StabilityMonitor",
    "Threshold",
    "start_operations",
)

_publish_names(__name__, globals(), __all__)
