"""Liveness of a running job, from its tadpoles' heartbeats and its progress.

==================== =================================================== ====================
state                when                                                recommended action
==================== =================================================== ====================
``live``             heartbeat fresh (age <= ``at_risk_after``)          ``continue``
``split-brain-live`` heartbeat fresh, but the control view disagrees:    ``keep_supervising``
                     the job overran ``overrun_factor`` x its expected
                     duration, or its progress stalled for ``stall_after``
``at-risk``          heartbeat stale or missing (age > ``at_risk_after``) ``hold_new_work``
``dead``             no heartbeat for longer than ``dead_after``          ``reclaim``
==================== =================================================== ====================

A split-brain-live job is never killed: fresh heartbeats prove its tadpole
is working, so the supervisor keeps supervising and logs the disagreement.
An at-risk tadpole gets no new work until it beats again; a dead one is
stopped and its job reclaimed and retried.
"""

from __future__ import annotations

import enum

import msgspec

__all__ = ["Liveness", "LivenessConfig", "LivenessReport", "assess"]


class Liveness(enum.Enum):
    LIVE = "live"
    SPLIT_BRAIN_LIVE = "split-brain-live"
    AT_RISK = "at-risk"
    DEAD = "dead"

    @property
    def action(self) -> str:
        return _ACTIONS[self]


_ACTIONS = {
    Liveness.LIVE: "continue",
    Liveness.SPLIT_BRAIN_LIVE: "keep_supervising",
    Liveness.AT_RISK: "hold_new_work",
    Liveness.DEAD: "reclaim",
}


class LivenessConfig(msgspec.Struct, frozen=True):
    """Heartbeat timing in seconds: beat every 0.5, at risk after 1.5, dead after 5."""

    heartbeat_interval: float = 0.5
    at_risk_after: float = 1.5
    dead_after: float = 5.0
    overrun_factor: float = 2.0
    stall_after: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.heartbeat_interval < self.at_risk_after < self.dead_after:
            raise ValueError(
                f"liveness needs 0 < heartbeat_interval < at_risk_after < dead_after, got {self!r}"
            )
        if self.overrun_factor < 1 or self.stall_after <= 0:
            raise ValueError("overrun_factor must be >= 1 and stall_after > 0")


class LivenessReport(msgspec.Struct, frozen=True):
    state: Liveness
    action: str
    heartbeat_age: float
    reason: str


def assess(
    config: LivenessConfig,
    *,
    now: float,
    started_at: float,
    last_heartbeat: float | None,
    last_progress_at: float | None = None,
    expected_duration: float | None = None,
) -> LivenessReport:
    """Classify one running assignment at ``now`` (all times on the same clock)."""
    age = now - (last_heartbeat if last_heartbeat is not None else started_at)
    if age > config.dead_after:
        state, reason = Liveness.DEAD, f"no heartbeat for {age:.3g}s"
    elif age > config.at_risk_after:
        what = "stale" if last_heartbeat is not None else "missing"
        state, reason = Liveness.AT_RISK, f"heartbeat {what} for {age:.3g}s"
    else:
        elapsed = now - started_at
        progressed = last_progress_at if last_progress_at is not None else started_at
        if expected_duration is not None and elapsed > config.overrun_factor * expected_duration:
            state = Liveness.SPLIT_BRAIN_LIVE
            reason = f"running {elapsed:.3g}s, expected {expected_duration:.3g}s"
        elif now - progressed > config.stall_after:
            state = Liveness.SPLIT_BRAIN_LIVE
            reason = f"no progress for {now - progressed:.3g}s"
        else:
            state, reason = Liveness.LIVE, ""
    return LivenessReport(state=state, action=state.action, heartbeat_age=age, reason=reason)
