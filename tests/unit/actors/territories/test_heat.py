"""Heat: exponential decay by half-life, alerts with hysteresis."""

from __future__ import annotations

import pytest

from actors.roles.territories import HeatConfig, HeatMap, InvalidTerritoryConfig


def test_heat_halves_every_half_life() -> None:
    heat = HeatMap(HeatConfig(half_life=10.0, threshold=100.0))
    heat.bump("t", now=0.0, amount=8.0)
    assert heat.heat("t", 10.0) == pytest.approx(4.0)
    assert heat.heat("t", 30.0) == pytest.approx(1.0)


def test_decay_is_exact_whether_it_runs_often_or_late() -> None:
    often = HeatMap(HeatConfig(half_life=5.0, threshold=100.0))
    late = HeatMap(HeatConfig(half_life=5.0, threshold=100.0))
    for m in (often, late):
        m.bump("t", 0.0, 10.0)
    for step in range(1, 21):
        often.decay(step * 0.5)
    late.decay(10.0)
    assert often.heat("t", 10.0) == pytest.approx(late.heat("t", 10.0))
    assert late.heat("t", 10.0) == pytest.approx(2.5)


def test_alert_fires_once_on_crossing_and_clears_below_the_clear_level() -> None:
    heat = HeatMap(HeatConfig(half_life=1.0, threshold=3.0, clear_below=1.0))
    assert heat.bump("t", 0.0) is None
    assert heat.bump("t", 0.0) is None
    event = heat.bump("t", 0.0)
    assert event is not None
    assert (event.kind, event.territory, event.level) == ("alert", "t", 3.0)
    assert heat.bump("t", 0.0) is None  # already alerted
    assert heat.decay(1.0) == []  # 2.0: below the threshold, above the clear level
    assert heat.alerted == {"t"}
    cleared = heat.decay(2.0)  # 1.0 ... then below
    cleared += heat.decay(2.5)
    assert [e.kind for e in cleared] == ["cleared"]
    assert heat.alerted == frozenset()


def test_cold_territories_are_forgotten() -> None:
    heat = HeatMap(HeatConfig(half_life=1.0, threshold=3.0, floor=0.01))
    heat.bump("t", 0.0)
    heat.decay(20.0)
    assert heat.snapshot(20.0) == {}


@pytest.mark.parametrize(
    ("field", "value"),
    [("half_life", 0.0), ("threshold", -1.0), ("clear_below", 9.0), ("floor", 5.0)],
)
def test_bad_heat_settings_are_refused_by_name(field: str, value: float) -> None:
    with pytest.raises(InvalidTerritoryConfig, match=field):
        HeatConfig(**{"threshold": 5.0, field: value})
