"""Liveness of a running job, from its tadpoles' heartbeats and its progress.

==================== =================================================== ====================
state                when                                                recommended action
==================== =================================================== ====================
``live``             heartbeat fresh (age <= ``at_risk_after``) and the  ``continue``
                     worker's own state agrees with the control view
``split-brain-live`` heartbeat fresh, but the control view disagrees     ``keep_supervising``
                     with the worker's own state: the supervisor has the
                     shard running there, the worker's beats do not list it
``at-risk``          heartbeat stale or missing (age > ``at_risk_after``) ``hold_new_work``
``dead``             no heartbeat for longer than ``dead_after``          ``reclaim``
==================== =================================================== ====================

These are the specification's names (``dead`` is at-risk past ``dead_after``).
A split-brain-live job is never killed: fresh heartbeats prove its tadpole is
working, so the supervisor keeps supervising and logs the disagreement.

Overrunning (running longer than ``overrun_factor`` x its expected duration)
or stalled progress (none for ``stall_after``) is *not* split-brain: the
report stays ``live`` with ``overrunning`` set and the reason, and the job is
kept. An at-risk tadpole gets no new work until it beats again; a dead one is
stopped and its job reclaimed and retried.
"""

from __future__ import annotations

import enum

import msgspec

__all__ = ["Liveness", "LivenessConfig", "LivenessReport", "assess"]


class Liveness(enum.Enum):
    """What liveness concludes about a running shard, each with its ``action``."""

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
    """One assessment: the state, why, and what the supervisor does about it."""

    state: Liveness
    action: str
    heartbeat_age: float
    reason: str
    overrunning: bool = False
    """Live, but past its expected duration or with stalled progress."""


def assess(
    config: LivenessConfig,
    *,
    now: float,
    started_at: float,
    last_heartbeat: float | None,
    last_progress_at: float | None = None,
    expected_duration: float | None = None,
    disagreement: str = "",
) -> LivenessReport:
    """Classify one running assignment at ``now`` (all times on the same clock).

    ``disagreement``: how the worker's own state (its heartbeats) disagrees
    with the control view of this assignment; empty when they agree.
    """
    age = now - (last_heartbeat if last_heartbeat is not None else started_at)
    if age > config.dead_after:
        state, reason = Liveness.DEAD, f"no heartbeat for {age:.3g}s"
    elif age > config.at_risk_after:
        what = "stale" if last_heartbeat is not None else "missing"
        state, reason = Liveness.AT_RISK, f"heartbeat {what} for {age:.3g}s"
    elif disagreement:
        state, reason = Liveness.SPLIT_BRAIN_LIVE, disagreement
    else:
        state, reason = Liveness.LIVE, ""
        elapsed = now - started_at
        progressed = last_progress_at if last_progress_at is not None else started_at
        if expected_duration is not None and elapsed > config.overrun_factor * expected_duration:
            reason = f"overrunning: running {elapsed:.3g}s, expected {expected_duration:.3g}s"
        elif now - progressed > config.stall_after:
            reason = f"overrunning: no progress for {now - progressed:.3g}s"
    return LivenessReport(
        state=state,
        action=state.action,
        heartbeat_age=age,
        reason=reason,
        overrunning=reason.startswith("overrunning"),
    )
