"""Address parsing and the reconnect backoff."""

from __future__ import annotations

import random

import pytest

from actors.remote import Address, InvalidAddress, ReconnectBackoff, parse_address


def test_full_address_parses_and_prints_back() -> None:
    text = "tadpole://alpha@127.0.0.1:7350/user/counter"
    address = parse_address(text)
    assert address == Address("alpha", "127.0.0.1", 7350, "/user/counter")
    assert str(address) == text
    assert address.node_address == "tadpole://alpha@127.0.0.1:7350"
    assert str(address.with_path("/system/cluster")).endswith("7350/system/cluster")


def test_ipv6_and_local_only_addresses() -> None:
    assert parse_address("tadpole://n@[::1]:9/user/x").host == "::1"
    assert str(parse_address("tadpole://n@[::1]:9/user/x")) == "tadpole://n@[::1]:9/user/x"
    local = parse_address("tadpole://demo/user/x")
    assert (local.host, local.port, local.path) == (None, None, "/user/x")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "tadpole:/x",
        "http://n@h:1/user/x",
        "tadpole://n@h:0/user/x",
        "tadpole://n@h:70000/user/x",
        "tadpole://n@h/user/x",
        "tadpole://n@h:1//x",
        "tadpole://n m@h:1/x",
    ],
)
def test_invalid_addresses_raise_invalid_address(bad: str) -> None:
    with pytest.raises(InvalidAddress) as info:
        parse_address(bad)
    assert isinstance(info.value, ValueError)


def test_backoff_grows_caps_and_is_reproducible_from_the_seed() -> None:
    backoff = ReconnectBackoff(base=0.1, cap=1.0, jitter=0.2)
    first = [backoff.delay(n, random.Random(3)) for n in range(1, 8)]
    again = [backoff.delay(n, random.Random(3)) for n in range(1, 8)]
    assert first == again
    rng = random.Random(5)
    for n in range(1, 12):
        raw = min(1.0, 0.1 * 2 ** (n - 1))
        assert raw * 0.8 <= backoff.delay(n, rng) <= raw * 1.2
    with pytest.raises(ValueError, match="backoff"):
        ReconnectBackoff(base=2.0, cap=1.0)
