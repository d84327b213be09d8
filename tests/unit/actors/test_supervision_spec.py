"""Supervision records validate every field at the call; backoff never overflows."""

from __future__ import annotations

import math
import random
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors import (
    Actor,
    ActorSystem,
    Backoff,
    ChildSpec,
    MailboxConfig,
    Overflow,
    Restart,
    Strategy,
    SupervisorFlags,
)

NAN = math.nan
INF = math.inf


class Dummy(Actor[Any]):
    pass


# -- enum fields take members; a string equal to a value is refused with a hint --


@pytest.mark.parametrize(
    ("build", "pattern"),
    [
        (
            lambda: ChildSpec(Dummy, restart="temporary"),
            r"ChildSpec\.restart must be a Restart, got 'temporary' \(use Restart\.TEMPORARY\)",
        ),
        (lambda: ChildSpec(Dummy, restart="bogus"), r"ChildSpec\.restart .* got 'bogus'$"),
        (
            lambda: MailboxConfig(overflow="fail"),
            r"MailboxConfig\.overflow must be an Overflow, got 'fail' \(use Overflow\.FAIL\)",
        ),
        (
            lambda: SupervisorFlags(strategy="one_for_all"),
            r"SupervisorFlags\.strategy .* got 'one_for_all' \(use Strategy\.ONE_FOR_ALL\)",
        ),
        (lambda: SupervisorFlags(strategy=Restart.PERMANENT), r"SupervisorFlags\.strategy"),
    ],
)
def test_enum_fields_refuse_plain_strings_naming_the_field_and_value(
    build: Any, pattern: str
) -> None:
    with pytest.raises(TypeError, match=pattern):
        build()


@pytest.mark.anyio
async def test_spawn_with_a_string_restart_fails_at_the_call() -> None:
    async with ActorSystem("t") as system:
        with pytest.raises(TypeError, match=r"ChildSpec\.restart .* got 'temporary'"):
            await system.spawn(Dummy, restart="temporary")  # type: ignore[arg-type]
        assert system.statistics().actors == 0


def test_decoding_a_record_still_turns_strings_into_members() -> None:
    flags = msgspec.convert({"strategy": "rest_for_one", "period": 2.0}, SupervisorFlags)
    assert flags.strategy is Strategy.REST_FOR_ONE
    config = msgspec.convert({"capacity": 8, "overflow": "drop_oldest"}, MailboxConfig)
    assert config.overflow is Overflow.DROP_OLDEST


# -- numbers: type, range, finiteness --------------------------------------------


@pytest.mark.parametrize(
    ("build", "error", "pattern"),
    [
        (lambda: MailboxConfig(capacity=NAN), TypeError, r"MailboxConfig\.capacity .* nan"),
        (lambda: MailboxConfig(capacity=2.0), TypeError, r"MailboxConfig\.capacity .* int"),
        (lambda: MailboxConfig(capacity=True), TypeError, r"MailboxConfig\.capacity"),
        (lambda: MailboxConfig(capacity=0), ValueError, r"MailboxConfig\.capacity .*>= 1, got 0"),
        (lambda: SupervisorFlags(period=NAN), ValueError, r"SupervisorFlags\.period .*got nan"),
        (lambda: SupervisorFlags(period=INF), ValueError, r"SupervisorFlags\.period .*finite"),
        (lambda: SupervisorFlags(period=0), ValueError, r"SupervisorFlags\.period must be > 0"),
        (lambda: SupervisorFlags(period="5"), TypeError, r"SupervisorFlags\.period .*'5'"),
        (lambda: SupervisorFlags(intensity=-1), ValueError, r"SupervisorFlags\.intensity"),
        (lambda: SupervisorFlags(intensity=2.5), TypeError, r"SupervisorFlags\.intensity .*2\.5"),
        (lambda: SupervisorFlags(intensity=NAN), TypeError, r"SupervisorFlags\.intensity"),
        (lambda: SupervisorFlags(backoff=None), TypeError, r"SupervisorFlags\.backoff"),
        (lambda: Backoff(initial=NAN), ValueError, r"Backoff\.initial must be finite"),
        (lambda: Backoff(initial=-1), ValueError, r"Backoff\.initial must be >= 0"),
        (lambda: Backoff(maximum=INF), ValueError, r"Backoff\.maximum must be finite"),
        (lambda: Backoff(factor=0.5), ValueError, r"Backoff\.factor must be >= 1"),
        (lambda: Backoff(factor=NAN), ValueError, r"Backoff\.factor"),
        (lambda: Backoff(jitter=1.5), ValueError, r"Backoff\.jitter must be <= 1"),
        (lambda: Backoff(jitter="0.1"), TypeError, r"Backoff\.jitter must be a number"),
        (lambda: ChildSpec(Dummy, shutdown=NAN), ValueError, r"ChildSpec\.shutdown"),
        (lambda: ChildSpec(Dummy, shutdown=-1), ValueError, r"ChildSpec\.shutdown .*>= 0"),
        (lambda: ChildSpec(Dummy, shutdown=None), TypeError, r"ChildSpec\.shutdown"),
        (lambda: ChildSpec("Dummy"), TypeError, r"ChildSpec\.factory must be callable"),
        (lambda: ChildSpec(Dummy, args=[1]), TypeError, r"ChildSpec\.args must be a tuple"),
        (lambda: ChildSpec(Dummy, kwargs={1: 2}), TypeError, r"ChildSpec\.kwargs"),
        (lambda: ChildSpec(Dummy, name=""), ValueError, r"ChildSpec\.name"),
        (lambda: ChildSpec(Dummy, name=7), ValueError, r"ChildSpec\.name .* 7"),
        (lambda: ChildSpec(Dummy, name="a/b"), ValueError, r"'a/b'"),
        (lambda: ChildSpec(Dummy, mailbox=8), TypeError, r"ChildSpec\.mailbox .* 8"),
        (lambda: ChildSpec(Dummy, directives={}), TypeError, r"ChildSpec\.directives"),
    ],
)
def test_every_field_is_validated_at_the_call(build: Any, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        build()


def test_valid_records_are_accepted() -> None:
    assert MailboxConfig(capacity=1).capacity == 1
    assert SupervisorFlags(intensity=0, period=0.5).period == 0.5
    assert Backoff(initial=0, maximum=0, factor=1, jitter=1).jitter == 1
    spec = ChildSpec(Dummy, args=(1,), kwargs={"x": 1}, shutdown=0, restart=Restart.TRANSIENT)
    assert spec.restart is Restart.TRANSIENT


# -- backoff is capped: no overflow, however many restarts ------------------------


@given(
    initial=st.floats(min_value=0, max_value=1e6),
    maximum=st.floats(min_value=0, max_value=1e6),
    factor=st.floats(min_value=1, max_value=1e3),
    jitter=st.floats(min_value=0, max_value=1),
    attempt=st.one_of(st.integers(min_value=1, max_value=5000), st.just(10**12)),
)
def test_backoff_delay_never_overflows_and_stays_within_the_cap(
    initial: float, maximum: float, factor: float, jitter: float, attempt: int
) -> None:
    backoff = Backoff(initial=initial, maximum=maximum, factor=factor, jitter=jitter)
    delay = backoff.delay(attempt, random.Random(attempt))
    assert 0 <= delay <= maximum * (1 + jitter)
    assert math.isfinite(delay)


def test_backoff_reaches_its_maximum_and_stays_there() -> None:
    backoff = Backoff(initial=0.01, maximum=2.0, factor=2.0, jitter=0.0)
    rng = random.Random(1)
    assert [backoff.delay(n, rng) for n in (1, 2, 3)] == [0.01, 0.02, 0.04]
    assert backoff.delay(1_025, rng) == 2.0
    assert backoff.delay(10**9, rng) == 2.0
