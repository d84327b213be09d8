"""Each fast path of :mod:`protocol.wire` against the reference path it stands for.

The reference: :class:`protocol.EnvelopeCodec` builds and decodes envelopes,
:func:`protocol.encode_frame` and :class:`protocol.FrameReader` frame them.
The fast paths must write bytes the reference reads back as the same values
(and, where the layout is the same array, the very same bytes), and must read
exactly what the reference reads, raising where it raises.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import (
    EnvelopeCodec,
    FrameReader,
    FrameTooLarge,
    Message,
    MessageKind,
    RemoteFailure,
    TruncatedFrame,
    encode_frame,
)
from protocol.wire import (
    DECODE_FAILURES,
    BatchWriter,
    FrameSplitter,
    IncomingDecoder,
    TellFramer,
    is_run_frame,
    lone_frame,
    split_frames,
    whole_frames_end,
)


class Item(Message, tag="prop.wire.item"):
    n: int
    text: str = ""


codec = EnvelopeCodec()
targets = st.sampled_from(["/user/a", "/user/b", "/user/c/d", ""])
items = st.builds(Item, st.integers(-(2**40), 2**40), st.text(max_size=20))
cids = st.integers(0, 2**32)
timeouts = st.none() | st.floats(0.0, 1e6)
traces = st.none() | st.text(max_size=8)

operation = st.one_of(
    st.tuples(st.just("tell"), targets, items),
    st.tuples(st.just("ask"), targets, items, cids, timeouts),
    st.tuples(st.just("reply"), targets, items, targets, cids, traces),
    st.tuples(st.just("error"), targets, st.text(max_size=10), targets, cids, traces),
    st.tuples(st.just("cancel"), targets, cids),
)


def frames(data: bytes) -> list[bytes]:
    reader = FrameReader(max_frame_size=1 << 30)
    reader.feed(data)
    return list(reader)


def write(writer: BatchWriter, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "tell":
        writer.tell(op[1], op[2])
    elif kind == "ask":
        writer.ask(op[1], op[2], op[3], op[4])
    elif kind == "reply":
        writer.reply(op[1], op[2], op[3], op[4], op[5])
    elif kind == "error":
        writer.error(op[1], RemoteFailure("E", op[2]), op[3], op[4], op[5])
    else:
        writer.cancel(op[1], op[2])


def reference(op: tuple[Any, ...]) -> Any:
    """The envelope the reference path builds for ``op`` (tells: target and message)."""
    kind = op[0]
    if kind == "tell":
        return ("tell", op[1], op[2])
    if kind == "ask":
        return codec.ask(op[2], target=op[1], correlation_id=op[3], timeout=op[4])
    if kind == "cancel":
        return codec.cancel(codec.ask(Item(0), target=op[1], correlation_id=op[2]))
    # A request whose answer the reply or error envelope is: sent by op[1] to op[3].
    request = codec.ask(Item(0), target=op[3], correlation_id=op[4], sender=op[1], trace_id=op[5])
    if kind == "reply":
        return codec.reply(request, op[2])
    return codec.error(request, RemoteFailure("E", op[2]))


def values(frame: bytes) -> list[Any]:
    """What the reference decoder reads in ``frame``: tells one by one, else the envelope
    with its payload decoded."""
    envelope = codec.decode(frame)
    if envelope.kind is MessageKind.TELLS:
        return [("tell", envelope.target, m) for m in codec.decode_payloads(envelope)]
    if envelope.kind is MessageKind.TELL:
        return [("tell", envelope.target, codec.decode_payload(envelope))]
    return [envelope]


def payload_value(envelope: Any) -> Any:
    if envelope.kind is MessageKind.ERROR:
        return codec.decode_failure(envelope)
    if envelope.kind is MessageKind.CANCEL:
        return None
    return codec.decode_payload(envelope)


@settings(max_examples=300, deadline=None)
@given(st.lists(operation, max_size=40))
def test_the_batch_writer_writes_what_the_reference_reads_as_the_same_envelopes(
    ops: list[tuple[Any, ...]],
) -> None:
    writer = BatchWriter(max_frame_size=1 << 20)
    for op in ops:
        write(writer, op)
    got = [value for frame in frames(bytes(writer.take())) for value in values(frame)]
    expected = [reference(op) for op in ops]
    assert len(got) == len(expected)
    for value, want in zip(got, expected, strict=True):
        if isinstance(want, tuple):
            assert value == want
            continue
        fields = ("kind", "target", "sender", "correlation_id", "trace_id", "timeout")
        assert [getattr(value, f) for f in fields] == [getattr(want, f) for f in fields]
        assert payload_value(value) == payload_value(want)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.tuples(st.just("ask"), targets, items, cids, timeouts),
        st.tuples(st.just("error"), targets, st.text(max_size=10), targets, cids, traces),
        st.tuples(st.just("cancel"), targets, cids),
    )
)
def test_asks_errors_and_cancels_are_the_reference_bytes_exactly(op: tuple[Any, ...]) -> None:
    writer = BatchWriter(max_frame_size=1 << 20)
    write(writer, op)
    assert bytes(writer.take()) == encode_frame(codec.encode(reference(op)))


@settings(max_examples=200, deadline=None)
@given(targets, items)
def test_a_framed_tell_is_the_batch_writers_lone_tell_and_reads_as_the_reference_tell(
    target: str, message: Item
) -> None:
    frame = TellFramer(max_frame_size=1 << 20).frame(target, message)
    writer = BatchWriter(max_frame_size=1 << 20)
    writer.tell(target, message)
    assert frame == bytes(writer.take())
    [payload] = frames(frame)
    assert values(payload) == [("tell", target, message)]
    assert not is_run_frame(payload)


@settings(max_examples=200, deadline=None)
@given(st.lists(operation, max_size=30))
def test_the_one_pass_decoder_reads_what_the_two_step_decoder_reads(
    ops: list[tuple[Any, ...]],
) -> None:
    writer = BatchWriter(max_frame_size=1 << 20)
    for op in ops:
        write(writer, op)
    incoming = IncomingDecoder()
    for frame in frames(bytes(writer.take())):
        reference_values = values(frame)
        if is_run_frame(frame):
            run = incoming.decode_run(frame)
            assert [("tell", run.target, m) for m in run.payload] == reference_values
            continue
        envelope = codec.decode(frame)
        if envelope.kind in (MessageKind.ERROR, MessageKind.CANCEL):
            # A RemoteFailure or nil payload: the one-pass decoder refuses it, and the
            # connection decodes it the reference way.
            with contextlib.suppress(*DECODE_FAILURES):
                incoming.decode(frame)
                raise AssertionError("the one-pass decoder took a non-message payload")
            continue
        fast = incoming.decode(frame)
        if envelope.kind is MessageKind.TELL:
            assert [("tell", fast.target, fast.payload)] == reference_values
            continue
        fields = ("kind", "target", "sender", "correlation_id", "trace_id", "timeout")
        assert [getattr(fast, f) for f in fields] == [getattr(envelope, f) for f in fields]
        assert fast.payload == codec.decode_payload(envelope)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_the_one_pass_decoder_accepts_nothing_the_reference_refuses(data: bytes) -> None:
    try:
        fast = IncomingDecoder().decode(data)
    except DECODE_FAILURES:
        return
    envelope = codec.decode(data)  # accepted by the fast path: the reference agrees
    assert (fast.kind, fast.target) == (envelope.kind, envelope.target)
    assert fast.payload == codec.decode_payload(envelope)


payloads = st.lists(st.binary(max_size=40), max_size=20)


def stream_of(parts: list[bytes], extra: bytes) -> bytes:
    return b"".join(encode_frame(p) for p in parts) + extra


def reference_read(data: bytes, limit: int) -> tuple[list[bytes], type[Exception] | None]:
    reader = FrameReader(max_frame_size=limit)
    reader.feed(data)
    out: list[bytes] = []
    try:
        while (frame := reader.next_frame()) is not None:
            out.append(frame)
        reader.eof()
    except (FrameTooLarge, TruncatedFrame) as exc:
        return out, type(exc)
    return out, None


@settings(max_examples=300, deadline=None)
@given(
    payloads,
    st.binary(max_size=12),
    st.integers(1, 60),
    st.lists(st.integers(1, 50), min_size=1, max_size=30),
    st.integers(1, 7),
    st.booleans(),
)
def test_the_splitter_hands_out_the_readers_frames_and_errors_at_any_chunking_and_take_limit(
    parts: list[bytes],
    extra: bytes,
    limit: int,
    cuts: list[int],
    take: int,
    through_reader: bool,
) -> None:
    data = stream_of(parts, extra)
    want, error = reference_read(data, limit)
    handshake = FrameReader(max_frame_size=limit)
    if through_reader:  # bytes left over from the handshake's reader come first
        handshake.feed(data[: cuts[0]])
        data = data[cuts[0] :]
    splitter = FrameSplitter(handshake)
    got: list[bytes] = []
    raised: type[Exception] | None = None
    at = 0
    try:
        while at < len(data):  # the chunk sizes, over and over, to the end
            for cut in cuts:
                splitter.feed(data[at : at + cut])
                at += cut
                while batch := splitter.take(take):
                    assert len(batch) <= take
                    got += batch
        while batch := splitter.take(take):
            got += batch
        splitter.eof()
    except (FrameTooLarge, TruncatedFrame) as exc:
        raised = type(exc)
    assert got == want
    assert raised is error


@settings(max_examples=300, deadline=None)
@given(payloads, st.binary(max_size=12), st.integers(1, 60))
def test_the_lone_frame_path_takes_a_chunk_only_if_it_is_the_readers_single_frame(
    parts: list[bytes], extra: bytes, limit: int
) -> None:
    chunk = stream_of(parts, extra)
    want, error = reference_read(chunk, limit)
    payload = lone_frame(chunk, limit)
    if len(want) == 1 and error is None:
        assert payload is not None
        assert bytes(payload) == want[0]
    else:
        assert payload is None


@settings(max_examples=300, deadline=None)
@given(payloads, st.binary(max_size=12), st.data())
def test_splitting_a_buffer_of_frames_agrees_with_the_reader(
    parts: list[bytes], extra: bytes, data: st.DataObject
) -> None:
    buffer = stream_of(parts, extra)
    reader = FrameReader(max_frame_size=2**32 - 1)
    reader.feed(buffer)
    whole = list(reader)
    assert list(split_frames(buffer)) == whole
    limit = data.draw(st.integers(0, len(buffer)))
    at = whole_frames_end(buffer, limit)
    # The frames before ``at`` are exactly those that end within ``limit``.
    ends = []
    end = 0
    for part in whole:
        end += 4 + len(part)
        ends.append(end)
    assert at == max([e for e in ends if e <= limit], default=0)


alone_operation = st.one_of(
    st.tuples(st.just("ask"), targets, items, cids, timeouts),
    st.tuples(st.just("reply"), targets, items, targets, cids, traces),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(alone_operation, min_size=1, max_size=10))
def test_an_ask_or_reply_framed_alone_is_the_frame_the_batch_writer_adds(
    ops: list[tuple[Any, ...]],
) -> None:
    alone = BatchWriter(max_frame_size=1 << 20)  # one writer: its scratch buffer is reused
    for op in ops:
        frame = alone.ask_frame(*op[1:]) if op[0] == "ask" else alone.reply_frame(*op[1:])
        writer = BatchWriter(max_frame_size=1 << 20)
        write(writer, op)
        assert frame == bytes(writer.take())
        assert not alone.data  # returned, never added to the buffer
        [payload] = frames(frame)
        assert [getattr(e, "kind", None) for e in values(payload)] == [
            MessageKind.ASK if op[0] == "ask" else MessageKind.REPLY
        ]
