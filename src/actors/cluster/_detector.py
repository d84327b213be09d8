"""The phi-accrual failure detector (Hayashibara et al., as in Akka and Cassandra).

Instead of a yes/no timeout it gives a suspicion level, ``phi``: how unlikely
it is, given the heartbeat intervals seen so far, that the next heartbeat is
merely late. ``phi = 1`` means a 10% chance of a false alarm, ``phi = 8`` one
in 10⁸. The caller compares phi with a threshold. Time comes from the caller
(the system's clock), so tests drive it with a manual clock.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["PhiAccrualFailureDetector"]


class PhiAccrualFailureDetector:
    """Suspicion of one monitored member, from its heartbeat arrival times.

    ``first_heartbeat_estimate`` seeds the statistics before real intervals
    exist; ``min_std_deviation`` keeps a very regular history from making
    phi jump at the slightest delay; ``acceptable_pause`` is added to the mean
    (a pause such as a GC that should not count as a failure).
    """

    __slots__ = (
        "_intervals",
        "_last",
        "_sum",
        "_sum_sq",
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
        if threshold <= 0 or max_samples < 1 or min_std_deviation <= 0 or acceptable_pause < 0:
            raise ValueError("invalid failure detector settings")
        self.threshold = threshold
        self.max_samples = max_samples
        self.min_std_deviation = min_std_deviation
        self.acceptable_pause = acceptable_pause
        self._intervals: deque[float] = deque()
        self._sum = 0.0
        self._sum_sq = 0.0
        self._last: float | None = None
        # Seed with two intervals around the estimate, as Akka does.
        deviation = first_heartbeat_estimate / 4.0
        self._add(first_heartbeat_estimate - deviation)
        self._add(first_heartbeat_estimate + deviation)

    def _add(self, interval: float) -> None:
        if len(self._intervals) >= self.max_samples:
            old = self._intervals.popleft()
            self._sum -= old
            self._sum_sq -= old * old
        self._intervals.append(interval)
        self._sum += interval
        self._sum_sq += interval * interval

    def heartbeat(self, now: float) -> None:
        """Record a heartbeat that arrived at ``now``."""
        last = self._last
        if last is not None and now > last:
            self._add(now - last)
        self._last = now

    @property
    def started(self) -> bool:
        return self._last is not None

    def phi(self, now: float) -> float:
        """The suspicion level at ``now`` (0 before the first heartbeat)."""
        last = self._last
        if last is None:
            return 0.0
        count = len(self._intervals)
        mean = self._sum / count
        variance = max(self._sum_sq / count - mean * mean, 0.0)
        std = max(math.sqrt(variance), self.min_std_deviation)
        elapsed = now - last
        y = (elapsed - (mean + self.acceptable_pause)) / std
        e = math.exp(-y * (1.5976 + 0.070566 * y * y)) if y > -40 else math.inf
        if elapsed > mean + self.acceptable_pause:
            return -math.log10(e / (1.0 + e)) if e > 0 else math.inf
        if math.isinf(e):
            return 0.0
        return -math.log10(1.0 - 1.0 / (1.0 + e))

    def is_available(self, now: float) -> bool:
        """Whether phi is still under the threshold."""
        return self.phi(now) < self.threshold
