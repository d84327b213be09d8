"""Akka's AccrualFailureDetectorSpec, ported to our API (seconds instead of milliseconds).

Each case keeps Akka's name and numbers. Akka's fake clock hands out one
reading per call of ``heartbeat``, ``phi`` or ``isAvailable``; :func:`readings`
does the same from Akka's list of intervals.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pytest

from actors.cluster import HeartbeatHistory, PhiAccrualFailureDetector

if TYPE_CHECKING:
    from collections.abc import Iterator

phi_for = PhiAccrualFailureDetector.phi_for


def readings(*intervals_ms: float) -> Iterator[float]:
    """Akka's ``fakeTimeGenerator``: successive clock readings, in seconds."""
    now = 0.0
    for step in intervals_ms:
        now += step
        yield now / 1000.0


def detector(
    *,
    threshold: float = 8.0,
    max_samples: int = 1000,
    min_std_deviation: float = 0.1,
    acceptable_pause: float = 0.0,
    first_heartbeat_estimate: float = 1.0,
) -> PhiAccrualFailureDetector:
    """Akka's ``createFailureDetector`` defaults."""
    return PhiAccrualFailureDetector(
        threshold=threshold,
        max_samples=max_samples,
        min_std_deviation=min_std_deviation,
        acceptable_pause=acceptable_pause,
        first_heartbeat_estimate=first_heartbeat_estimate,
    )


def cdf(phi: float) -> float:
    return 1.0 - 10.0 ** (-phi)


def test_use_good_enough_cumulative_distribution_function() -> None:
    assert cdf(phi_for(0, 0, 10)) == pytest.approx(0.5, abs=0.001)
    assert cdf(phi_for(6, 0, 10)) == pytest.approx(0.7257, abs=0.001)
    assert cdf(phi_for(15, 0, 10)) == pytest.approx(0.9332, abs=0.001)
    assert cdf(phi_for(20, 0, 10)) == pytest.approx(0.97725, abs=0.001)
    assert cdf(phi_for(25, 0, 10)) == pytest.approx(0.99379, abs=0.001)
    assert cdf(phi_for(35, 0, 10)) == pytest.approx(0.99977, abs=0.001)
    assert cdf(phi_for(40, 0, 10)) == pytest.approx(0.99997, abs=0.0001)
    for x in range(40):
        assert phi_for(x, 0, 10) < phi_for(x + 1, 0, 10)
    assert cdf(phi_for(22, 20.0, 3)) == pytest.approx(0.7475, abs=0.001)


def test_cdf_stays_within_the_logistic_approximations_error_of_the_normal_cdf() -> None:
    # Akka: "Error is 0.00014 at +- 3.16" (the approximation's largest error).
    for tenth in range(-60, 61):
        y = tenth / 10.0
        normal = 0.5 * math.erfc(-y / math.sqrt(2.0))
        assert cdf(phi_for(y, 0.0, 1.0)) == pytest.approx(normal, abs=0.0002)


def test_handle_outliers_without_losing_precision_or_hitting_exceptions() -> None:
    assert phi_for(10, 0, 1) == pytest.approx(38.0, abs=1.0)
    assert phi_for(-25, 0, 1) == 0.0


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [(0, 0.0), (500, 0.1), (1000, 0.3), (1200, 1.6), (1400, 4.7), (1600, 10.8), (1700, 15.3)],
)
def test_return_realistic_phi_values(elapsed: float, expected: float) -> None:
    assert phi_for(elapsed, 1000.0, 100.0) == pytest.approx(expected, abs=0.1)


def test_larger_std_deviation_gives_lower_phi() -> None:
    assert phi_for(1100, 1000.0, 500.0) < phi_for(1100, 1000.0, 100.0)


def test_return_phi_value_of_0_on_startup_when_no_heartbeats() -> None:
    fd = detector()
    assert fd.phi(0.0) == 0.0
    assert fd.phi(1000.0) == 0.0


def test_return_phi_based_on_guess_when_only_one_heartbeat() -> None:
    clock = readings(0, 1000, 1000, 1000, 1000)
    fd = detector(first_heartbeat_estimate=1.0)
    fd.heartbeat(next(clock))
    assert fd.phi(next(clock)) == pytest.approx(0.3, abs=0.2)
    assert fd.phi(next(clock)) == pytest.approx(4.5, abs=0.3)
    assert fd.phi(next(clock)) > 15.0


def test_return_phi_value_using_first_interval_after_second_heartbeat() -> None:
    clock = readings(0, 100, 100, 100)
    fd = detector()
    fd.heartbeat(next(clock))
    assert fd.phi(next(clock)) > 0.0
    fd.heartbeat(next(clock))
    assert fd.phi(next(clock)) > 0.0


def test_mark_node_as_monitored_after_a_series_of_successful_heartbeats() -> None:
    clock = readings(0, 1000, 100, 100)
    fd = detector()
    assert not fd.started
    fd.heartbeat(next(clock))
    fd.heartbeat(next(clock))
    fd.heartbeat(next(clock))
    assert fd.started
    assert fd.is_available(next(clock))


def test_mark_node_as_dead_if_heartbeat_are_missed() -> None:
    clock = readings(0, 1000, 100, 100, 7000)
    fd = detector(threshold=3)
    fd.heartbeat(next(clock))  # 0
    fd.heartbeat(next(clock))  # 1000
    fd.heartbeat(next(clock))  # 1100
    assert fd.is_available(next(clock))  # 1200
    assert not fd.is_available(next(clock))  # 8200


def test_mark_node_as_available_if_it_starts_heartbeat_again_after_being_marked_dead() -> None:
    # 1000 regular intervals, a 5 minute pause, and then a short pause again
    # that must make it unavailable again: the long pause is kept out of the
    # history, or it would hide the second one.
    regular = [0] + [1000] * 999
    clock = readings(*regular, 5 * 60 * 1000, 100, 900, 100, 7000, 100, 900, 100, 900)
    fd = detector(threshold=8, acceptable_pause=3.0)
    for _ in range(1000):
        fd.heartbeat(next(clock))
    assert not fd.is_available(next(clock))  # after the long pause
    fd.heartbeat(next(clock))
    assert fd.is_available(next(clock))
    fd.heartbeat(next(clock))
    assert not fd.is_available(next(clock))  # after the 7 seconds pause
    fd.heartbeat(next(clock))
    assert fd.is_available(next(clock))
    fd.heartbeat(next(clock))
    assert fd.is_available(next(clock))
    assert max(fd.history.intervals) == pytest.approx(1.0)


def test_accept_some_configured_missing_heartbeats() -> None:
    clock = readings(0, 1000, 1000, 1000, 4000, 1000, 1000)
    fd = detector(acceptable_pause=3.0)
    fd.heartbeat(next(clock))
    fd.heartbeat(next(clock))
    fd.heartbeat(next(clock))
    fd.heartbeat(next(clock))
    assert fd.is_available(next(clock))
    fd.heartbeat(next(clock))
    assert fd.is_available(next(clock))


def test_fail_after_configured_acceptable_missing_heartbeats() -> None:
    clock = readings(0, 1000, 1000, 1000, 1000, 1000, 500, 500, 5000)
    fd = detector(acceptable_pause=3.0)
    for _ in range(6):
        fd.heartbeat(next(clock))
    assert fd.is_available(next(clock))
    fd.heartbeat(next(clock))
    assert not fd.is_available(next(clock))


def test_use_max_sample_size_heartbeats() -> None:
    clock = readings(0, 100, 100, 100, 100, 600, 500, 500, 500, 500, 500)
    fd = detector(max_samples=3)
    # 100 ms interval
    for _ in range(4):
        fd.heartbeat(next(clock))  # 0, 100, 200, 300
    phi1 = fd.phi(next(clock))  # 400
    # 500 ms interval: the same phi once the 100 ms intervals have been dropped
    for _ in range(4):
        fd.heartbeat(next(clock))  # 1000, 1500, 2000, 2500
    phi2 = fd.phi(next(clock))  # 3000
    assert phi2 == pytest.approx(phi1, abs=0.001)


# -- Akka's "Statistics for heartbeats" ------------------------------------------


def test_calculate_correct_mean_and_variance() -> None:
    history = HeartbeatHistory(max_samples=20)
    for value in (100, 200, 125, 340, 130):
        history.add(value)
    assert history.mean == pytest.approx(179.0, abs=0.00001)
    assert history.variance == pytest.approx(7584.0, abs=0.00001)
    assert history.std_deviation == pytest.approx(math.sqrt(7584.0))


def test_have_0_variance_for_one_sample() -> None:
    history = HeartbeatHistory(max_samples=600)
    history.add(1000)
    assert history.variance == pytest.approx(0.0, abs=0.00001)


def test_be_capped_by_the_specified_max_sample_size() -> None:
    history = HeartbeatHistory(max_samples=3)
    for value in (100, 110, 90):
        history.add(value)
    assert history.mean == pytest.approx(100.0, abs=0.00001)
    assert history.variance == pytest.approx(66.6666667, abs=0.00001)
    history.add(140)
    assert history.mean == pytest.approx(113.333333, abs=0.00001)
    assert history.variance == pytest.approx(422.222222, abs=0.00001)
    history.add(80)
    assert history.mean == pytest.approx(103.333333, abs=0.00001)
    assert history.variance == pytest.approx(688.88888889, abs=0.00001)
    assert history.intervals == (90, 140, 80)
    assert len(history) == 3
