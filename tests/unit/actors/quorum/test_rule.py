"""The decision rule and the quorum's configuration, as pure functions.

Ported defining cases: etcd raft's majority VoteResult (``n // 2 + 1``: 2 of 3, 3 of 5,
5 of 9, one voter alone), and Chubby/Paxos' "a decision once certain never
changes" (each outcome is decided at the first vote that makes it certain).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.roles.quorum import (
    FAILED,
    GRANTED,
    REJECTED,
    InvalidQuorumConfig,
    InvalidThreshold,
    QuorumConfig,
    outcome,
    required,
)


@pytest.mark.parametrize(("voters", "need"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (9, 5)])
def test_the_default_threshold_is_a_strict_majority(voters: int, need: int) -> None:
    assert required(None, voters) == need


@pytest.mark.parametrize(
    ("threshold", "voters", "need"),
    [(1, 5, 1), (5, 5, 5), (0.5, 4, 2), (0.5, 5, 3), (0.6, 5, 3), (1.0, 9, 9), (0.01, 3, 1)],
)
def test_a_count_or_a_fraction_sets_the_threshold(threshold: float, voters: int, need: int) -> None:
    assert required(threshold, voters) == need


@pytest.mark.parametrize(
    ("threshold", "voters", "problem"),
    [
        (4, 3, "above the voter count"),
        (0, 3, "at least 1"),
        (-1, 3, "at least 1"),
        (0.0, 3, "fraction in (0, 1]"),
        (1.5, 3, "fraction in (0, 1]"),
        (float("nan"), 3, "fraction in (0, 1]"),
        (True, 3, "None, an int count or a float fraction"),
        ("2", 3, "None, an int count or a float fraction"),
        (None, 0, "at least one voter"),
    ],
)
def test_a_threshold_no_electorate_can_meet_is_refused_by_name(
    threshold: object, voters: int, problem: str
) -> None:
    with pytest.raises(InvalidThreshold, match=re.escape(problem)) as caught:
        required(threshold, voters)  # type: ignore[arg-type]
    assert caught.value.threshold is threshold


def test_outcome_is_granted_at_the_threshold_and_open_before() -> None:
    assert outcome(3, 5, yes=2, no=0, lost=0) is None
    assert outcome(3, 5, yes=3, no=0, lost=0) == GRANTED


def test_outcome_is_rejected_once_the_no_votes_alone_make_it_unreachable() -> None:
    assert outcome(3, 5, yes=0, no=2, lost=0) is None
    assert outcome(3, 5, yes=0, no=3, lost=0) == REJECTED


def test_outcome_fails_once_lost_votes_make_it_unreachable() -> None:
    assert outcome(3, 5, yes=1, no=1, lost=1) is None
    assert outcome(3, 5, yes=1, no=1, lost=2) == FAILED
    assert outcome(3, 5, yes=2, no=0, lost=3) == FAILED


@given(
    voters=st.integers(1, 9),
    data=st.data(),
)
def test_the_decision_comes_at_the_first_certain_vote_and_holds(
    voters: int, data: st.DataObject
) -> None:
    need = data.draw(st.integers(1, voters))
    answers = data.draw(
        st.lists(st.sampled_from("ynl"), min_size=voters, max_size=voters), label="answers"
    )
    counts = {"y": 0, "n": 0, "l": 0}
    first = None
    for answer in answers:
        counts[answer] += 1
        result = outcome(need, voters, counts["y"], counts["n"], counts["l"])
        if first is None:
            first = result
        elif result is not None:
            # Once certain, still certain: grant and reject never flip into each other.
            assert {first, result} != {GRANTED, REJECTED}
            if first == GRANTED:
                assert result == GRANTED
    # All answers in: the outcome is certain.
    assert outcome(need, voters, counts["y"], counts["n"], counts["l"]) is not None
    if counts["y"] >= need:
        assert first == GRANTED


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("threshold", 0),
        ("threshold", 1.5),
        ("timeout", 0),
        ("timeout", float("inf")),
        ("default_ttl", -1.0),
        ("fallback", "pray"),
        ("after_retries", "retry"),
        ("retries", -1),
        ("backoff_factor", 0.5),
        ("heat_amount", float("nan")),
    ],
)
def test_a_bad_setting_is_refused_with_its_name(field: str, value: object) -> None:
    with pytest.raises(InvalidQuorumConfig) as caught:
        QuorumConfig(**{field: value})  # type: ignore[arg-type]
    assert caught.value.name == field


def test_default_ttl_may_not_exceed_max_ttl() -> None:
    with pytest.raises(InvalidQuorumConfig, match="max_ttl"):
        QuorumConfig(default_ttl=10.0, max_ttl=5.0)


# etcd raft's quorum.MajorityConfig.VoteResult, ported: won at yes >= n // 2 + 1,
# lost once yes + missing < n // 2 + 1, pending otherwise. Won is our granted, lost
# our rejected, pending our open (etcd lets an empty electorate win; we refuse it).
@pytest.mark.parametrize(
    ("voters", "votes", "etcd"),
    [
        (1, "", "pending"),
        (1, "y", "won"),
        (1, "n", "lost"),
        (2, "y", "pending"),
        (2, "yn", "lost"),
        (2, "yy", "won"),
        (3, "y", "pending"),
        (3, "yn", "pending"),
        (3, "nn", "lost"),
        (3, "yy", "won"),
        (5, "yynn", "pending"),
        (5, "yyy", "won"),
        (5, "nnn", "lost"),
        (5, "yyn", "pending"),
    ],
)
def test_the_majority_rule_agrees_with_etcd_raft(voters: int, votes: str, etcd: str) -> None:
    expected = {"won": GRANTED, "lost": REJECTED, "pending": None}[etcd]
    result = outcome(required(None, voters), voters, votes.count("y"), votes.count("n"), 0)
    assert result == expected
