"""Properties of framing: exact reassembly from any split, only framing errors for junk."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import (
    FrameReader,
    FrameTooLarge,
    FrameWriter,
    FramingError,
    TruncatedFrame,
    encode_frame,
)

payload_lists = st.lists(st.binary(max_size=300), max_size=20)


def _split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(stream)) for c in cuts})
    bounds = [0, *points, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


@given(payload_lists, st.lists(st.integers(min_value=0, max_value=8000), max_size=30))
def test_frames_split_at_arbitrary_boundaries_reassemble_exactly(
    payloads: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    reader = FrameReader()
    frames: list[bytes] = []

    for chunk in _split(stream, cuts):
        reader.feed(chunk)
        frames.extend(reader)
    reader.eof()

    assert frames == payloads
    assert reader.buffered == 0


@given(payload_lists, st.lists(st.integers(min_value=0, max_value=8000), max_size=10))
def test_writer_batches_read_back_as_the_same_frames(
    payloads: list[bytes], cuts: list[int]
) -> None:
    writer = FrameWriter()
    for payload in payloads:
        writer.add(payload)
    reader = FrameReader()

    for chunk in _split(bytes(writer.take()), cuts):
        reader.feed(chunk)

    assert list(reader) == payloads


@given(st.lists(st.binary(min_size=1, max_size=50), min_size=1, max_size=5), st.data())
def test_a_stream_cut_inside_a_frame_raises_truncated_frame_at_eof(
    payloads: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    boundaries = {0}
    for payload in payloads:
        boundaries.add(max(boundaries) + 4 + len(payload))
    cut = data.draw(
        st.integers(min_value=1, max_value=len(stream) - 1).filter(lambda c: c not in boundaries)
    )
    reader = FrameReader()
    reader.feed(stream[:cut])
    complete = list(reader)

    try:
        reader.eof()
    except TruncatedFrame:
        assert complete == payloads[: len(complete)]
    else:
        raise AssertionError("eof inside a frame must raise TruncatedFrame")


@settings(deadline=None)
@given(
    st.lists(st.binary(max_size=200), max_size=20),
    st.integers(min_value=1, max_value=300),
)
def test_arbitrary_bytes_yield_frames_or_raise_only_framing_errors(
    chunks: list[bytes], limit: int
) -> None:
    reader = FrameReader(max_frame_size=limit)
    error: FramingError | None = None
    try:
        for chunk in chunks:
            reader.feed(chunk)
            for frame in reader:
                assert len(frame) <= limit
        reader.eof()
    except (FrameTooLarge, TruncatedFrame) as exc:
        error = exc

    if isinstance(error, FrameTooLarge):
        assert error.size > limit
    elif isinstance(error, TruncatedFrame):
        assert error.buffered > 0
