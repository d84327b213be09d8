"""Stigmergic heat: a decaying counter per territory, bumped on contention.

Heat decays exponentially with a configurable half-life:
``heat(t) = heat(t0) * 2 ** (-(t - t0) / half_life)``. Each territory keeps
its value and the time it was last brought up to date, so decay is exact
whether maintenance runs often or late. Contention bumps it (a refused
acquire, a stale fencing token, a conflicting write); maintenance decays all
of it and forgets territories whose heat fell below ``floor``.

Alerts have hysteresis: a territory *alerts* when its heat reaches
``threshold`` and *clears* only once it falls below ``clear_below`` (half the
threshold by default), so heat hovering at the threshold does not flap.
Times come from the caller (the manager's injected clock).
"""

from __future__ import annotations

import math
from typing import Final

import msgspec

from ._errors import InvalidTerritoryConfig

__all__ = ["ALERT", "CLEARED", "HeatConfig", "HeatEvent", "HeatMap"]

ALERT: Final = "alert"
CLEARED: Final = "cleared"


class HeatConfig(msgspec.Struct, frozen=True):
    """How heat decays and when it alerts."""

    half_life: float = 30.0
    """Seconds for heat to halve."""
    threshold: float = 5.0
    """Heat at or above which a territory alerts."""
    clear_below: float | None = None
    """Heat below which an alerted territory clears (``None``: half the threshold)."""
    floor: float = 1e-3
    """Heat below which a territory is forgotten at decay."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.half_life) and self.half_life > 0):
            raise InvalidTerritoryConfig("half_life", "must be a positive number", self.half_life)
        if not (math.isfinite(self.threshold) and self.threshold > 0):
            raise InvalidTerritoryConfig("threshold", "must be a positive number", self.threshold)
        clear = self.clear_below
        if clear is not None and not (math.isfinite(clear) and 0 <= clear <= self.threshold):
            raise InvalidTerritoryConfig("clear_below", "must lie in [0, threshold]", clear)
        if not (math.isfinite(self.floor) and 0 <= self.floor < self.threshold):
            raise InvalidTerritoryConfig("floor", "must lie in [0, threshold)", self.floor)

    @property
    def clear_level(self) -> float:
        """The heat an alerted territory must fall below to clear."""
        return self.threshold / 2 if self.clear_below is None else self.clear_below


class HeatEvent(msgspec.Struct, frozen=True):
    """A territory's heat crossed its threshold (``alert``) or fell back (``cleared``)."""

    territory: str
    kind: str
    heat: float
    level: float
    """The threshold crossed (alert) or the clear level (cleared)."""


class HeatMap:
    """Heat per territory, with alert state."""

    def __init__(self, config: HeatConfig | None = None) -> None:
        self.config = config or HeatConfig()
        self._rate = math.log(2) / self.config.half_life
        self._heat: dict[str, tuple[float, float]] = {}
        self._alerted: set[str] = set()

    def _decayed(self, territory: str, now: float) -> float:
        entry = self._heat.get(territory)
        if entry is None:
            return 0.0
        value, at = entry
        if now <= at:
            return value
        return value * math.exp(-self._rate * (now - at))

    def heat(self, territory: str, now: float) -> float:
        """The territory's heat at ``now``."""
        return self._decayed(territory, now)

    def bump(self, territory: str, now: float, amount: float = 1.0) -> HeatEvent | None:
        """Add ``amount`` of heat at ``now``; the alert, if this bump crossed the threshold."""
        value = self._decayed(territory, now) + amount
        entry = self._heat.get(territory)
        at = now if entry is None else max(now, entry[1])
        self._heat[territory] = (value, at)
        if value >= self.config.threshold and territory not in self._alerted:
            self._alerted.add(territory)
            return HeatEvent(territory, ALERT, value, self.config.threshold)
        return None

    def decay(self, now: float) -> list[HeatEvent]:
        """Bring every territory's heat to ``now``; the clears this caused, by territory."""
        events: list[HeatEvent] = []
        clear, floor = self.config.clear_level, self.config.floor
        for territory in sorted(self._heat):
            value = self._decayed(territory, now)
            at = max(now, self._heat[territory][1])
            if territory in self._alerted and value < clear:
                self._alerted.discard(territory)
                events.append(HeatEvent(territory, CLEARED, value, clear))
            if value < floor and territory not in self._alerted:
                del self._heat[territory]
            else:
                self._heat[territory] = (value, at)
        return events

    def snapshot(self, now: float) -> dict[str, float]:
        """Every remembered territory's heat at ``now``."""
        return {territory: self._decayed(territory, now) for territory in sorted(self._heat)}

    @property
    def alerted(self) -> frozenset[str]:
        """Territories in alert."""
        return frozenset(self._alerted)
