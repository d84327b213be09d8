"""Liveness from heartbeats and progress, at exact thresholds."""

from __future__ import annotations

import pytest

from actors.roles import Liveness, LivenessConfig, assess

CONFIG = LivenessConfig(heartbeat_interval=0.5, at_risk_after=1.5, dead_after=5.0)


def state(now: float, beat: float | None, **kwargs: float) -> Liveness:
    return assess(CONFIG, now=now, started_at=0.0, last_heartbeat=beat, **kwargs).state


def test_a_fresh_heartbeat_is_live_and_continues() -> None:
    report = assess(CONFIG, now=10.0, started_at=0.0, last_heartbeat=8.5, last_progress_at=9.0)
    assert report.state is Liveness.LIVE
    assert report.action == "continue"
    assert report.heartbeat_age == 1.5


def test_a_stale_heartbeat_is_at_risk_and_holds_new_work() -> None:
    report = assess(CONFIG, now=10.0, started_at=0.0, last_heartbeat=8.4)
    assert report.state is Liveness.AT_RISK
    assert report.action == "hold_new_work"
    assert "stale" in report.reason


def test_a_missing_heartbeat_counts_from_the_start() -> None:
    assert state(1.5, None) is Liveness.LIVE
    assert state(1.6, None) is Liveness.AT_RISK
    assert "missing" in assess(CONFIG, now=2.0, started_at=0.0, last_heartbeat=None).reason


def test_no_heartbeat_beyond_dead_after_is_dead_and_reclaimed() -> None:
    assert state(5.0, 0.0) is Liveness.AT_RISK
    report = assess(CONFIG, now=5.01, started_at=0.0, last_heartbeat=0.0)
    assert report.state is Liveness.DEAD
    assert report.action == "reclaim"


def test_an_overrun_with_fresh_heartbeats_is_live_and_overrunning_not_split_brain() -> None:
    report = assess(
        CONFIG,
        now=20.1,
        started_at=0.0,
        last_heartbeat=20.0,
        expected_duration=10.0,
        last_progress_at=20.0,
    )
    assert report.state is Liveness.LIVE
    assert report.overrunning
    assert report.action == "continue"
    assert "overrunning" in report.reason
    assert not assess(CONFIG, now=20.0, started_at=0.0, last_heartbeat=20.0).overrunning


def test_stalled_progress_with_fresh_heartbeats_is_live_and_overrunning() -> None:
    assert state(31.5, 31.5, last_progress_at=1.0) is Liveness.LIVE
    assert assess(
        CONFIG, now=31.5, started_at=0.0, last_heartbeat=31.5, last_progress_at=1.0
    ).overrunning


def test_the_control_view_disagreeing_with_fresh_heartbeats_is_split_brain_live() -> None:
    report = assess(
        CONFIG, now=10.0, started_at=0.0, last_heartbeat=9.8, disagreement="not reported"
    )
    assert report.state is Liveness.SPLIT_BRAIN_LIVE
    assert report.action == "keep_supervising"
    assert report.reason == "not reported"
    # Stale heartbeats win: a silent worker is at risk, whatever it disagrees about.
    stale = assess(CONFIG, now=10.0, started_at=0.0, last_heartbeat=8.0, disagreement="x")
    assert stale.state is Liveness.AT_RISK


def test_a_stale_heartbeat_wins_over_the_control_view() -> None:
    assert state(40.0, 30.0, expected_duration=1.0) is Liveness.DEAD
    assert (
        assess(CONFIG, now=40.0, started_at=0.0, last_heartbeat=30.0, disagreement="x").state
        is Liveness.DEAD
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"heartbeat_interval": 0.0},
        {"at_risk_after": 0.4},
        {"dead_after": 1.0},
        {"overrun_factor": 0.5},
    ],
)
def test_the_configuration_is_checked(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must|needs"):
        LivenessConfig(**kwargs)
