"""Properties of the Codec: round-trips, and only documented errors for any bytes."""

from __future__ import annotations

import contextlib

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import msgpack_values

from protocol import Codec, InvalidMessage, MalformedMessage, Message, UnknownMessageType


class Point(msgspec.Struct, frozen=True, array_like=True):
    x: float
    y: float


class Sample(Message, tag="test_protocol_codec.sample"):
    number: int
    ratio: float
    text: str
    blob: bytes
    items: tuple[int, ...]
    mapping: dict[str, int]
    maybe: str | None = None


class Route(Message, tag="test_protocol_codec.route"):
    name: str
    points: tuple[Point, ...]
    samples: tuple[Sample, ...] = ()


TAGS = [Sample.message_tag(), Route.message_tag(), "test_protocol_codec.unknown"]
DECODE_ERRORS = (MalformedMessage, UnknownMessageType, InvalidMessage)

int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
floats = st.floats(allow_nan=False)

samples = st.builds(
    Sample,
    number=int64,
    ratio=floats,
    text=st.text(),
    blob=st.binary(),
    items=st.lists(int64, max_size=5).map(tuple),
    mapping=st.dictionaries(st.text(max_size=8), int64, max_size=5),
    maybe=st.none() | st.text(),
)
routes = st.builds(
    Route,
    name=st.text(),
    points=st.lists(st.builds(Point, floats, floats), max_size=5).map(tuple),
    samples=st.lists(samples, max_size=3).map(tuple),
)
messages: st.SearchStrategy[Message] = samples | routes

# msgpack values of any shape, and arrays that start like a tagged message.
values = msgpack_values
tagged = st.tuples(st.sampled_from(TAGS), st.lists(values, max_size=8)).map(
    lambda parts: [parts[0], *parts[1]]
)
msgpack_shaped = (values | tagged).map(msgspec.msgpack.encode)

codec = Codec()


@given(messages)
def test_any_message_decodes_to_an_equal_message_of_its_type(message: Message) -> None:
    decoded = codec.decode(codec.encode(message))

    assert type(decoded) is type(message)
    assert decoded == message


@given(messages)
def test_decode_as_its_own_type_round_trips(message: Message) -> None:
    assert codec.decode_as(codec.encode(message), type(message)) == message


@settings(deadline=None)
@given(st.binary(max_size=512) | msgpack_shaped)
def test_any_bytes_decode_or_raise_only_documented_errors(data: bytes) -> None:
    try:
        message = codec.decode(data)
    except DECODE_ERRORS:
        return
    assert isinstance(message, Message)


@settings(deadline=None)
@given(st.binary(max_size=512) | msgpack_shaped)
def test_any_bytes_decode_as_a_type_or_raise_only_documented_errors(data: bytes) -> None:
    try:
        message = codec.decode_as(data, Sample)
    except (MalformedMessage, InvalidMessage):
        return
    assert isinstance(message, Sample)


@given(messages, st.data())
def test_a_corrupted_message_decodes_or_raises_only_documented_errors(
    message: Message, data: st.DataObject
) -> None:
    encoded = bytearray(codec.encode(message))
    position = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    encoded[position] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=0, max_value=len(encoded)))

    with contextlib.suppress(DECODE_ERRORS):
        codec.decode(bytes(encoded[:cut]))
