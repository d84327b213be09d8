"""Classification: reward, complexity and resource pressure move the score within bounds."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.roles import JobSpec, ResourceRequest, Resources, ScoreWeights
from actors.roles._classify import classify

TOTALS = Resources(256, 65_536, 10_000)
WEIGHTS = ScoreWeights()


def spec(reward: float | None = None, cu: int = 4, **metadata: Any) -> JobSpec:
    return JobSpec(
        job_id="j",
        objective="work",
        requested_resources=ResourceRequest(cu, 512, 100),
        tadpole_count=1,
        reward_signal=reward,
        metadata=metadata,
    )


def score(job: JobSpec, pressure: float = 0.0) -> float:
    return WEIGHTS.score(classify(job, pressure=pressure, totals=TOTALS))


def test_a_positive_reward_raises_priority_and_a_negative_one_lowers_it() -> None:
    assert score(spec(reward=1.0)) > score(spec()) > score(spec(reward=-1.0))
    assert classify(spec(reward=1.0)).urgency == 0.6


def test_complex_objectives_start_earlier() -> None:
    assert score(spec(complexity=1.0)) > score(spec())
    assert classify(spec(complexity=1.0)).dependency_depth == 0.2


def test_under_resource_pressure_big_requests_yield() -> None:
    big, small = spec(cu=256), spec(cu=2)
    assert score(big, pressure=0.9) < score(small, pressure=0.9)
    assert score(big, pressure=0.0) == score(small, pressure=0.0)


@settings(max_examples=200, deadline=None)
@given(
    urgency=st.floats(0, 1),
    depth=st.floats(0, 1),
    complexity=st.floats(0, 1),
    reward=st.none() | st.floats(-1, 1),
    pressure=st.floats(0, 1),
    cu=st.integers(0, 1000),
)
def test_the_signals_move_the_score_by_at_most_the_documented_bound(
    urgency: float, depth: float, complexity: float, reward: float | None, pressure: float, cu: int
) -> None:
    job = spec(reward=reward, cu=cu, urgency=urgency, dependency_depth=depth)
    base = spec(cu=cu, urgency=urgency, dependency_depth=depth)
    job = msgspec.structs.replace(job, metadata={**job.metadata, "complexity": complexity})
    task = classify(job, pressure=pressure, totals=TOTALS)
    for name in ("urgency", "novelty_gap", "dependency_depth", "sandbox_debt"):
        assert 0.0 <= getattr(task, name) <= 1.0
    moved = WEIGHTS.score(task) - WEIGHTS.score(classify(base))
    assert abs(moved) <= 0.4 * 0.2 + 0.2 * 0.2 + 1e-9
