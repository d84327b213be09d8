"""The Codec: messages to msgpack bytes and back, only into registered types."""

from __future__ import annotations

import re

import msgspec
import pytest

from protocol import (
    Codec,
    InvalidMessage,
    MalformedMessage,
    Message,
    MessageRegistry,
    RemoteProtocolError,
    UnknownMessageType,
)


class Job(Message, tag="test_codec.job"):
    job_id: str
    units: int
    tags: tuple[str, ...] = ()


class Cancel(Message, tag="test_codec.cancel"):
    job_id: str
    reason: str | None = None


def test_encoded_message_decodes_to_an_equal_message_of_the_same_type() -> None:
    codec = Codec()
    message = Job("j-1", 4, ("gpu",))

    decoded = codec.decode(codec.encode(message))

    assert type(decoded) is Job
    assert decoded == message


def test_decode_picks_the_type_named_by_the_tag() -> None:
    codec = Codec()

    assert type(codec.decode(codec.encode(Cancel("j-1")))) is Cancel
    assert type(codec.decode(codec.encode(Job("j-1", 1)))) is Job


def test_decode_accepts_bytearray_and_memoryview() -> None:
    codec = Codec()
    data = codec.encode(Cancel("j-2", "late"))

    assert codec.decode(bytearray(data)) == Cancel("j-2", "late")
    assert codec.decode(memoryview(data)) == Cancel("j-2", "late")


def test_encode_into_appends_at_offset_minus_one() -> None:
    codec = Codec()
    buffer = bytearray(b"head")

    codec.encode_into(Cancel("j-3"), buffer, -1)

    assert buffer[:4] == b"head"
    assert codec.decode(bytes(buffer[4:])) == Cancel("j-3")


def test_decode_as_returns_the_requested_type() -> None:
    codec = Codec()

    assert codec.decode_as(codec.encode(Job("j-4", 2)), Job) == Job("j-4", 2)


def test_decode_as_another_type_raises_invalid_message() -> None:
    codec = Codec()

    with pytest.raises(InvalidMessage, match="Cancel"):
        codec.decode_as(codec.encode(Job("j-5", 2)), Cancel)


def test_decode_as_garbage_raises_malformed_message() -> None:
    with pytest.raises(MalformedMessage):
        Codec().decode_as(b"\xc1", Job)


def test_unknown_tag_raises_unknown_message_type_naming_the_tag() -> None:
    data = msgspec.msgpack.encode(["test_codec.nobody", 1])

    with pytest.raises(UnknownMessageType, match=re.escape("test_codec.nobody")) as caught:
        Codec().decode(data)

    assert caught.value.tag == "test_codec.nobody"


def test_non_string_tag_raises_unknown_message_type() -> None:
    with pytest.raises(UnknownMessageType) as caught:
        Codec().decode(msgspec.msgpack.encode([42, "x"]))

    assert caught.value.tag == 42


def test_known_tag_with_wrong_field_types_raises_invalid_message() -> None:
    data = msgspec.msgpack.encode(["test_codec.job", "j-6", "four"])

    with pytest.raises(InvalidMessage, match=re.escape("test_codec.job")):
        Codec().decode(data)


def test_known_tag_with_missing_fields_raises_invalid_message() -> None:
    with pytest.raises(InvalidMessage):
        Codec().decode(msgspec.msgpack.encode(["test_codec.job"]))


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\xc1", id="invalid-opcode"),
        pytest.param(b"\x92\xaetest_codec.job", id="truncated"),
        pytest.param(msgspec.msgpack.encode(Cancel("j")) + b"\x00", id="trailing-bytes"),
        pytest.param(msgspec.msgpack.encode({"job_id": "j"}), id="map-not-array"),
        pytest.param(msgspec.msgpack.encode("just a string"), id="scalar"),
        pytest.param(msgspec.msgpack.encode([]), id="empty-array"),
        pytest.param(b"\x91" * 50_000 + b"\x00", id="nested-too-deep"),
        pytest.param(b"\x92\xa2\xff\xfe\x01", id="tag-not-utf8"),
        pytest.param(b"\x93\xaetest_codec.job\xa2\xff\xfe\x01", id="field-not-utf8"),
        pytest.param(b"\x92\xaetest_codec.job" + b"\x91" * 50_000 + b"\x00", id="deep-field"),
    ],
)
def test_bytes_that_are_not_a_tagged_message_raise_malformed_message(data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        Codec().decode(data)


def test_every_decode_error_is_a_remote_protocol_error_and_a_value_error() -> None:
    for error in (MalformedMessage, UnknownMessageType, InvalidMessage):
        assert issubclass(error, RemoteProtocolError)
        assert issubclass(error, ValueError)


def test_decoding_only_produces_types_of_the_codecs_registry() -> None:
    only_cancel = MessageRegistry()
    only_cancel.register(Cancel)
    codec = Codec(only_cancel)

    assert codec.decode(codec.encode(Cancel("j-7"))) == Cancel("j-7")
    with pytest.raises(UnknownMessageType):
        codec.decode(codec.encode(Job("j-7", 1)))


def test_types_registered_after_the_first_decode_become_decodable() -> None:
    messages = MessageRegistry()
    messages.register(Cancel)
    codec = Codec(messages)
    codec.decode(codec.encode(Cancel("j-8")))

    messages.register(Job)

    assert codec.decode(codec.encode(Job("j-8", 3))) == Job("j-8", 3)


def test_codec_over_an_empty_registry_refuses_everything() -> None:
    codec = Codec(MessageRegistry())

    with pytest.raises(UnknownMessageType):
        codec.decode(codec.encode(Cancel("j-9")))


def test_split_many_hands_out_each_element_to_decode_alone_in_order() -> None:
    codec = Codec()
    data = msgspec.msgpack.encode([Job("a", 1), ["no.such.tag", 1], 7, Cancel("c")])

    elements = codec.split_many(data)

    assert [bytes(e) for e in elements] == [
        codec.encode(Job("a", 1)),
        msgspec.msgpack.encode(["no.such.tag", 1]),
        msgspec.msgpack.encode(7),
        codec.encode(Cancel("c")),
    ]
    assert codec.decode(memoryview(elements[0])) == Job("a", 1)
    with pytest.raises(UnknownMessageType):
        codec.decode(memoryview(elements[1]))
    assert codec.split_many(msgspec.msgpack.encode([])) == []


@pytest.mark.parametrize("data", [b"\xa3abc", b"\x07", b"\xc1", b"\x92\x01"])
def test_split_many_raises_malformed_message_for_what_is_not_an_array(data: bytes) -> None:
    with pytest.raises(MalformedMessage, match="not an array of messages"):
        Codec().split_many(data)
