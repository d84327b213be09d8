"""Reconnect backoff: exponential, capped, with jitter from the system's seeded rng."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    import random

__all__ = ["ReconnectBackoff"]


class ReconnectBackoff(msgspec.Struct, frozen=True):
    """Delay before reconnect attempt ``n`` (1-based): ``min(cap, base·2ⁿ⁻¹)`` ± ``jitter``.

    The jitter is a fraction of the delay drawn from the injected
    :class:`random.Random`, so a seed reproduces the exact delays and nodes
    that lost each other at the same moment do not all redial in step.
    """

    base: float = 0.05
    cap: float = 5.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        finite = all(math.isfinite(x) for x in (self.base, self.cap, self.jitter))
        if not finite or self.base <= 0 or self.cap < self.base or not 0 <= self.jitter < 1:
            raise ValueError(f"invalid backoff {self!r}: need 0 < base <= cap, 0 <= jitter < 1")

    def delay(self, attempt: int, rng: random.Random) -> float:
        raw = min(self.cap, self.base * 2.0 ** min(max(attempt - 1, 0), 60))
        return raw * (1.0 + self.jitter * (2.0 * rng.random() - 1.0))
