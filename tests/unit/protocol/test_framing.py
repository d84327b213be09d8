"""Length-prefixed frames: encoding, batching, and reassembly from chunks."""

from __future__ import annotations

import struct

import pytest

from protocol import (
    DEFAULT_MAX_FRAME_SIZE,
    FRAME_HEADER_SIZE,
    FrameReader,
    FrameTooLarge,
    FrameWriter,
    FramingError,
    MessageTooLarge,
    ProtocolError,
    RemoteProtocolError,
    TruncatedFrame,
    encode_frame,
)


def _frames(*payloads: bytes) -> bytes:
    return b"".join(encode_frame(p) for p in payloads)


# -- encode_frame -----------------------------------------------------------------


def test_frame_is_a_big_endian_u32_length_then_the_payload() -> None:
    assert encode_frame(b"abc") == b"\x00\x00\x00\x03abc"
    assert FRAME_HEADER_SIZE == 4


def test_empty_payload_makes_a_header_only_frame() -> None:
    assert encode_frame(b"") == b"\x00\x00\x00\x00"


def test_encode_frame_accepts_any_byte_buffer() -> None:
    assert (
        encode_frame(memoryview(b"xyz")) == encode_frame(bytearray(b"xyz")) == encode_frame(b"xyz")
    )


def test_encode_frame_refuses_a_payload_over_the_limit() -> None:
    with pytest.raises(MessageTooLarge, match="11 bytes") as caught:
        encode_frame(b"x" * 11, max_frame_size=10)

    assert (caught.value.size, caught.value.max_frame_size) == (11, 10)


def test_payload_of_exactly_the_limit_is_allowed() -> None:
    assert len(encode_frame(b"x" * 10, max_frame_size=10)) == 14


def test_message_too_large_is_local_misuse_not_a_peer_error() -> None:
    assert issubclass(MessageTooLarge, ProtocolError)
    assert issubclass(MessageTooLarge, ValueError)
    assert not issubclass(MessageTooLarge, RemoteProtocolError)


@pytest.mark.parametrize("limit", [0, -1, 2**32])
def test_max_frame_size_outside_the_u32_range_is_refused(limit: int) -> None:
    with pytest.raises(ValueError, match="max_frame_size"):
        FrameReader(max_frame_size=limit)
    with pytest.raises(ValueError, match="max_frame_size"):
        FrameWriter(max_frame_size=limit)


def test_default_limit_is_16_mib() -> None:
    assert DEFAULT_MAX_FRAME_SIZE == 16 * 1024 * 1024
    assert FrameReader().max_frame_size == DEFAULT_MAX_FRAME_SIZE


# -- FrameReader ------------------------------------------------------------------


def test_reader_yields_nothing_until_a_frame_is_complete() -> None:
    reader = FrameReader()

    reader.feed(b"\x00\x00\x00\x05ab")

    assert reader.next_frame() is None
    assert list(reader) == []
    assert reader.buffered == 6


def test_reader_yields_every_frame_of_one_chunk_in_order() -> None:
    reader = FrameReader()

    reader.feed(_frames(b"one", b"", b"three"))

    assert list(reader) == [b"one", b"", b"three"]
    assert reader.buffered == 0


@pytest.mark.parametrize("cut", range(len(_frames(b"hello", b"world!"))))
def test_reader_reassembles_frames_split_at_any_byte(cut: int) -> None:
    stream = _frames(b"hello", b"world!")
    reader = FrameReader()

    reader.feed(stream[:cut])
    first = list(reader)
    reader.feed(stream[cut:])

    assert first + list(reader) == [b"hello", b"world!"]


def test_reader_reassembles_a_stream_fed_one_byte_at_a_time() -> None:
    stream = _frames(b"a", b"bc", b"", b"def" * 100)
    reader = FrameReader()
    frames: list[bytes] = []

    for i in range(len(stream)):
        reader.feed(stream[i : i + 1])
        frames.extend(reader)

    assert frames == [b"a", b"bc", b"", b"def" * 100]


def test_reader_reassembles_a_large_frame_from_many_small_chunks() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    stream = encode_frame(payload) + encode_frame(b"after")
    reader = FrameReader()
    frames: list[bytes] = []

    for start in range(0, len(stream), 1000):
        reader.feed(stream[start : start + 1000])
        frames.extend(reader)

    assert frames == [payload, b"after"]


def test_frames_are_bytes_copies_unaffected_by_the_callers_buffer() -> None:
    chunk = bytearray(_frames(b"keep"))
    reader = FrameReader()

    reader.feed(chunk)
    chunk[4:8] = b"XXXX"
    frame = reader.next_frame()

    assert frame == b"keep"
    assert type(frame) is bytes


def test_feeding_an_empty_chunk_changes_nothing() -> None:
    reader = FrameReader()

    reader.feed(b"")

    assert reader.buffered == 0
    assert reader.next_frame() is None


def test_header_over_the_limit_raises_frame_too_large_before_its_payload_arrives() -> None:
    reader = FrameReader(max_frame_size=100)

    reader.feed(struct.pack(">I", 101))

    with pytest.raises(FrameTooLarge, match="101 bytes") as caught:
        reader.next_frame()
    assert (caught.value.size, caught.value.max_frame_size) == (101, 100)


def test_frames_before_an_oversized_header_are_handed_out_first() -> None:
    reader = FrameReader(max_frame_size=100)
    reader.feed(_frames(b"good", b"also good") + struct.pack(">I", 2**32 - 1))

    assert reader.next_frame() == b"good"
    assert reader.next_frame() == b"also good"
    with pytest.raises(FrameTooLarge):
        reader.next_frame()


def test_frame_of_exactly_the_limit_is_accepted() -> None:
    reader = FrameReader(max_frame_size=8)

    reader.feed(encode_frame(b"12345678"))

    assert reader.next_frame() == b"12345678"


def test_eof_after_complete_frames_is_clean() -> None:
    reader = FrameReader()
    reader.feed(_frames(b"x"))
    list(reader)

    reader.eof()  # no error


def test_eof_inside_a_header_raises_truncated_frame() -> None:
    reader = FrameReader()
    reader.feed(b"\x00\x00")

    with pytest.raises(TruncatedFrame) as caught:
        reader.eof()

    assert (caught.value.buffered, caught.value.expected) == (2, None)


def test_eof_inside_a_payload_raises_truncated_frame_with_the_announced_size() -> None:
    reader = FrameReader()
    reader.feed(_frames(b"whole") + b"\x00\x00\x00\x09abc")
    assert list(reader) == [b"whole"]

    with pytest.raises(TruncatedFrame, match="9-byte payload") as caught:
        reader.eof()

    assert (caught.value.buffered, caught.value.expected) == (7, 9)


def test_framing_errors_blame_the_peer() -> None:
    for error in (FrameTooLarge, TruncatedFrame):
        assert issubclass(error, FramingError)
        assert issubclass(error, RemoteProtocolError)
        assert issubclass(error, ValueError)


# -- FrameWriter ------------------------------------------------------------------


def test_writer_batches_frames_into_one_buffer() -> None:
    writer = FrameWriter()

    writer.add(b"one")
    writer.add(bytearray(b"two"))
    writer.add(memoryview(b"three"))

    assert writer.frames == 3
    assert len(writer) == 3 * FRAME_HEADER_SIZE + 11
    assert bytes(writer.take()) == _frames(b"one", b"two", b"three")


def test_take_empties_the_writer() -> None:
    writer = FrameWriter()
    writer.add(b"x")

    writer.take()

    assert (len(writer), writer.frames) == (0, 0)
    assert writer.take() == b""


def test_add_encoded_frames_what_the_encoder_appends() -> None:
    def encode_into(obj: str, buffer: bytearray, offset: int) -> None:
        assert offset == -1
        buffer.extend(obj.encode())

    writer = FrameWriter()
    writer.add(b"first")
    writer.add_encoded(encode_into, "second")

    assert bytes(writer.take()) == _frames(b"first", b"second")


def test_add_refuses_a_payload_over_the_limit_and_keeps_the_batch() -> None:
    writer = FrameWriter(max_frame_size=4)
    writer.add(b"ok")

    with pytest.raises(MessageTooLarge):
        writer.add(b"too long")

    assert bytes(writer.take()) == encode_frame(b"ok")


def test_add_encoded_refuses_an_oversized_payload_and_keeps_the_batch() -> None:
    def encode_into(obj: bytes, buffer: bytearray, offset: int) -> None:
        buffer.extend(obj)

    writer = FrameWriter(max_frame_size=4)
    writer.add(b"ok")

    with pytest.raises(MessageTooLarge, match="5 bytes"):
        writer.add_encoded(encode_into, b"12345")

    assert writer.frames == 1
    assert bytes(writer.take()) == encode_frame(b"ok")


def test_add_encoded_leaves_the_batch_intact_when_the_encoder_fails() -> None:
    def encode_into(obj: object, buffer: bytearray, offset: int) -> None:
        buffer.extend(b"partial")
        raise TypeError("cannot encode")

    writer = FrameWriter()
    writer.add(b"ok")

    with pytest.raises(TypeError, match="cannot encode"):
        writer.add_encoded(encode_into, object())

    assert bytes(writer.take()) == encode_frame(b"ok")


def test_writer_output_reads_back_through_a_reader() -> None:
    writer = FrameWriter()
    payloads = [b"", b"a" * 70_000, b"b"]
    for payload in payloads:
        writer.add(payload)
    reader = FrameReader()

    reader.feed(writer.take())

    assert list(reader) == payloads


def test_a_reader_limit_can_be_raised_for_the_headers_not_yet_parsed() -> None:
    """A connection reads its handshake under a small limit, then raises it."""
    reader = FrameReader(max_frame_size=8)
    reader.feed(encode_frame(b"12345678") + encode_frame(b"x" * 100))
    assert reader.next_frame() == b"12345678"
    with pytest.raises(FrameTooLarge):
        reader.next_frame()
    reader.max_frame_size = 100
    assert reader.max_frame_size == 100
    assert reader.next_frame() == b"x" * 100
    with pytest.raises(ValueError, match="max_frame_size"):
        reader.max_frame_size = 0
