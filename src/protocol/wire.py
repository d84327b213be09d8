"""The wire's fast paths, for a transport that carries envelopes (``actors.remote``).

:mod:`protocol` defines the bytes: frames (:func:`~protocol.encode_frame`,
:class:`~protocol.FrameReader`), envelopes (:class:`~protocol.EnvelopeCodec`)
and the handshake. This module builds and parses the same bytes faster, for a
node's hot path, so that no code outside :mod:`protocol` spells a byte:

- sending: :class:`BatchWriter` (a connection's write buffer: envelopes
  encoded straight into it, tells to one target packed into ``TELLS`` runs)
  and :class:`TellFramer` (a tell's whole frame, for a send buffer);
- receiving: :class:`FrameSplitter` (frames out of a stream's chunks, a batch
  at a time, with a take limit), :class:`IncomingDecoder` (an envelope and its
  message in one decode), :func:`lone_frame` and :func:`is_run_frame`;
- buffers of frames this side built: :func:`split_frames` and
  :func:`whole_frames_end`.

Each fast path produces and accepts exactly what the reference path does;
property tests in ``tests/property/test_wire_paths.py`` hold them to it.
"""

from ._batch import BatchWriter as BatchWriter
from ._batch import TellFramer as TellFramer
from ._codec import DECODE_FAILURES as DECODE_FAILURES
from ._framing import encode_frames as encode_frames
from ._framing import split_frames as split_frames
from ._framing import whole_frames_end as whole_frames_end
from ._incoming import FrameSplitter as FrameSplitter
from ._incoming import IncomingDecoder as IncomingDecoder
from ._incoming import is_run_frame as is_run_frame
from ._incoming import lone_frame as lone_frame

__all__ = (
    "DECODE_FAILURES",
    "BatchWriter",
    "FrameSplitter",
    "IncomingDecoder",
    "TellFramer",
    "encode_frames",
    "is_run_frame",
    "lone_frame",
    "split_frames",
    "whole_frames_end",
)
