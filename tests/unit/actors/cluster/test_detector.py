"""The phi-accrual failure detector, on a manual clock (no sleeping)."""

from __future__ import annotations

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
