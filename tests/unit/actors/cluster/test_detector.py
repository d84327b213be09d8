"""The phi-accrual failure detector, on a manual clock (no sleeping)."""

from __future__ import annotations

import math

import pytest

from actors.cluster import ClusterConfig, PhiAccrualFailureDetector
from tests.helpers import ManualClock


def test_regular_heartbeats_keep_phi_low_and_silence_raises_it() -> None:
    clock = ManualClock()
    detector = PhiAccrualFailureDetector(threshold=8.0, first_heartbeat_estimate=1.0)
    assert detector.phi(clock.now()) == 0.0  # nothing heard yet
    for _ in range(20):
        detector.heartbeat(clock.now())
        clock.advance(1.0)
    assert detector.phi(clock.now()) < 1.0
    assert detector.is_available(clock.now())
    phis = []
    for _ in range(6):
        clock.advance(0.5)
        phis.append(detector.phi(clock.now()))
    assert phis == sorted(phis)
    assert not detector.is_available(clock.now())


def test_threshold_and_acceptable_pause_move_the_detection_time() -> None:
    def seconds_to_suspect(**kwargs: float) -> float:
        clock = ManualClock()
        detector = PhiAccrualFailureDetector(first_heartbeat_estimate=0.5, **kwargs)
        for _ in range(10):
            detector.heartbeat(clock.now())
            clock.advance(0.5)
        waited = 0.0
        while detector.is_available(clock.now()):
            clock.advance(0.01)
            waited += 0.01
        return waited

    base = seconds_to_suspect(threshold=8.0)
    assert seconds_to_suspect(threshold=3.0) < base
    assert seconds_to_suspect(threshold=8.0, acceptable_pause=1.0) == pytest.approx(
        base + 1.0, abs=0.05
    )
    assert base < ClusterConfig(heartbeat_interval=0.5, down_after=0.0).detection_time()


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="failure detector"):
        PhiAccrualFailureDetector(threshold=0)
    with pytest.raises(ValueError, match="cluster config"):
        ClusterConfig(heartbeat_interval=0)


def test_a_long_pause_that_marked_the_member_dead_stays_out_of_the_history() -> None:
    clock = ManualClock(start=0.0)
    detector = PhiAccrualFailureDetector(max_samples=1000)
    for _ in range(1000):
        detector.heartbeat(clock.now())
        clock.advance(1.0)
    clock.advance(299.0)  # a five minute pause: the member counts as dead
    assert not detector.is_available(clock.now())
    before = detector.history.intervals
    detector.heartbeat(clock.now())  # it comes back
    assert detector.history.intervals == before
    assert detector.is_available(clock.now() + 0.5)
    clock.advance(1.0)
    detector.heartbeat(clock.now())
    assert detector.history.intervals[-1] == pytest.approx(1.0)
    # A later, real pause of seven seconds is still detected.
    assert not detector.is_available(clock.now() + 7.0)


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        ({"acceptable_pause": -1.0}, "acceptable_pause"),
        ({"acceptable_pause": math.inf}, "acceptable_pause"),
        ({"min_std_deviation": 0.0}, "min_std_deviation"),
        ({"phi_threshold": math.nan}, "phi_threshold"),
        ({"heartbeat_interval": math.inf}, "heartbeat_interval"),
        ({"down_after": math.nan}, "down_after"),
        ({"join_timeout": 0.0}, "join_timeout"),
        ({"join_retry": -1.0}, "join_retry"),
        ({"leave_timeout": math.nan}, "leave_timeout"),
    ],
)
def test_cluster_config_names_the_invalid_setting(settings: dict[str, float], name: str) -> None:
    # Refused up front, not when the first member's detector is built.
    with pytest.raises(ValueError, match=rf"ClusterConfig\.{name} is "):
        ClusterConfig(**settings)
