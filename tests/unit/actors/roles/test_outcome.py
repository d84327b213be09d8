"""Results are bounded; acceptance evidence is judged."""

from __future__ import annotations

from actors.roles import bound_result, judge


def test_a_result_within_the_limit_is_kept_as_it_is() -> None:
    assert bound_result({"a": [1, 2]}, 64) == {"a": [1, 2]}
    assert bound_result(None, 64) is None


def test_a_large_or_unencodable_result_becomes_a_bounded_note() -> None:
    note = bound_result("x" * 1000, 100)
    assert note["truncated"] is True
    assert note["bytes"] == 1002
    assert len(note["preview"]) <= 100
    odd = bound_result(object(), 100)
    assert odd["truncated"] is True
    assert odd["json"] is False
    assert odd["preview"].startswith("<object")


def test_acceptance_is_judged_by_its_declaration() -> None:
    checks = {"positive": lambda r: r > 0, "boom": lambda r: 1 / 0}
    assert judge(None, 0, checks).done
    assert not judge("external", 5, checks).done
    assert judge("positive", 5, checks).done
    verdict = judge("positive", -1, checks)
    assert not verdict.done
    assert "did not hold" in verdict.evidence
    assert "raised" in judge("boom", 1, checks).evidence
    assert not judge("missing", 1, checks).done
