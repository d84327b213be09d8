"""Properties of envelopes: round-trips, and only documented errors for any bytes."""

from __future__ import annotations

import contextlib

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import msgpack_values

from protocol import (
    Envelope,
    EnvelopeCodec,
    InvalidMessage,
    MalformedEnvelope,
    MalformedMessage,
    Message,
    MessageKind,
    RemoteFailure,
    UnknownMessageType,
)


class Note(Message, tag="test_protocol_envelope.note"):
    text: str
    count: int


notes = st.builds(Note, st.text(), st.integers(min_value=-(2**63), max_value=2**63 - 1))
failures = st.builds(RemoteFailure, st.text(), st.text(), st.text())
paths = st.text(max_size=40)
optional_text = st.none() | st.text(max_size=40)
correlation_ids = st.integers(min_value=0, max_value=2**64 - 1)
timeouts = st.none() | st.floats(min_value=0.0, allow_nan=False)

codec = EnvelopeCodec()


@st.composite
def envelopes(draw: st.DrawFn) -> Envelope:
    kind = draw(st.sampled_from(MessageKind))
    if kind is MessageKind.ERROR:
        payload = msgspec.msgpack.encode(draw(failures))
    else:
        payload = codec.codec.encode(draw(notes))
    return Envelope.wrap(
        payload,
        kind=kind,
        target=draw(paths),
        sender=draw(optional_text),
        correlation_id=draw(correlation_ids),
        trace_id=draw(optional_text),
        timeout=draw(timeouts),
    )


values = msgpack_values
envelope_shaped = st.tuples(
    st.integers(min_value=-1, max_value=5), paths, values, st.lists(values, max_size=5)
).map(lambda parts: msgspec.msgpack.encode([parts[0], parts[1], parts[2], *parts[3]]))


@given(envelopes())
def test_any_envelope_round_trips_with_its_payload(envelope: Envelope) -> None:
    decoded = codec.decode(codec.encode(envelope))

    assert decoded == envelope
    if envelope.kind is MessageKind.ERROR:
        assert codec.decode_failure(decoded) == msgspec.msgpack.decode(
            envelope.payload, type=RemoteFailure
        )
    else:
        assert codec.decode_payload(decoded) == codec.codec.decode(memoryview(envelope.payload))


@given(notes, paths, optional_text, correlation_ids)
def test_reply_answers_the_ask_it_was_built_from(
    note: Note, target: str, sender: str | None, correlation_id: int
) -> None:
    ask = codec.ask(note, target=target, sender=sender, correlation_id=correlation_id)

    reply = codec.decode(codec.encode(codec.reply(ask, note)))

    assert (reply.kind, reply.correlation_id, reply.sender) == (
        MessageKind.REPLY,
        correlation_id,
        target,
    )
    assert codec.decode_payload(reply) == note


@settings(deadline=None)
@given(st.binary(max_size=512) | envelope_shaped)
def test_any_bytes_decode_or_raise_only_documented_errors(data: bytes) -> None:
    try:
        envelope = codec.decode(data)
    except MalformedEnvelope:
        return
    with contextlib.suppress(MalformedMessage, UnknownMessageType, InvalidMessage):
        codec.decode_payload(envelope)
    with contextlib.suppress(MalformedMessage, InvalidMessage):
        codec.decode_failure(envelope)
