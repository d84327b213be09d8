"""The batch writer, a connection's write buffer: tells to one target in one TELLS frame."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from protocol import EnvelopeCodec, FrameReader, Message, MessageKind, MessageTooLarge
from protocol.wire import BatchWriter, IncomingDecoder
from tests.helpers import Ping


class Blob(Message, tag="test.frames.blob"):
    data: bytes


class Anything(Message, tag="test.frames.anything"):
    value: Any


_encoder = msgspec.msgpack.Encoder()


def frames_of(out: BatchWriter) -> list[bytes]:
    out.close_run()
    reader = FrameReader(max_frame_size=1 << 30)
    reader.feed(bytes(out.data))
    return list(reader)


def test_consecutive_tells_to_one_target_share_one_tells_frame() -> None:
    out = BatchWriter(max_frame_size=1 << 20)
    for n in range(5):
        out.tell("/user/a", Ping(n))
    [frame] = frames_of(out)
    envelope = EnvelopeCodec().decode(frame)
    assert (envelope.kind, envelope.target) == (MessageKind.TELLS, "/user/a")
    assert EnvelopeCodec().decode_payloads(envelope) == [Ping(n) for n in range(5)]
    run = IncomingDecoder().decode_run(frame)  # the receiver's fast path agrees
    assert (run.target, run.payload) == ("/user/a", [Ping(n) for n in range(5)])


def test_a_lone_tell_is_a_plain_tell_frame() -> None:
    out = BatchWriter(max_frame_size=1 << 20)
    out.tell("/user/a", Ping(1))
    assert frames_of(out) == [_encoder.encode((MessageKind.TELL, "/user/a", Ping(1)))]


def test_another_target_or_another_frame_closes_the_run_in_order() -> None:
    out = BatchWriter(max_frame_size=1 << 20)
    out.tell("/user/a", Ping(1))
    out.tell("/user/a", Ping(2))
    out.tell("/user/b", Ping(3))
    out.ask("/user/b", Ping(4), 7, 1.0)
    out.tell("/user/b", Ping(5))
    codec = EnvelopeCodec()
    envelopes = [codec.decode(frame) for frame in frames_of(out)]
    assert [(e.kind, e.target) for e in envelopes] == [
        (MessageKind.TELLS, "/user/a"),
        (MessageKind.TELL, "/user/b"),
        (MessageKind.ASK, "/user/b"),
        (MessageKind.TELL, "/user/b"),
    ]
    assert codec.decode_payloads(envelopes[0]) == [Ping(1), Ping(2)]
    assert [codec.decode_payload(e) for e in envelopes[1:]] == [Ping(3), Ping(4), Ping(5)]


def test_a_run_that_reaches_the_frame_limit_continues_in_a_new_frame() -> None:
    limit = 200
    out = BatchWriter(max_frame_size=limit)
    messages = [Blob(bytes([n]) * 30) for n in range(20)]
    for message in messages:
        out.tell("/user/a", message)
    frames = frames_of(out)
    assert len(frames) > 1
    assert all(len(frame) <= limit for frame in frames)
    codec = EnvelopeCodec()
    received = []
    for frame in frames:
        envelope = codec.decode(frame)
        if envelope.kind is MessageKind.TELLS:
            received += codec.decode_payloads(envelope)
        else:
            received.append(codec.decode_payload(envelope))
    assert received == messages


def test_a_tell_that_fails_to_encode_leaves_nothing_and_the_run_open() -> None:
    out = BatchWriter(max_frame_size=1 << 20)
    out.tell("/user/a", Ping(1))
    out.tell("/user/a", Ping(2))
    with pytest.raises(TypeError):
        out.tell("/user/a", Anything(object()))
    out.tell("/user/a", Ping(3))
    [frame] = frames_of(out)
    assert EnvelopeCodec().decode_payloads(EnvelopeCodec().decode(frame)) == [
        Ping(1),
        Ping(2),
        Ping(3),
    ]
    empty = BatchWriter(max_frame_size=1 << 20)
    with pytest.raises(TypeError):
        empty.tell("/user/a", Anything(object()))  # it would have opened the run
    assert frames_of(empty) == []


def test_a_tell_over_the_frame_limit_raises_and_leaves_nothing() -> None:
    limit = 100
    out = BatchWriter(max_frame_size=limit)
    out.tell("/user/a", Ping(1))
    with pytest.raises(MessageTooLarge):
        out.tell("/user/a", Blob(b"x" * 200))
    out.tell("/user/a", Ping(2))
    assert len(frames_of(out)) == 1
    alone = BatchWriter(max_frame_size=limit)
    with pytest.raises(MessageTooLarge):
        alone.tell("/user/a", Blob(b"x" * 200))
    assert frames_of(alone) == []


def test_a_lone_tell_that_fits_as_a_tell_frame_is_accepted() -> None:
    # As a TELLS frame it would be a few bytes over the limit; alone it is a TELL.
    frame = _encoder.encode((MessageKind.TELL, "/user/a", Blob(b"x" * 50)))
    out = BatchWriter(max_frame_size=len(frame))
    out.tell("/user/a", Blob(b"x" * 50))
    assert frames_of(out) == [frame]


def test_a_frame_alone_over_the_limit_raises_and_the_next_one_is_whole() -> None:
    limit = 100
    out = BatchWriter(max_frame_size=limit)
    with pytest.raises(MessageTooLarge):
        out.reply_frame("", Blob(b"x" * 200), "/user/a", 1, None)
    with pytest.raises(TypeError):
        out.ask_frame("/user/a", Anything(object()), 2, None)
    frame = out.ask_frame("/user/a", Ping(3), 3, 1.5)
    expected = BatchWriter(max_frame_size=limit)
    expected.ask("/user/a", Ping(3), 3, 1.5)
    assert frame == bytes(expected.take())
    assert frames_of(out) == []  # nothing was added to the buffer
