"""Hypothesis invariants of the write buffer's runs of tells, and of their decoding.

Whatever mix of tells (to a few targets, of any size) and other frames goes
into a connection's write buffer, with any frame limit, the frames read back
carry exactly those messages, each once, in order; and the receiver's decoders
only ever raise the documented errors for arbitrary bytes.
"""

from __future__ import annotations

import contextlib

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.strategies import msgpack_values

from protocol import (
    Codec,
    EnvelopeCodec,
    FrameReader,
    Message,
    MessageKind,
    MessageTooLarge,
    RemoteProtocolError,
)
from protocol.wire import DECODE_FAILURES, BatchWriter, IncomingDecoder


class Item(Message, tag="prop.runs.item"):
    n: int
    data: bytes


_encoder = msgspec.msgpack.Encoder()

targets = st.sampled_from(["/user/a", "/user/b", "/user/c/d"])
operations = st.lists(
    st.tuples(st.sampled_from(["tell", "ask"]), targets, st.integers(0, 300)),
    max_size=80,
)


def decoded(data: bytes) -> list[tuple[str, str, Message]]:
    """Every message in ``data``'s frames: (kind, target, message), in order."""
    codec = EnvelopeCodec()
    reader = FrameReader(max_frame_size=1 << 30)
    reader.feed(data)
    out = []
    for frame in reader:
        envelope = codec.decode(frame)
        if envelope.kind is MessageKind.TELLS:
            out += [("tell", envelope.target, m) for m in codec.decode_payloads(envelope)]
        elif envelope.kind is MessageKind.TELL:
            out.append(("tell", envelope.target, codec.decode_payload(envelope)))
        else:
            out.append(("ask", envelope.target, codec.decode_payload(envelope)))
    return out


@settings(max_examples=200, deadline=None)
@given(operations, st.integers(64, 2000), st.sets(st.integers(0, 200), max_size=5))
def test_frames_carry_every_message_once_in_order(
    ops: list[tuple[str, str, int]], limit: int, takes: set[int]
) -> None:
    out = BatchWriter(max_frame_size=limit)
    expected = []
    data = bytearray()
    for index, (op, target, size) in enumerate(ops):
        message = Item(index, b"x" * size)
        try:
            if op == "tell":
                out.tell(target, message)
            else:
                out.ask(target, message, index + 1, None)
        except MessageTooLarge:
            continue  # refused, and nothing of it was written
        expected.append((op, target, message))
        if index in takes:  # the writer takes the buffer in the middle of a run
            out.close_run()
            data += out.data
            out.data = bytearray()
    out.close_run()
    data += out.data
    assert decoded(bytes(data)) == expected
    reader = FrameReader(max_frame_size=1 << 30)
    reader.feed(bytes(data))
    assert all(len(frame) <= limit for frame in reader)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.builds(_encoder.encode, msgpack_values))
def test_arbitrary_bytes_only_raise_the_documented_errors(data: bytes) -> None:
    incoming = IncomingDecoder()
    with contextlib.suppress(DECODE_FAILURES):
        incoming.decode_run(b"\x93\x05" + data)
    with contextlib.suppress(RemoteProtocolError):
        Codec().decode_many(data)
