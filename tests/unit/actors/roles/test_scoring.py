"""The balancer's priority score and its inputs."""

from __future__ import annotations

import math

import pytest

from actors.roles import Channel, InvalidTask, InvalidWeights, ScoreWeights, Task, validate_task


def test_the_score_is_the_weighted_sum_of_the_spec() -> None:
    task = Task("t", urgency=1.0, novelty_gap=0.5, dependency_depth=0.25, sandbox_debt=1.0)
    assert ScoreWeights().score(task) == pytest.approx(0.4 + 0.15 + 0.05 + 0.1)


def test_weights_are_configurable() -> None:
    weights = ScoreWeights(urgency=1.0, novelty_gap=0.0, dependency_depth=0.0, sandbox_debt=0.0)
    assert weights.score(Task("t", urgency=0.3, novelty_gap=1.0)) == 0.3


@pytest.mark.parametrize(
    "weights",
    [
        {"urgency": 0.5},  # sums to 1.1
        {"urgency": -0.1, "novelty_gap": 0.8},
        {"urgency": math.nan},
    ],
)
def test_weights_must_be_non_negative_and_sum_to_one(weights: dict[str, float]) -> None:
    with pytest.raises(InvalidWeights):
        ScoreWeights(**weights)


@pytest.mark.parametrize("field", ["urgency", "novelty_gap", "dependency_depth", "sandbox_debt"])
@pytest.mark.parametrize("value", [-0.01, 1.01, math.nan])
def test_every_input_must_be_in_zero_to_one(field: str, value: float) -> None:
    task = Task("t", **{field: value})  # type: ignore[arg-type]
    with pytest.raises(InvalidTask) as caught:
        validate_task(task)
    assert caught.value.field == field


def test_task_id_and_mode_are_checked() -> None:
    with pytest.raises(InvalidTask, match="task_id"):
        validate_task(Task(""))
    with pytest.raises(InvalidTask, match="mode"):
        validate_task(Task("t", mode="strict"))  # type: ignore[arg-type]
    validate_task(Task("t", mode=Channel.CREATIVE, parent_artifact="a"))
