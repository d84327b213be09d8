"""Alerts on order parameters: a level, a trend, and hysteresis so nothing flaps.

A :class:`Threshold` watches one parameter. With ``direction="above"``
(``"below"`` mirrors every comparison):

* **critical** (the level): raised when the value reaches ``raise_at``;
* **warning** (the trend, an approaching transition): raised when the
  value's slope over the last ``trend_samples`` samples reaches ``trend``
  (units per second) while the value is already past ``clear_at`` but not
  yet at ``raise_at``; a warning becomes critical when the level is reached;
* **cleared**: an active alert of either level clears only once the value is
  back at or past ``clear_at``, which lies on the calm side of ``raise_at``.

So between a raise and its clear the value has crossed the whole band from
``raise_at`` (or, for a warning, the trend) to ``clear_at``: a value
wandering inside the band changes nothing, and an alert never flaps.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from protocol import Message

__all__ = ["CRITICAL", "WARNING", "Alert", "AlertCleared", "AlertTracker", "Threshold"]

WARNING = "warning"
"""An alert's level when the trend says a transition is coming."""
CRITICAL = "critical"
"""An alert's level when the parameter has reached its level threshold."""


class Alert(Message, tag="ops.alert"):
    """An order parameter crossed its threshold (published on ``ops.alerts``)."""

    parameter: str
    level: str
    """``warning`` (the trend) or ``critical`` (the level)."""
    value: float
    threshold: float
    """The threshold crossed: ``raise_at`` for critical, the trend for a warning."""
    message: str
    raised_at: float
    """Wall-clock seconds (the system clock's ``wall``) when raised."""
    trend: float = 0.0
    """The parameter's slope (units per second) when raised."""
    direction: str = "above"


class AlertCleared(Message, tag="ops.alert_cleared"):
    """An alerted parameter fell back past its clear threshold (published on ``ops.alerts``)."""

    parameter: str
    level: str
    """The level of the alert that cleared."""
    value: float
    threshold: float
    """``clear_at``."""
    message: str
    raised_at: float
    cleared_at: float


class Threshold(msgspec.Struct, frozen=True):
    """When one parameter alerts and clears (see the module docstring)."""

    parameter: str
    raise_at: float
    clear_at: float
    trend: float | None = None
    """Slope (units per second) that raises a warning before the level; ``None``: no warning."""
    trend_samples: int = 5
    direction: Literal["above", "below"] = "above"

    def __post_init__(self) -> None:
        if not self.parameter:
            raise ValueError("Threshold needs a parameter name")
        if not (math.isfinite(self.raise_at) and math.isfinite(self.clear_at)):
            raise ValueError(f"Threshold {self.parameter!r}: thresholds must be finite")
        if self.direction == "above" and not self.clear_at < self.raise_at:
            raise ValueError(
                f"Threshold {self.parameter!r}: clear_at ({self.clear_at}) must be below "
                f"raise_at ({self.raise_at}) when alerting above"
            )
        if self.direction == "below" and not self.clear_at > self.raise_at:
            raise ValueError(
                f"Threshold {self.parameter!r}: clear_at ({self.clear_at}) must be above "
                f"raise_at ({self.raise_at}) when alerting below"
            )
        if self.trend is not None and not (math.isfinite(self.trend) and self.trend > 0):
            raise ValueError(
                f"Threshold {self.parameter!r}: trend must be a positive slope, got {self.trend}"
            )
        if self.trend_samples < 2:
            raise ValueError(f"Threshold {self.parameter!r}: trend_samples must be >= 2")


class AlertTracker:
    """The hysteresis state machine of one :class:`Threshold`.

    :meth:`observe` takes each new value (with its slope and the wall time)
    and returns the event it causes, if any: an :class:`Alert` (raised, or
    escalated from warning to critical) or an :class:`AlertCleared`.
    """

    __slots__ = ("active", "threshold")

    def __init__(self, threshold: Threshold) -> None:
        self.threshold = threshold
        self.active: Alert | None = None

    def observe(self, value: float, trend: float, now: float) -> Alert | AlertCleared | None:
        t = self.threshold
        sign = 1.0 if t.direction == "above" else -1.0
        past_level = sign * value >= sign * t.raise_at
        calm = sign * value <= sign * t.clear_at
        active = self.active
        if active is not None:
            if calm:
                self.active = None
                return AlertCleared(
                    parameter=t.parameter,
                    level=active.level,
                    value=value,
                    threshold=t.clear_at,
                    message=f"{t.parameter} back to {value:.4g} (clears at {t.clear_at:g})",
                    raised_at=active.raised_at,
                    cleared_at=now,
                )
            if past_level and active.level == WARNING:
                self.active = self._alert(CRITICAL, value, trend, now)
                return self.active
            return None
        if past_level:
            self.active = self._alert(CRITICAL, value, trend, now)
            return self.active
        if t.trend is not None and not calm and sign * trend >= t.trend:
            self.active = self._alert(WARNING, value, trend, now)
            return self.active
        return None

    def _alert(self, level: str, value: float, trend: float, now: float) -> Alert:
        t = self.threshold
        way = "above" if t.direction == "above" else "below"
        if level == CRITICAL:
            threshold = t.raise_at
            text = f"{t.parameter} at {value:.4g}, {way} its level {t.raise_at:g}"
        else:
            assert t.trend is not None
            threshold = t.trend
            text = (
                f"{t.parameter} at {value:.4g} heading {way} {t.raise_at:g} "
                f"at {trend:.4g}/s (trend threshold {t.trend:g}/s)"
            )
        return Alert(
            parameter=t.parameter,
            level=level,
            value=value,
            threshold=threshold,
            message=text,
            raised_at=now,
            trend=trend,
            direction=t.direction,
        )
