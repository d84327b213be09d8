"""Invariants of the failure detector for arbitrary histories, parameters and times.

Phi is finite, never negative and non-decreasing in the time since the last
heartbeat, whatever the history; a heartbeat that arrives while the member
counts as failed leaves the history alone (Akka's rule); the history's
statistics are those of its last ``max_samples`` intervals.
"""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from actors.cluster import HeartbeatHistory, PhiAccrualFailureDetector

finite = st.floats(allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=0.0, exclude_min=True, allow_infinity=False)
times = st.floats(min_value=-1e12, max_value=1e12)
intervals = st.lists(st.floats(min_value=0.0, max_value=1e9), max_size=60)


@st.composite
def detectors(draw: st.DrawFn) -> PhiAccrualFailureDetector:
    """A detector with arbitrary settings that has seen an arbitrary history."""
    fd = PhiAccrualFailureDetector(
        threshold=draw(st.floats(min_value=1e-6, max_value=1e6)),
        max_samples=draw(st.integers(min_value=1, max_value=50)),
        min_std_deviation=draw(st.floats(min_value=1e-9, max_value=1e6)),
        acceptable_pause=draw(st.floats(min_value=0.0, max_value=1e6)),
        first_heartbeat_estimate=draw(st.floats(min_value=1e-9, max_value=1e6)),
    )
    now = draw(times)
    fd.heartbeat(now)
    for step in draw(intervals):
        now += step
        fd.heartbeat(now)
    return fd


@given(elapsed=finite, other=finite, mean=finite, std=positive)
def test_phi_for_is_finite_non_negative_and_monotone(
    elapsed: float, other: float, mean: float, std: float
) -> None:
    low, high = sorted((elapsed, other))
    phi_low = PhiAccrualFailureDetector.phi_for(low, mean, std)
    phi_high = PhiAccrualFailureDetector.phi_for(high, mean, std)
    assert math.isfinite(phi_low)
    assert math.isfinite(phi_high)
    assert 0.0 <= phi_low <= phi_high


@given(y=st.floats(min_value=-40.0, max_value=40.0), std=st.floats(min_value=1e-3, max_value=1e3))
def test_phi_for_depends_on_the_standardised_time_only(y: float, std: float) -> None:
    assert PhiAccrualFailureDetector.phi_for(y * std, 0.0, std) == pytest.approx(
        PhiAccrualFailureDetector.phi_for(y, 0.0, 1.0), rel=1e-9, abs=1e-12
    )


# Seconds after the last heartbeat: mostly where phi changes, sometimes anywhere.
offsets = st.one_of(st.floats(min_value=-10.0, max_value=1e4), finite)


@settings(max_examples=300, deadline=None)
@given(fd=detectors(), a=offsets, b=offsets)
def test_phi_is_finite_non_negative_and_monotone_in_elapsed_time(
    fd: PhiAccrualFailureDetector, a: float, b: float
) -> None:
    last = fd.last_heartbeat
    assert last is not None
    low, high = sorted((last + a, last + b))
    phi_low, phi_high = fd.phi(low), fd.phi(high)
    assert math.isfinite(phi_low)
    assert math.isfinite(phi_high)
    assert 0.0 <= phi_low <= phi_high
    assert fd.is_available(low) == (phi_low < fd.threshold)


@settings(max_examples=300, deadline=None)
@given(fd=detectors(), gap=st.floats(min_value=0.0, max_value=1e9))
def test_a_heartbeat_after_a_detected_failure_stays_out_of_the_history(
    fd: PhiAccrualFailureDetector, gap: float
) -> None:
    last = fd.last_heartbeat
    assert last is not None
    now = last + gap
    assume(now > last)
    before = fd.history.intervals
    available = fd.is_available(now)
    fd.heartbeat(now)
    after = fd.history.intervals
    if available:
        assert after[-1] == now - last
        assert len(after) == min(len(before) + 1, fd.max_samples)
    else:
        assert after == before
    assert fd.last_heartbeat == now


@given(
    max_samples=st.integers(min_value=1, max_value=30),
    values=st.lists(st.floats(min_value=0.0, max_value=1e9), min_size=1, max_size=80),
)
def test_history_statistics_are_those_of_the_last_max_samples(
    max_samples: int, values: list[float]
) -> None:
    history = HeartbeatHistory(max_samples)
    for value in values:
        history.add(value)
    kept = values[-max_samples:]
    assert history.intervals == tuple(kept)
    assert history.mean == pytest.approx(statistics.fmean(kept), rel=1e-12, abs=1e-9)
    assert history.variance == pytest.approx(statistics.pvariance(kept), rel=1e-9, abs=1e-6)
    assert history.std_deviation == pytest.approx(math.sqrt(history.variance), rel=1e-9)


def test_regular_heartbeats_with_akkas_default_acceptable_pause_keep_phi_finite() -> None:
    # Akka's default acceptable-heartbeat-pause is 3 s: with a regular 1 s
    # history the standardised time right after a heartbeat is about -39.
    fd = PhiAccrualFailureDetector(acceptable_pause=3.0)
    for n in range(20):
        fd.heartbeat(float(n))
    for tenth in range(0, 200):
        phi = fd.phi(19.0 + tenth / 10.0)
        assert math.isfinite(phi)
        assert phi >= 0.0
    assert fd.is_available(19.1)
    assert not fd.is_available(19.0 + 6.0)


@pytest.mark.parametrize("now", [math.nan, math.inf, -math.inf])
def test_a_time_that_is_not_a_finite_number_is_refused(now: float) -> None:
    fd = PhiAccrualFailureDetector()
    fd.heartbeat(0.0)
    with pytest.raises(ValueError, match="now"):
        fd.heartbeat(now)
    with pytest.raises(ValueError, match="now"):
        fd.phi(now)
    assert fd.last_heartbeat == 0.0
    assert fd.history.intervals == (0.75, 1.25)


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ((0.0, 0.0, 0.0), "std_deviation"),
        ((0.0, 0.0, -1.0), "std_deviation"),
        ((0.0, 0.0, math.nan), "std_deviation"),
        ((math.nan, 0.0, 1.0), "elapsed"),
        ((0.0, math.nan, 1.0), "mean"),
    ],
)
def test_phi_for_refuses_meaningless_arguments(
    arguments: tuple[float, float, float], name: str
) -> None:
    with pytest.raises(ValueError, match=name):
        PhiAccrualFailureDetector.phi_for(*arguments)


@pytest.mark.parametrize(
    ("settings_", "name"),
    [
        ({"threshold": math.nan}, "threshold"),
        ({"threshold": math.inf}, "threshold"),
        ({"max_samples": 0}, "max_samples"),
        ({"min_std_deviation": 0.0}, "min_std_deviation"),
        ({"min_std_deviation": math.nan}, "min_std_deviation"),
        ({"acceptable_pause": -1.0}, "acceptable_pause"),
        ({"acceptable_pause": math.inf}, "acceptable_pause"),
        ({"first_heartbeat_estimate": 0.0}, "first_heartbeat_estimate"),
        ({"first_heartbeat_estimate": math.nan}, "first_heartbeat_estimate"),
    ],
)
def test_each_invalid_setting_is_named(settings_: dict[str, float], name: str) -> None:
    with pytest.raises(ValueError, match=f"failure detector.*{name}"):
        PhiAccrualFailureDetector(**settings_)  # type: ignore[arg-type]


@pytest.mark.parametrize("interval", [-1.0, math.nan, math.inf])
def test_history_refuses_an_interval_that_is_not_a_finite_non_negative_number(
    interval: float,
) -> None:
    history = HeartbeatHistory(3)
    history.add(1.0)
    with pytest.raises(ValueError, match="interval"):
        history.add(interval)
    assert history.intervals == (1.0,)


def test_an_empty_history_has_no_statistics() -> None:
    with pytest.raises(ValueError, match="empty"):
        _ = HeartbeatHistory(3).mean
    with pytest.raises(ValueError, match="max_samples"):
        HeartbeatHistory(0)
