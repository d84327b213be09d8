"""The fencing guard as a function, the manager's settings, and the messages on the wire."""

from __future__ import annotations

import pytest

from actors.roles.territories import (
    Acquire,
    FencingGuard,
    Granted,
    HeatConfig,
    InvalidTerritoryConfig,
    Lease,
    Refused,
    StaleFencingToken,
    TerritoryConfig,
    UnknownStrategy,
)
from protocol import Codec


class Fenced:
    def __init__(self, territory: str, token: int) -> None:
        self.territory = territory
        self.fencing_token = token


def test_a_guard_accepts_equal_and_higher_tokens_and_refuses_lower_ones() -> None:
    stale: list[tuple[str, int, int]] = []
    fence = FencingGuard(["t"], on_stale=lambda *seen: stale.append(seen))
    assert fence(Fenced("t", 3)) is None
    assert fence(Fenced("t", 3)) is None
    assert fence.highest("t") == 3
    refusal = fence(Fenced("t", 2))
    assert isinstance(refusal, StaleFencingToken)
    assert (refusal.territory, refusal.token, refusal.highest) == ("t", 2, 3)
    assert stale == [("t", 2, 3)]
    assert fence(Fenced("t", 4)) is None
    assert fence.refused == 1


def test_a_guard_lets_unfenced_messages_and_unguarded_territories_through() -> None:
    fence = FencingGuard(["t"])
    fence(Fenced("t", 5))
    assert fence("hello") is None
    assert fence(Fenced("other", 1)) is None
    assert fence.highest("other") == 0
    assert FencingGuard()(Fenced("any", 1)) is None  # guards every territory


def test_revoking_a_token_refuses_it_before_a_newer_one_is_seen() -> None:
    fence = FencingGuard()
    assert fence(Fenced("t", 1)) is None
    fence.revoke("t", 1)
    assert isinstance(fence(Fenced("t", 1)), StaleFencingToken)
    assert fence(Fenced("t", 2)) is None  # the next grant's token
    fence.revoke("t", 0)  # an older revocation changes nothing
    assert fence.highest("t") == 2


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"default_ttl": 0.0}, "default_ttl"),
        ({"max_ttl": float("inf")}, "max_ttl"),
        ({"default_ttl": 20.0, "max_ttl": 10.0}, "default_ttl"),
        ({"maintenance_interval": -1.0}, "maintenance_interval"),
        ({"decay_interval": float("nan")}, "decay_interval"),
        ({"refusal_heat": -1.0}, "refusal_heat"),
        ({"strategy": "random"}, "strategy"),
        ({"strategy": "curve", "strategy_options": {"dims": 0}}, "dims"),
    ],
)
def test_bad_manager_settings_are_refused_by_name(options: dict[str, object], name: str) -> None:
    with pytest.raises((InvalidTerritoryConfig, UnknownStrategy), match=name):
        TerritoryConfig(**options)  # type: ignore[arg-type]


def test_heat_config_defaults_clear_at_half_the_threshold() -> None:
    assert HeatConfig(threshold=8.0).clear_level == 4.0


def test_lease_messages_cross_the_wire_unchanged() -> None:
    codec = Codec()
    lease = Lease("repo/a", "alice", 7, 1234.5, 1200.0)
    for message in (
        Acquire("repo/a", "alice", 3.0),
        Granted(lease),
        Refused("repo/a", "bob", "held", current_holder="alice", current_token=7),
    ):
        assert codec.decode(codec.encode(message)) == message
