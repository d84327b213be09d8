"""How a job becomes a balancer task: its score inputs, with the supervisor's own signals.

Plain functions, no actors. The job's ``metadata`` gives the four score
inputs (``urgency`` 0.5, ``novelty_gap`` 0.5, ``dependency_depth`` 0,
``sandbox_debt`` 0 when absent); three more signals move them, each within a
fixed bound, and every input is then clamped to ``0..1``:

============================ ======================================= ==========================
signal                       effect                                  bound
============================ ======================================= ==========================
``reward_signal`` r (-1..1)  urgency + ``REWARD_WEIGHT`` · r          urgency ± 0.1
``metadata.complexity`` c    dependency_depth + ``COMPLEXITY_WEIGHT`` dependency_depth + 0.2
(0..1)                       · c (complex work starts earlier)
resource pressure p (0..1)   urgency - ``PRESSURE_WEIGHT`` · p · f,   urgency - 0.1
and request share f (0..1)   f the largest share of a pool the job
                             asks for (big jobs yield under pressure)
============================ ======================================= ==========================

So with the default weights the priority score moves by at most
0.4 · 0.2 + 0.2 · 0.2 = 0.12 from what the job's metadata alone gives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._scoring import Task

if TYPE_CHECKING:
    from ._jobs import JobSpec
    from ._resources import Resources

__all__ = ["COMPLEXITY_WEIGHT", "PRESSURE_WEIGHT", "REWARD_WEIGHT", "classify"]

REWARD_WEIGHT = 0.1
COMPLEXITY_WEIGHT = 0.2
PRESSURE_WEIGHT = 0.1


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def classify(
    spec: JobSpec,
    *,
    pressure: float = 0.0,
    totals: Resources | None = None,
    submitted_at: float | None = None,
) -> Task:
    """The balancer task for ``spec`` under resource ``pressure`` (utilisation, 0..1)."""
    meta = spec.metadata
    urgency = float(meta.get("urgency", 0.5))
    depth = float(meta.get("dependency_depth", 0.0))
    if spec.reward_signal is not None:
        urgency += REWARD_WEIGHT * float(spec.reward_signal)
    depth += COMPLEXITY_WEIGHT * float(meta.get("complexity", 0.0))
    if totals is not None and pressure > 0:
        asked = spec.requested_resources
        share = max(
            min(1.0, want / total)
            for want, total in zip(
                (asked.compute_units, asked.memory_mb, asked.bandwidth_mbps),
                totals.as_tuple(),
                strict=True,
            )
        )
        urgency -= PRESSURE_WEIGHT * _clamp(pressure) * share
    return Task(
        task_id=spec.job_id,
        mode=spec.mode,
        urgency=_clamp(urgency),
        novelty_gap=float(meta.get("novelty_gap", 0.5)),
        dependency_depth=_clamp(depth),
        sandbox_debt=float(meta.get("sandbox_debt", 0.0)),
        parent_artifact=meta.get("parent_artifact"),
        submitted_at=submitted_at,
    )
