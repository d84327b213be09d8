"""FrameSplitter: the connection's batch framing, against protocol.FrameReader."""

from __future__ import annotations

import pytest

from protocol import FrameReader, FrameTooLarge, TruncatedFrame, encode_frame
from protocol.wire import FrameSplitter


def _stream(payloads: list[bytes]) -> bytes:
    return b"".join(encode_frame(p) for p in payloads)


PAYLOADS = [bytes([n % 251]) * (n % 37) for n in range(200)]


@pytest.mark.parametrize("step", [1, 3, 4, 5, 64, 1000, 100_000])
def test_frames_come_out_in_order_however_the_stream_is_cut(step: int) -> None:
    data = _stream(PAYLOADS)
    splitter = FrameSplitter(FrameReader())
    out: list[bytes] = []
    for i in range(0, len(data), step):
        splitter.feed(data[i : i + step])
        while frames := splitter.take(7):
            assert len(frames) <= 7
            out += frames
    splitter.eof()
    assert out == PAYLOADS


def test_bytes_left_in_the_handshake_reader_come_first() -> None:
    reader = FrameReader()
    data = _stream(PAYLOADS)
    reader.feed(data[:50])  # whole frames and part of one
    splitter = FrameSplitter(reader)
    splitter.feed(data[50:])
    assert splitter.take(1000) == PAYLOADS
    splitter.feed(encode_frame(b"after"))
    assert splitter.take(1000) == [b"after"]


def test_a_frame_over_the_limit_raises_after_the_frames_before_it() -> None:
    splitter = FrameSplitter(FrameReader(max_frame_size=64))
    splitter.feed(encode_frame(b"a") + encode_frame(b"b") + (1000).to_bytes(4, "big"))
    assert splitter.take(10) == [b"a", b"b"]
    with pytest.raises(FrameTooLarge):
        splitter.take(10)


def test_a_truncated_frame_is_reported_at_eof() -> None:
    splitter = FrameSplitter(FrameReader())
    splitter.feed(encode_frame(b"whole") + encode_frame(b"cut short")[:-2])
    assert splitter.take(10) == [b"whole"]
    with pytest.raises(TruncatedFrame) as info:
        splitter.eof()
    assert info.value.expected == len(b"cut short")


def test_a_stream_ending_inside_a_header_is_truncated() -> None:
    splitter = FrameSplitter(FrameReader())
    splitter.feed(b"\x00\x00")
    assert splitter.take(10) == []
    with pytest.raises(TruncatedFrame) as info:
        splitter.eof()
    assert info.value.expected is None


def test_a_reused_buffer_is_copied() -> None:
    splitter = FrameSplitter(FrameReader())
    chunk = bytearray(encode_frame(b"abc")[:-1])
    splitter.feed(chunk)  # type: ignore[arg-type]
    chunk[-1:] = b"z"  # the caller reuses its buffer
    splitter.feed(b"c")
    assert splitter.take(10) == [b"abc"]


def test_drained_says_whether_a_take_left_complete_frames_behind() -> None:
    splitter = FrameSplitter(FrameReader())
    splitter.feed(_stream([b"a", b"b", b"c"]) + encode_frame(b"partial")[:-1])
    assert splitter.take(2) == [b"a", b"b"]
    assert not splitter.drained  # stopped at the limit: "c" is still there
    assert splitter.take(2) == [b"c"]
    assert splitter.drained
    splitter.feed(b"l")
    assert splitter.take(2) == [b"partial"]
    assert splitter.drained


def test_a_frame_over_the_limit_is_not_drained_until_raised() -> None:
    splitter = FrameSplitter(FrameReader(max_frame_size=64))
    splitter.feed(encode_frame(b"a") + (1000).to_bytes(4, "big"))
    assert splitter.take(10) == [b"a"]
    assert not splitter.drained  # the next take raises
    with pytest.raises(FrameTooLarge):
        splitter.take(10)
