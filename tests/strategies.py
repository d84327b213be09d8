"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=16)
    | st.binary(max_size=16)
)

msgpack_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
"""msgpack-encodable values of any shape (what a hostile peer could send, decoded)."""


# -- near-valid envelopes ------------------------------------------------------
# What a buggy or hostile peer that knows the protocol sends: the envelope's
# array shape, each field right or wrong (wrong type, huge int, empty or nested
# junk), cut short or with extra elements, for every kind. Messages use the
# test tag ``test.ping`` (``tests.helpers.Ping``, one int field ``n``).

huge_ints = st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, -(2**63), -1])
junk: st.SearchStrategy[Any] = msgpack_values | huge_ints | st.just([]) | st.just([[[[]]]])

near_messages: st.SearchStrategy[Any] = (
    st.sampled_from(
        [
            ["test.ping", 1],
            ["test.ping"],
            ["test.ping", "one"],
            ["test.ping", 2**64 - 1],
            ["test.ping", 1, 2, 3],
            ["no.such.message.tag", 1],
            ["no.such.message.tag"],
            [],
            [None],
            ["test.ping", [["test.ping", 1]]],
        ]
    )
    | junk
)
"""A message as a peer could put it in a payload: valid, unknown, invalid, or junk."""

_failures = st.sampled_from(
    [["ValueError", "bad", ""], ["ValueError", "bad"], ["ValueError"], [], [1, 2, 3]]
)
_payloads: dict[int, st.SearchStrategy[Any]] = {
    0: near_messages,  # TELL
    1: near_messages,  # ASK
    2: near_messages,  # REPLY
    3: _failures | junk,  # ERROR
    4: st.none() | junk,  # CANCEL
    5: st.lists(near_messages, max_size=4) | near_messages | junk,  # TELLS
}


@st.composite
def near_valid_envelopes(draw: st.DrawFn, targets: list[str] | None = None) -> list[Any]:
    """The fields of an envelope (as the list msgpack encodes), near valid."""
    kind = draw(st.sampled_from(sorted(_payloads)))
    paths = targets if targets is not None else ["/user/echo"]

    def field(right: st.SearchStrategy[Any], wrong: st.SearchStrategy[Any]) -> Any:
        # Mostly right, so that the wrong ones meet the code behind the right ones.
        return draw(right if draw(st.integers(0, 3)) else wrong)

    fields: list[Any] = [
        field(st.just(kind), st.integers(-1, 9) | junk),
        field(st.sampled_from(paths), st.sampled_from(["", "/user/nobody"]) | junk),
        draw(_payloads[kind]),
        field(st.none() | st.just("/user/asker"), junk),
        field(st.integers(0, 2**64 - 1), junk),
        field(st.none() | st.text(max_size=8), junk),
        field(st.none() | st.floats(min_value=0.0, max_value=60.0), st.floats() | junk),
    ]
    length = draw(st.sampled_from([3, 3, len(fields)]) | st.integers(0, len(fields)))
    extra = draw(st.lists(junk, max_size=2)) if not draw(st.integers(0, 3)) else []
    return fields[:length] + extra
