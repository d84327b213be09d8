"""Envelopes: routing fields around a raw payload, and remote failures as data."""

from __future__ import annotations

import msgspec
import pytest

from protocol import (
    Codec,
    Envelope,
    EnvelopeCodec,
    FrameReader,
    FrameWriter,
    InvalidMessage,
    MalformedEnvelope,
    MalformedMessage,
    Message,
    MessageKind,
    RemoteFailure,
    RemoteProtocolError,
    UnknownMessageType,
)


class Lookup(Message, tag="test_envelope.lookup"):
    key: str


class Found(Message, tag="test_envelope.found"):
    key: str
    value: int


class JobRejectedError(Exception):
    pass


@pytest.fixture
def codec() -> EnvelopeCodec:
    return EnvelopeCodec()


def test_tell_envelope_round_trips_and_its_payload_decodes_to_the_message(
    codec: EnvelopeCodec,
) -> None:
    envelope = codec.tell(Lookup("k"), target="/user/store", sender="/user/client")

    decoded = codec.decode(codec.encode(envelope))

    assert decoded == envelope
    assert decoded.kind is MessageKind.TELL
    assert (decoded.target, decoded.sender) == ("/user/store", "/user/client")
    assert codec.decode_payload(decoded) == Lookup("k")


def test_trailing_fields_at_their_defaults_may_be_left_out(codec: EnvelopeCodec) -> None:
    # A node sends each tell as the three elements [kind, target, payload].
    short = msgspec.msgpack.encode((MessageKind.TELL, "/user/store", Lookup("k")))

    decoded = codec.decode(short)

    assert decoded == codec.tell(Lookup("k"), target="/user/store")
    assert (decoded.sender, decoded.correlation_id, decoded.timeout) == (None, 0, None)
    assert codec.decode_payload(decoded) == Lookup("k")


def test_ask_envelope_carries_correlation_id_timeout_and_trace_id(codec: EnvelopeCodec) -> None:
    envelope = codec.ask(
        Lookup("k"),
        target="/user/store",
        sender="/user/client",
        correlation_id=41,
        timeout=2.5,
        trace_id="trace-1",
    )

    decoded = codec.decode(codec.encode(envelope))

    assert decoded.kind is MessageKind.ASK
    assert (decoded.correlation_id, decoded.timeout, decoded.trace_id) == (41, 2.5, "trace-1")


def test_envelope_sent_from_outside_an_actor_has_no_sender(codec: EnvelopeCodec) -> None:
    envelope = codec.decode(codec.encode(codec.tell(Lookup("k"), target="/user/store")))

    assert envelope.sender is None
    assert envelope.timeout is None
    assert envelope.trace_id is None


def test_reply_goes_back_to_the_asker_under_the_same_correlation_id(
    codec: EnvelopeCodec,
) -> None:
    ask = codec.ask(
        Lookup("k"), target="/user/store", sender="/temp/ask-3", correlation_id=9, trace_id="t"
    )

    reply = codec.reply(ask, Found("k", 7))

    assert reply.kind is MessageKind.REPLY
    assert (reply.target, reply.sender) == ("/temp/ask-3", "/user/store")
    assert (reply.correlation_id, reply.trace_id) == (9, "t")
    assert codec.decode_payload(codec.decode(codec.encode(reply))) == Found("k", 7)


def test_cancel_withdraws_an_ask_under_its_correlation_id_with_a_nil_payload(
    codec: EnvelopeCodec,
) -> None:
    ask = codec.ask(
        Lookup("k"), target="/user/store", sender="/user/client", correlation_id=9, timeout=1.0
    )

    cancel = codec.decode(codec.encode(codec.cancel(ask)))

    assert cancel.kind is MessageKind.CANCEL
    assert int(MessageKind.CANCEL) == 4
    assert (cancel.target, cancel.sender, cancel.correlation_id) == (
        "/user/store",
        "/user/client",
        9,
    )
    assert cancel.timeout is None
    assert msgspec.msgpack.decode(cancel.payload) is None


def test_message_kind_values_are_stable_on_the_wire() -> None:
    assert [int(kind) for kind in MessageKind] == [0, 1, 2, 3, 4, 5]


def test_reply_to_an_ask_without_sender_targets_the_empty_path(codec: EnvelopeCodec) -> None:
    ask = codec.ask(Lookup("k"), target="/user/store", correlation_id=1)

    assert codec.reply(ask, Found("k", 1)).target == ""


def test_error_answer_carries_the_remote_failure_as_data(codec: EnvelopeCodec) -> None:
    ask = codec.ask(Lookup("k"), target="/user/store", sender="/user/c", correlation_id=5)
    try:
        raise JobRejectedError("no capacity")
    except JobRejectedError as exc:
        failure = RemoteFailure.from_exception(exc)

    error = codec.decode(codec.encode(codec.error(ask, failure)))

    assert error.kind is MessageKind.ERROR
    assert (error.target, error.correlation_id) == ("/user/c", 5)
    assert codec.decode_failure(error) == failure


def test_remote_failure_names_a_builtin_exception_by_its_bare_name() -> None:
    failure = RemoteFailure.from_exception(ValueError("bad value 3"))

    assert (failure.type_name, failure.message) == ("ValueError", "bad value 3")


def test_remote_failure_qualifies_other_exception_types_with_their_module() -> None:
    failure = RemoteFailure.from_exception(JobRejectedError("x"))

    assert failure.type_name == f"{__name__}.JobRejectedError"


def test_remote_failure_survives_an_exception_whose_str_fails() -> None:
    class UnprintableError(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    failure = RemoteFailure.from_exception(UnprintableError())

    assert failure.message == f"<unprintable {failure.type_name}>"


def test_remote_failure_keeps_the_traceback_as_text() -> None:
    def fail() -> None:
        raise KeyError("missing")

    try:
        fail()
    except KeyError as exc:
        failure = RemoteFailure.from_exception(exc)
        bare = RemoteFailure.from_exception(exc, include_traceback=False)

    assert "Traceback (most recent call last)" in failure.traceback
    assert "in fail" in failure.traceback
    assert "KeyError: 'missing'" in failure.traceback
    assert bare.traceback == ""


def test_wrap_embeds_already_encoded_bytes_verbatim() -> None:
    payload = Codec().encode(Lookup("shared"))
    envelope_codec = EnvelopeCodec()

    first = Envelope.wrap(payload, kind=MessageKind.TELL, target="/user/a")
    second = Envelope.wrap(msgspec.Raw(payload), kind=MessageKind.TELL, target="/user/b")

    for envelope in (first, second):
        encoded = envelope_codec.encode(envelope)
        assert payload in encoded
        assert envelope_codec.decode_payload(envelope_codec.decode(encoded)) == Lookup("shared")


def test_wrap_keeps_a_deadline_already_past_as_zero_timeout() -> None:
    envelope = Envelope.wrap(b"\xc0", kind=MessageKind.ASK, target="/a", timeout=-0.5)

    assert envelope.timeout == 0.0


def test_ask_with_a_deadline_already_past_carries_zero_timeout(codec: EnvelopeCodec) -> None:
    envelope = codec.ask(Lookup("k"), target="/a", correlation_id=1, timeout=-3.0)

    assert envelope.timeout == 0.0


def test_deadline_is_the_receive_time_plus_the_timeout() -> None:
    timed = Envelope.wrap(b"\xc0", kind=MessageKind.ASK, target="/a", timeout=1.5)
    untimed = Envelope.wrap(b"\xc0", kind=MessageKind.TELL, target="/a")

    assert timed.deadline(received_at=100.0) == 101.5
    assert untimed.deadline(received_at=100.0) is None


def test_encode_into_appends_so_a_frame_writer_can_frame_it_in_place(
    codec: EnvelopeCodec,
) -> None:
    envelopes = [codec.tell(Lookup(str(i)), target="/user/store") for i in range(3)]
    writer = FrameWriter()
    for envelope in envelopes:
        writer.add_encoded(codec.encode_into, envelope)
    reader = FrameReader()

    reader.feed(writer.take())

    assert [codec.decode(frame) for frame in reader] == envelopes


def test_decoder_ignores_trailing_fields_from_a_later_protocol_version(
    codec: EnvelopeCodec,
) -> None:
    fields = msgspec.msgpack.decode(codec.encode(codec.tell(Lookup("k"), target="/a")))

    decoded = codec.decode(msgspec.msgpack.encode([*fields, "a future field"]))

    assert codec.decode_payload(decoded) == Lookup("k")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\xc1", id="invalid-opcode"),
        pytest.param(msgspec.msgpack.encode({"kind": 0}), id="map"),
        pytest.param(msgspec.msgpack.encode([0, "/a"]), id="missing-payload"),
        pytest.param(msgspec.msgpack.encode([9, "/a", 1]), id="unknown-kind"),
        pytest.param(msgspec.msgpack.encode([0, 5, 1]), id="target-not-a-string"),
        pytest.param(msgspec.msgpack.encode([1, "/a", 1, None, -1]), id="negative-correlation"),
        pytest.param(msgspec.msgpack.encode([1, "/a", 1, None, 1, None, -2.0]), id="neg-timeout"),
        pytest.param(b"\x93\x00\xa2/a" + b"\x91" * 50_000 + b"\x00", id="payload-nested-too-deep"),
        pytest.param(b"\x93\x00\xa2\xff\xfe\xc0", id="target-not-utf8"),
        pytest.param(b"\x93\x00\xa2/a", id="truncated"),
    ],
)
def test_bytes_that_are_not_an_envelope_raise_malformed_envelope(
    codec: EnvelopeCodec, data: bytes
) -> None:
    with pytest.raises(MalformedEnvelope):
        codec.decode(data)


def test_malformed_envelope_blames_the_peer() -> None:
    assert issubclass(MalformedEnvelope, RemoteProtocolError)
    assert issubclass(MalformedEnvelope, ValueError)


def test_payload_with_an_unknown_tag_raises_unknown_message_type(codec: EnvelopeCodec) -> None:
    envelope = Envelope.wrap(
        msgspec.msgpack.encode(["test_envelope.nobody"]), kind=MessageKind.TELL, target="/a"
    )

    with pytest.raises(UnknownMessageType):
        codec.decode_payload(envelope)


def test_payload_that_is_not_msgpack_raises_malformed_message(codec: EnvelopeCodec) -> None:
    envelope = Envelope.wrap(b"\xc1", kind=MessageKind.TELL, target="/a")

    with pytest.raises(MalformedMessage):
        codec.decode_payload(envelope)


def test_failure_payload_of_the_wrong_shape_raises_invalid_message(codec: EnvelopeCodec) -> None:
    envelope = Envelope.wrap(msgspec.msgpack.encode([1, 2]), kind=MessageKind.ERROR, target="/a")

    with pytest.raises(InvalidMessage):
        codec.decode_failure(envelope)


def test_failure_payload_that_is_not_msgpack_raises_malformed_message(
    codec: EnvelopeCodec,
) -> None:
    envelope = Envelope.wrap(b"\xc1", kind=MessageKind.ERROR, target="/a")

    with pytest.raises(MalformedMessage):
        codec.decode_failure(envelope)


def test_envelope_codec_uses_the_codec_it_is_given() -> None:
    codec = Codec()

    assert EnvelopeCodec(codec).codec is codec


def test_tells_envelope_carries_its_messages_in_order(codec: EnvelopeCodec) -> None:
    messages: list[Message] = [Lookup("a"), Found("a", 1), Lookup("b")]
    envelope = codec.tells(messages, target="/user/store")

    decoded = codec.decode(codec.encode(envelope))

    assert (decoded.kind, decoded.target) == (MessageKind.TELLS, "/user/store")
    assert codec.decode_payloads(decoded) == messages


def test_a_bad_message_in_a_run_refuses_the_run_and_says_which(codec: EnvelopeCodec) -> None:
    payload = msgspec.msgpack.encode([Lookup("a"), ["test_envelope.found", "k", "not an int"]])
    envelope = Envelope.wrap(payload, kind=MessageKind.TELLS, target="/user/store")
    with pytest.raises(InvalidMessage, match="message 1 of 2"):
        codec.decode_payloads(envelope)
    unknown = msgspec.msgpack.encode([["no.such.tag"]])
    with pytest.raises(UnknownMessageType, match=r"no\.such\.tag"):
        codec.decode_payloads(Envelope.wrap(unknown, kind=MessageKind.TELLS, target="/x"))
    with pytest.raises(MalformedMessage, match="not an array"):
        codec.decode_payloads(Envelope.wrap(b"\xa3abc", kind=MessageKind.TELLS, target="/x"))
