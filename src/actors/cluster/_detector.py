"""The phi-accrual failure detector (Hayashibara et al., as in Akka and Cassandra).

Instead of a yes/no timeout it gives a suspicion level, ``phi``: how unlikely
it is, given the heartbeat intervals seen so far, that the next heartbeat is
merely late. ``phi = 1`` means a 10% chance of a false alarm, ``phi = 8`` one
in 10⁸. The caller compares phi with a threshold. Time comes from the caller
(the system's clock), so tests drive it with a manual clock.

Phi follows Akka's ``PhiAccrualFailureDetector``: the intervals are taken as
normally distributed, and the normal CDF is replaced by its logistic
approximation ``F(y) = 1 / (1 + exp(-z))`` with ``z = y (1.5976 + 0.070566 y²)``
(error under 0.00014), where ``y`` is the standardised time since the last
heartbeat. Then ``phi = -log10(1 - F(y)) = log10(1 + exp(z))``, which is
computed here in a form that neither overflows nor loses its order: it is
finite, at least 0 and non-decreasing in the elapsed time for every input.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["HeartbeatHistory", "PhiAccrualFailureDetector"]

_LN10 = math.log(10.0)
_TIME_LIMIT = 1e300
"""Elapsed times and means are clamped to ±this, so their difference is finite."""
_Y_LIMIT = 1e50
"""The standardised time is clamped to ±this, so ``z`` is finite (about 7e148 at most)."""
_Z_LINEAR = 40.0
"""From here on ``log(1 + exp(z))`` equals ``z`` to double precision."""


def _check_positive(name: str, value: float) -> None:
    if not (0.0 < value < math.inf):
        raise ValueError(f"failure detector {name} must be a positive finite number, got {value!r}")


def _softplus(z: float) -> float:
    """``log(1 + exp(z))``: finite and non-decreasing for every finite ``z``."""
    if z > _Z_LINEAR:
        return z
    # Capped at the linear branch's start, so the two branches meet in order.
    return min(math.log1p(math.exp(z)), _Z_LINEAR)


class HeartbeatHistory:
    """The last ``max_samples`` heartbeat intervals (seconds) and their statistics.

    Mean and variance are those of the population of kept intervals,
    recomputed exactly (two passes, :func:`math.fsum`) after each change, so no
    rounding error accumulates however long the history runs.
    """

    __slots__ = ("_intervals", "_stats", "max_samples")

    def __init__(self, max_samples: int) -> None:
        if isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 1:
            raise ValueError(
                f"heartbeat history max_samples must be an int >= 1, got {max_samples!r}"
            )
        self.max_samples = max_samples
        self._intervals: deque[float] = deque(maxlen=max_samples)
        self._stats: tuple[float, float, float] | None = None

    def add(self, interval: float) -> None:
        """Append ``interval``, dropping the oldest once ``max_samples`` are kept."""
        if not (0.0 <= interval < math.inf):
            raise ValueError(
                f"a heartbeat interval must be a finite number >= 0 seconds, got {interval!r}"
            )
        self._intervals.append(interval)
        self._stats = None

    def __len__(self) -> int:
        return len(self._intervals)

    @property
    def intervals(self) -> tuple[float, ...]:
        """The kept intervals, oldest first."""
        return tuple(self._intervals)

    def _statistics(self) -> tuple[float, float, float]:
        stats = self._stats
        if stats is None:
            values = self._intervals
            n = len(values)
            if n == 0:
                raise ValueError("an empty heartbeat history has no mean or variance")
            # Each term divided first, so the sum cannot overflow.
            mean = math.fsum(v / n for v in values)
            spread = max(abs(v - mean) for v in values)
            if spread == 0.0:
                variance = std = 0.0
            else:
                # Scaled by the largest deviation, so the squares cannot overflow.
                scaled = math.fsum(((v - mean) / spread) ** 2 for v in values) / n
                std = spread * math.sqrt(scaled)
                variance = math.fsum((v - mean) ** 2 for v in values) / n
            stats = self._stats = (mean, variance, std)
        return stats

    @property
    def mean(self) -> float:
        """Mean interval (seconds)."""
        return self._statistics()[0]

    @property
    def variance(self) -> float:
        """Population variance of the intervals (seconds²)."""
        return self._statistics()[1]

    @property
    def std_deviation(self) -> float:
        """Population standard deviation of the intervals (seconds)."""
        return self._statistics()[2]


class PhiAccrualFailureDetector:
    """Suspicion of one monitored member, from its heartbeat arrival times.

    ``first_heartbeat_estimate`` seeds the statistics before real intervals
    exist (two intervals, a quarter of it either side, as Akka does);
    ``min_std_deviation`` keeps a very regular history from making phi jump
    at the slightest delay; ``acceptable_pause`` is added to the mean (a
    pause such as a GC that should not count as a failure); the last
    ``max_samples`` intervals make the statistics.

    A heartbeat that arrives while phi is at or over ``threshold`` (the
    member counts as failed) is not an interval of the history: it only
    restarts the count, so a long pause does not widen the distribution and
    hide the next one (Akka's rule).
    """

    __slots__ = (
        "_history",
        "_last",
        "acceptable_pause",
        "max_samples",
        "min_std_deviation",
        "threshold",
    )

    def __init__(
        self,
        *,
        threshold: float = 8.0,
        max_samples: int = 200,
        min_std_deviation: float = 0.1,
        acceptable_pause: float = 0.0,
        first_heartbeat_estimate: float = 1.0,
    ) -> None:
        _check_positive("threshold", threshold)
        if isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 1:
            raise ValueError(
                f"failure detector max_samples must be an int >= 1, got {max_samples!r}"
            )
        _check_positive("min_std_deviation", min_std_deviation)
        if not (0.0 <= acceptable_pause < math.inf):
            raise ValueError(
                "failure detector acceptable_pause must be a finite number >= 0, "
                f"got {acceptable_pause!r}"
            )
        _check_positive("first_heartbeat_estimate", first_heartbeat_estimate)
        self.threshold = threshold
        self.max_samples = max_samples
        self.min_std_deviation = min_std_deviation
        self.acceptable_pause = acceptable_pause
        self._history = HeartbeatHistory(max_samples)
        self._last: float | None = None
        deviation = first_heartbeat_estimate / 4.0
        self._history.add(first_heartbeat_estimate - deviation)
        self._history.add(first_heartbeat_estimate + deviation)

    @staticmethod
    def phi_for(elapsed: float, mean: float, std_deviation: float) -> float:
        """Phi of a heartbeat ``elapsed`` seconds late under N(``mean``, ``std_deviation``).

        ``log10(1 + exp(z))`` with Akka's logistic approximation of the normal
        CDF; finite, at least 0 and non-decreasing in ``elapsed`` for all
        finite arguments (out-of-range ones are clamped, which keeps the order).
        """
        if math.isnan(elapsed):
            raise ValueError(f"phi needs a number for elapsed, got {elapsed!r}")
        if math.isnan(mean):
            raise ValueError(f"phi needs a number for mean, got {mean!r}")
        if not std_deviation > 0.0:
            raise ValueError(f"phi needs std_deviation > 0, got {std_deviation!r}")
        elapsed = min(max(elapsed, -_TIME_LIMIT), _TIME_LIMIT)
        mean = min(max(mean, -_TIME_LIMIT), _TIME_LIMIT)
        y = min(max((elapsed - mean) / std_deviation, -_Y_LIMIT), _Y_LIMIT)
        z = y * (1.5976 + 0.070566 * y * y)
        return _softplus(z) / _LN10

    @staticmethod
    def _check_time(now: float) -> None:
        if not math.isfinite(now):
            raise ValueError(f"now must be a finite clock reading in seconds, got {now!r}")

    def heartbeat(self, now: float) -> None:
        """Record a heartbeat that arrived at ``now``.

        The interval since the previous heartbeat joins the history only if
        the member was still available at ``now``; an interval of 0 (or a
        reading before the previous one) says nothing and is not kept.
        """
        self._check_time(now)
        last = self._last
        if last is not None and now > last and self.is_available(now):
            interval = now - last
            if interval == math.inf:
                raise ValueError(f"now={now!r} is too far from the last heartbeat at {last!r}")
            self._history.add(interval)
        self._last = now

    @property
    def started(self) -> bool:
        """Whether a heartbeat has been recorded (Akka's ``isMonitoring``)."""
        return self._last is not None

    @property
    def last_heartbeat(self) -> float | None:
        """When the last heartbeat arrived (``None`` before the first)."""
        return self._last

    @property
    def history(self) -> HeartbeatHistory:
        """The intervals phi is computed from (read it, do not change it)."""
        return self._history

    def phi(self, now: float) -> float:
        """The suspicion level at ``now`` (0 before the first heartbeat).

        Finite, at least 0, and non-decreasing in ``now`` between heartbeats.
        """
        self._check_time(now)
        last = self._last
        if last is None:
            return 0.0
        history = self._history
        std = max(history.std_deviation, self.min_std_deviation)
        return self.phi_for(now - last, history.mean + self.acceptable_pause, std)

    def is_available(self, now: float) -> bool:
        """Whether phi is still under the threshold."""
        return self.phi(now) < self.threshold
