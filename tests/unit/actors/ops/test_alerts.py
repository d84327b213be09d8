"""Thresholds: a level, a trend, hysteresis; clear errors for a threshold that cannot work."""

from __future__ import annotations

import pytest

from actors.ops import CRITICAL, WARNING, Alert, AlertCleared, AlertTracker, Threshold


def test_a_level_alert_raises_at_the_level_and_clears_only_past_the_clear_threshold() -> None:
    tracker = AlertTracker(Threshold("q", raise_at=10.0, clear_at=4.0))
    assert tracker.observe(9.9, 0.0, 1.0) is None
    raised = tracker.observe(10.0, 0.0, 2.0)
    assert isinstance(raised, Alert)
    assert (raised.level, raised.threshold, raised.raised_at) == (CRITICAL, 10.0, 2.0)
    assert tracker.observe(5.0, 0.0, 3.0) is None  # inside the band: still raised
    assert tracker.observe(12.0, 0.0, 4.0) is None  # no second alert
    cleared = tracker.observe(4.0, 0.0, 5.0)
    assert isinstance(cleared, AlertCleared)
    assert (cleared.raised_at, cleared.cleared_at, cleared.threshold) == (2.0, 5.0, 4.0)
    assert tracker.active is None


def test_a_steep_trend_warns_before_the_level_then_escalates() -> None:
    tracker = AlertTracker(Threshold("q", raise_at=10.0, clear_at=2.0, trend=1.0))
    assert tracker.observe(1.0, 5.0, 1.0) is None  # calm value: a trend alone is not enough
    warned = tracker.observe(3.0, 1.5, 2.0)
    assert isinstance(warned, Alert)
    assert warned.level == WARNING
    assert warned.threshold == 1.0
    escalated = tracker.observe(11.0, 1.5, 3.0)
    assert isinstance(escalated, Alert)
    assert escalated.level == CRITICAL
    assert isinstance(tracker.observe(2.0, -3.0, 4.0), AlertCleared)


def test_below_thresholds_mirror_every_comparison() -> None:
    tracker = AlertTracker(Threshold("s", raise_at=0.5, clear_at=0.9, direction="below"))
    assert tracker.observe(0.6, 0.0, 1.0) is None
    assert isinstance(tracker.observe(0.5, 0.0, 2.0), Alert)
    assert tracker.observe(0.85, 0.0, 3.0) is None
    assert isinstance(tracker.observe(0.95, 0.0, 4.0), AlertCleared)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"raise_at": 1.0, "clear_at": 1.0}, "must be below"),
        ({"raise_at": 1.0, "clear_at": 0.5, "direction": "below"}, "must be above"),
        ({"raise_at": float("nan"), "clear_at": 0.5}, "finite"),
        ({"raise_at": 2.0, "clear_at": 0.5, "trend": -1.0}, "positive slope"),
        ({"raise_at": 2.0, "clear_at": 0.5, "trend_samples": 1}, "trend_samples"),
    ],
)
def test_a_threshold_that_cannot_work_is_refused_by_name(
    kwargs: dict[str, object], words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        Threshold("q", **kwargs)  # type: ignore[arg-type]
