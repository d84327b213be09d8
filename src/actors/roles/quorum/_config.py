"""How a quorum decides: threshold, deadline, fallback, heat."""

from __future__ import annotations

import math
from typing import Final

import msgspec

from ._errors import InvalidQuorumConfig
from ._rule import check_threshold

__all__ = ["DEFER", "DENY", "FALLBACKS", "RETRY", "QuorumConfig"]

DENY: Final = "deny"
RETRY: Final = "retry"
DEFER: Final = "defer"
FALLBACKS: Final = (DENY, RETRY, DEFER)


class QuorumConfig(msgspec.Struct, frozen=True):
    """The decision rule and what happens when a quorum cannot decide."""

    threshold: int | float | None = None
    """``None``: a strict majority; an ``int``: that many yes votes; a ``float``:
    that fraction of the electorate, rounded up. Checked now, and again against
    each electorate's size (a count above it is refused)."""
    timeout: float = 1.0
    """Seconds from the ballots going out to the deadline of a round."""
    default_ttl: float = 10.0
    max_ttl: float = 3600.0
    fallback: str = DENY
    """On a failed round: ``deny`` (decide ``failed``), ``retry`` (vote again after a
    backoff, ``retries`` times, then ``after_retries``) or ``defer`` (let the lease
    store alone decide, as a single authority would)."""
    retries: int = 2
    backoff: float = 0.05
    """Seconds before the first retry; multiplied by ``backoff_factor`` each time."""
    backoff_factor: float = 2.0
    max_backoff: float = 1.0
    after_retries: str = DENY
    """``deny`` or ``defer``, once the retries are spent."""
    groups: dict[str, str] = {}
    """Territory name to electorate group (a territory not named votes globally)."""
    heat_after: int = 2
    """Consecutive failed proposals of one territory before each further one heats it."""
    heat_amount: float = 1.0
    keep_decided: int = 10_000
    """Recent decisions remembered (late votes are refused as ``decided``; :class:`GetDecision`)."""
    latency_window: int = 10_000
    """Recent decision latencies the percentiles are taken over."""

    def __post_init__(self) -> None:
        try:
            check_threshold(self.threshold)
        except ValueError as exc:
            raise InvalidQuorumConfig("threshold", str(exc), self.threshold) from None
        for name in ("timeout", "default_ttl", "max_ttl", "backoff", "max_backoff"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (
                isinstance(value, int | float) and math.isfinite(value) and value > 0
            ):
                raise InvalidQuorumConfig(name, "must be a positive number of seconds", value)
        if self.default_ttl > self.max_ttl:
            raise InvalidQuorumConfig("default_ttl", "must not exceed max_ttl", self.default_ttl)
        if not (math.isfinite(self.backoff_factor) and self.backoff_factor >= 1.0):
            raise InvalidQuorumConfig("backoff_factor", "must be at least 1", self.backoff_factor)
        if self.fallback not in FALLBACKS:
            raise InvalidQuorumConfig("fallback", f"must be one of {FALLBACKS}", self.fallback)
        if self.after_retries not in (DENY, DEFER):
            raise InvalidQuorumConfig("after_retries", "must be deny or defer", self.after_retries)
        for name in ("retries", "heat_after", "keep_decided", "latency_window"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidQuorumConfig(name, "must be a non-negative int", value)
        if not (math.isfinite(self.heat_amount) and self.heat_amount >= 0):
            raise InvalidQuorumConfig(
                "heat_amount", "must be a non-negative number", self.heat_amount
            )
