"""A raw peer for bad-input tests: the real handshake, then whatever bytes the test
sends, over any anyio byte stream (loopback TCP, TLS, the in-memory transport)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import anyio
import msgspec

from protocol import Envelope, EnvelopeCodec, FrameReader, Handshake, MessageKind, encode_frame
from tests.helpers import WAIT

if TYPE_CHECKING:
    from anyio.abc import ByteStream

    from protocol import Message

_names = itertools.count(1)
_codec = EnvelopeCodec()


def client_name() -> str:
    """Each raw client is its own node (one name, one connection)."""
    return f"raw-client-{next(_names)}"


async def handshake(
    stream: ByteStream, secret: bytes, cluster: str = "tadpole", name: str | None = None
) -> FrameReader:
    """A correct initiator handshake over a raw stream; returns the reader for what follows."""
    hs = Handshake.initiator(node=name or client_name(), cluster=cluster, secret=secret)
    reader = FrameReader()
    for payload in hs.data_to_send():
        await stream.send(encode_frame(payload))
    with anyio.fail_after(WAIT):
        while not hs.established:
            reader.feed(await stream.receive())
            for frame in reader:
                hs.receive(frame)
                for payload in hs.data_to_send():
                    await stream.send(encode_frame(payload))
                if hs.established:
                    break
    return reader


def frame_of(fields: object) -> bytes:
    """A frame holding ``fields`` (an envelope as a list, or anything) as msgpack."""
    return encode_frame(msgspec.msgpack.encode(fields))


async def next_envelope(stream: ByteStream, reader: FrameReader) -> Envelope:
    """The next envelope the node sends (bounded wait)."""
    with anyio.fail_after(WAIT):
        while (frame := reader.next_frame()) is None:
            reader.feed(await stream.receive())
    return _codec.decode(frame)


async def raw_ask(
    stream: ByteStream, reader: FrameReader, message: Message, cid: int, target: str
) -> Envelope:
    """Send an ask of ``message`` to ``target``; the answer envelope (``REPLY`` or ``ERROR``)."""
    envelope = Envelope.wrap(
        msgspec.msgpack.encode(message),
        kind=MessageKind.ASK,
        target=target,
        sender="/user/raw",
        correlation_id=cid,
    )
    await stream.send(encode_frame(msgspec.msgpack.encode(envelope)))
    while True:
        answer = await next_envelope(stream, reader)
        if answer.correlation_id == cid:
            return answer


async def read_until_closed(stream: ByteStream) -> None:
    """The node must close the connection: read until EOF (bounded)."""
    with anyio.fail_after(WAIT):
        try:
            while await stream.receive():
                pass
        except (
            anyio.EndOfStream,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
            ConnectionResetError,
        ):
            return
