"""The supervisor's concurrency window and its admission gate.

**Window** (additive increase, multiplicative decrease): it starts at 5
concurrent jobs. After every ``size`` consecutive successes while heartbeats
are healthy and the success rate over the last ``sample`` outcomes is at least
``success_threshold`` (0.9), it grows by one, up to 10. When the success rate
slips below the threshold, or a heartbeat goes stale, it halves (never below
``minimum``); none of the next ``size`` outcomes halves it again (they are
mostly those of jobs that were running already, under the old size).

**Admission gate**: a token bucket. Submissions are accepted (queued) at
once, whatever their number; they move on to balancing at most ``rate`` per
second, with bursts of up to ``burst``. Nothing is ever dropped.
"""

from __future__ import annotations

from collections import deque

import msgspec

__all__ = ["AdmissionGate", "ConcurrencyWindow", "WindowConfig"]


class WindowConfig(msgspec.Struct, frozen=True):
    """The concurrency window (bounds, success threshold, sample) and admission rate and burst."""

    initial: int = 5
    maximum: int = 10
    minimum: int = 1
    success_threshold: float = 0.9
    sample: int = 20
    admission_rate: float = 1000.0
    """Jobs per second moved from intake to balancing."""
    admission_burst: int = 100

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.initial <= self.maximum:
            raise ValueError(f"window needs 1 <= minimum <= initial <= maximum, got {self!r}")
        if not 0 < self.success_threshold <= 1 or self.sample < 1:
            raise ValueError("success_threshold must be in (0, 1] and sample >= 1")
        if self.admission_rate <= 0 or self.admission_burst < 1:
            raise ValueError("admission_rate must be > 0 and admission_burst >= 1")


class ConcurrencyWindow:
    """How many jobs may run at once; moved by outcomes and heartbeat health."""

    def __init__(self, config: WindowConfig | None = None) -> None:
        self.config = config or WindowConfig()
        self.size = self.config.initial
        self._outcomes: deque[bool] = deque(maxlen=self.config.sample)
        self._streak = 0
        self._cooldown = 0
        self.grown = 0
        self.shrunk = 0

    @property
    def success_rate(self) -> float:
        outcomes = self._outcomes
        return sum(outcomes) / len(outcomes) if outcomes else 1.0

    def record(self, success: bool, *, healthy: bool = True) -> int:
        """Fold one job outcome in; returns the new size."""
        self._outcomes.append(success)
        # This outcome is one of the ``size`` after a halving that may not halve
        # again (checked before counting it down: the size-th one is still inside).
        cooling = self._cooldown > 0
        if cooling:
            self._cooldown -= 1
        if not healthy or self.success_rate < self.config.success_threshold:
            self._streak = 0
            if not cooling:
                self._halve()
            return self.size
        if success:
            self._streak += 1
            if self._streak >= self.size and self.size < self.config.maximum:
                self.size += 1
                self.grown += 1
                self._streak = 0
        else:
            self._streak = 0
        return self.size

    def unhealthy(self) -> int:
        """A heartbeat went stale: back off (at most once per cooldown)."""
        self._streak = 0
        if not self._cooldown:
            self._halve()
        return self.size

    def _halve(self) -> None:
        new = max(self.config.minimum, self.size // 2)
        if new < self.size:
            self.size = new
            self.shrunk += 1
        self._cooldown = self.size


class AdmissionGate:
    """A token bucket on the system clock: ``take(now)`` admits at most ``rate``/s."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at = now

    def available(self, now: float) -> int:
        self._refill(now)
        return int(self._tokens)

    def take(self, now: float, wanted: int) -> int:
        """Take up to ``wanted`` tokens; returns how many were granted."""
        self._refill(now)
        granted = min(wanted, int(self._tokens))
        self._tokens -= granted
        return granted

    def wait_for(self, now: float, wanted: int = 1) -> float:
        """Seconds until ``wanted`` tokens are available."""
        self._refill(now)
        missing = min(wanted, self.burst) - self._tokens
        return max(0.0, missing / self.rate)

    def _refill(self, now: float) -> None:
        if now > self._at:
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = max(self._at, now)
