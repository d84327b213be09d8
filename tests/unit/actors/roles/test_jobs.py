"""The job intake contract: every rule names its field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from actors.roles import Channel, InvalidJob, JobSpec, ResourceRequest, parse_job, validate_job


def good() -> dict[str, Any]:
    return {
        "job_id": "job-1",
        "objective": "summarise",
        "requested_resources": {"compute_units": 4, "memory_mb": 512, "bandwidth_mbps": 100},
        "tadpole_count": 2,
    }


def test_a_job_with_only_required_fields_is_accepted_with_defaults() -> None:
    spec = parse_job(good())
    assert spec == JobSpec(
        job_id="job-1",
        objective="summarise",
        requested_resources=ResourceRequest(4, 512, 100),
        tadpole_count=2,
    )
    assert spec.worker_id is None
    assert spec.expected_duration_seconds is None
    assert spec.reward_signal is None
    assert spec.metadata == {}
    assert spec.mode is Channel.BALANCED


def test_optional_fields_are_kept() -> None:
    data = good() | {
        "worker_id": "w1",
        "expected_duration_seconds": 2.5,
        "reward_signal": -0.5,
        "metadata": {"mode": "creative", "urgency": 0.9, "team": "x"},
    }
    spec = parse_job(data)
    assert (spec.worker_id, spec.expected_duration_seconds, spec.reward_signal) == (
        "w1",
        2.5,
        -0.5,
    )
    assert spec.mode is Channel.CREATIVE


@pytest.mark.parametrize("field", ["job_id", "objective", "requested_resources", "tadpole_count"])
def test_a_missing_required_field_is_named(field: str) -> None:
    data = good()
    del data[field]
    with pytest.raises(InvalidJob, match=f"{field} is required") as caught:
        parse_job(data)
    assert caught.value.field == field


@pytest.mark.parametrize("field", ["compute_units", "memory_mb", "bandwidth_mbps"])
def test_a_missing_resource_is_named_by_its_dotted_path(field: str) -> None:
    data = good()
    del data["requested_resources"][field]
    with pytest.raises(InvalidJob) as caught:
        parse_job(data)
    assert caught.value.field == f"requested_resources.{field}"
    assert "job 'job-1'" in str(caught.value)


BAD_VALUES = [
    ("job_id", "", "job_id"),
    ("job_id", 7, "job_id"),
    ("job_id", "x" * 129, "job_id"),
    ("objective", "", "objective"),
    ("tadpole_count", 0, "tadpole_count"),
    ("tadpole_count", 129, "tadpole_count"),
    ("tadpole_count", 1.0, "tadpole_count"),
    ("tadpole_count", True, "tadpole_count"),
    ("worker_id", "", "worker_id"),
    ("expected_duration_seconds", 0, "expected_duration_seconds"),
    ("expected_duration_seconds", float("inf"), "expected_duration_seconds"),
    ("reward_signal", 1.5, "reward_signal"),
    ("reward_signal", "high", "reward_signal"),
    ("metadata", [1], "metadata"),
]


@pytest.mark.parametrize(("field", "value", "named"), BAD_VALUES)
def test_a_bad_value_is_named_with_the_value(field: str, value: object, named: str) -> None:
    data = good()
    data[field] = value
    with pytest.raises(InvalidJob) as caught:
        parse_job(data)
    assert caught.value.field == named
    assert caught.value.value == value or caught.value.value is value
    assert repr(value)[:20] in str(caught.value)


@pytest.mark.parametrize("value", [-1, 2.5, "4", None, True])
def test_resources_must_be_integers_at_least_zero(value: object) -> None:
    data = good()
    data["requested_resources"]["memory_mb"] = value
    with pytest.raises(InvalidJob) as caught:
        parse_job(data)
    assert caught.value.field == "requested_resources.memory_mb"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("mode", "chaotic"),
        ("urgency", 1.2),
        ("sandbox_debt", -0.1),
        ("parent_artifact", ""),
        ("specialization", 3),
    ],
)
def test_known_metadata_keys_are_checked(key: str, value: object) -> None:
    data = good() | {"metadata": {key: value}}
    with pytest.raises(InvalidJob) as caught:
        parse_job(data)
    assert caught.value.field == f"metadata.{key}"


def test_unknown_fields_are_refused_by_name() -> None:
    with pytest.raises(InvalidJob) as caught:
        parse_job(good() | {"priority": 3})
    assert caught.value.field == "priority"
    data = good()
    data["requested_resources"]["gpus"] = 1
    with pytest.raises(InvalidJob) as caught:
        parse_job(data)
    assert caught.value.field == "requested_resources.gpus"


def test_a_non_mapping_is_refused() -> None:
    with pytest.raises(InvalidJob):
        parse_job(["job"])  # type: ignore[arg-type]
    data = good() | {"requested_resources": 5}
    with pytest.raises(InvalidJob) as caught:
        parse_job(data)
    assert caught.value.field == "requested_resources"


def test_a_spec_built_directly_is_validated_too() -> None:
    spec = JobSpec("a", "b", ResourceRequest(1, 1, -1), 1)
    with pytest.raises(InvalidJob) as caught:
        validate_job(spec)
    assert caught.value.field == "requested_resources.bandwidth_mbps"
    assert parse_job(JobSpec("a", "b", ResourceRequest(1, 1, 1), 1)).job_id == "a"


def test_parsing_does_not_change_the_input() -> None:
    data = good() | {"metadata": {"mode": "strict"}}
    before = copy.deepcopy(data)
    parse_job(data)
    assert data == before
