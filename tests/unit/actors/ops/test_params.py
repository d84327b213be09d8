"""The order parameters' formulas on hand-made windows."""

from __future__ import annotations

import pytest

from actors.ops._params import (
    amplitude,
    delta_rate,
    rate_variance,
    reversals_per_minute,
    slope,
    success_rate,
)


def test_equal_rates_have_no_variance() -> None:
    assert rate_variance({"a": 0, "b": 10}, {"a": 50, "b": 60}, 5.0) == 0.0


def test_rate_variance_is_the_squared_coefficient_of_variation() -> None:
    # rates 1/s and 3/s: mean 2, variance 1, so 1 / 4
    assert rate_variance({}, {"a": 10, "b": 30}, 10.0) == pytest.approx(0.25)


def test_idle_actors_and_a_lone_busy_one_are_not_variance() -> None:
    assert rate_variance({"a": 5, "b": 0}, {"a": 5, "b": 100}, 1.0) == 0.0
    assert rate_variance({}, {"a": 1}, 0.0) == 0.0


def test_amplitude_is_half_the_range() -> None:
    assert amplitude([3, 9, 5]) == 3.0
    assert amplitude([]) == 0.0


def test_reversals_count_changes_of_direction_per_minute() -> None:
    assert reversals_per_minute([1, 3, 3, 1, 4], 60.0) == 2.0
    assert reversals_per_minute([0, 10, 0, 10, 0], 30.0) == 6.0
    assert reversals_per_minute([0, 1, 0, 1, 0], 30.0, noise=1.0) == 0.0
    assert reversals_per_minute([1, 2, 3], 0.0) == 0.0


def test_rates_success_and_slope() -> None:
    assert delta_rate(10, 40, 10.0) == 3.0
    assert delta_rate(40, 10, 10.0) == 0.0  # a counter that went back (a restart) is no rate
    assert success_rate(0, 0) == 1.0
    assert success_rate(3, 1) == 0.75
    assert slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)
    assert slope([1], [1]) == 0.0
    assert slope([2, 2], [1, 5]) == 0.0
