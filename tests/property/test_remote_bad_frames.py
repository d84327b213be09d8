"""Near-valid frames from an authenticated peer: the right shape with wrong parts.

At the decoder level every such frame decodes or raises a documented
:class:`~protocol.RemoteProtocolError` (the fast decoder: one of its
``DECODE_FAILURES``, which send the frame to the two-step decoder). At the
connection level a node fed any sequence of them survives: the connection is
either kept (each bad message refused alone and counted) or closed with a
specific counted reason, never ``internal_error``, and the node keeps serving
its other peers and that connection, if kept.
"""

from __future__ import annotations

import contextlib
import functools
from contextlib import AsyncExitStack
from typing import Any

import anyio
import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.helpers import WAIT, Echo, Ping, wait_until
from tests.raw_peer import frame_of, handshake, raw_ask
from tests.strategies import junk, near_valid_envelopes

import protocol
from actors import ActorSystem
from actors.remote import MemoryNetwork, RemoteConfig, RemoteNode, TcpTransport
from protocol import (
    EnvelopeCodec,
    FrameReader,
    Handshake,
    HandshakeError,
    MessageKind,
    RemoteProtocolError,
)
from protocol.wire import DECODE_FAILURES, IncomingDecoder

SECRET = b"near-valid-frames-secret"
DOCUMENTED = {
    name
    for name in protocol.__all__
    if isinstance(cls := getattr(protocol, name), type) and issubclass(cls, RemoteProtocolError)
}
"""Close reasons a peer's bytes may cause: the protocol's errors by class name."""

envelopes = EnvelopeCodec()


@settings(max_examples=500, deadline=None)
@given(near_valid_envelopes())
def test_near_valid_envelopes_raise_only_documented_errors(fields: list[Any]) -> None:
    data = msgspec.msgpack.encode(fields)
    incoming = IncomingDecoder()
    with contextlib.suppress(DECODE_FAILURES):
        incoming.decode(data)
    with contextlib.suppress(DECODE_FAILURES):
        incoming.decode_run(data)
    try:
        envelope = envelopes.decode(data)
    except RemoteProtocolError:
        return
    decoders = {
        MessageKind.TELL: envelopes.decode_payload,
        MessageKind.ASK: envelopes.decode_payload,
        MessageKind.REPLY: envelopes.decode_payload,
        MessageKind.ERROR: envelopes.decode_failure,
        MessageKind.TELLS: envelopes.decode_payloads,
    }
    decode = decoders.get(envelope.kind)
    if decode is not None:
        with contextlib.suppress(RemoteProtocolError):
            decode(envelope)
    if envelope.kind is MessageKind.TELLS:
        with contextlib.suppress(RemoteProtocolError):
            for element in envelopes.split_payloads(envelope):
                with contextlib.suppress(RemoteProtocolError):
                    assert isinstance(envelopes.codec.decode(memoryview(element)), Ping)


@settings(max_examples=300, deadline=None)
@given(
    st.tuples(
        st.sampled_from(["tadpole.hello", "tadpole.proof", "tadpole.accept", "tadpole.reject", 7]),
        st.lists(
            st.integers(-(2**63), 2**64 - 1) | st.binary(max_size=40) | st.text(max_size=8) | junk,
            max_size=6,
        ),
    ).map(lambda t: [t[0], *t[1]])
)
def test_near_valid_handshake_frames_raise_only_handshake_errors(fields: list[Any]) -> None:
    acceptor = Handshake.acceptor(node="node", cluster="tadpole", secret=SECRET)
    with contextlib.suppress(HandshakeError):
        acceptor.receive(msgspec.msgpack.encode(fields))


async def _attack(transport_kind: str, frames: list[bytes], one_by_one: bool) -> None:
    config = RemoteConfig(handshake_timeout=WAIT)
    async with AsyncExitStack() as stack:
        if transport_kind == "memory":
            network = MemoryNetwork()
            target_transport: Any = network.transport("target")
            peer_transport: Any = network.transport("peer")
            raw_transport: Any = network.transport("raw")
        else:
            target_transport = peer_transport = raw_transport = TcpTransport()
        target_system = await stack.enter_async_context(ActorSystem("target"))
        peer_system = await stack.enter_async_context(ActorSystem("peer"))
        target = await stack.enter_async_context(
            RemoteNode(target_system, secret=SECRET, transport=target_transport, config=config)
        )
        peer = await stack.enter_async_context(
            RemoteNode(peer_system, secret=SECRET, transport=peer_transport)
        )
        await target_system.spawn(Echo, name="echo")
        echo = peer.ref(f"{target.address}/user/echo")
        assert await echo.ask(Ping(0), timeout=WAIT) == Ping(0)

        stream = await raw_transport.connect(*target.listen_address)
        async with stream:
            reader = await handshake(stream, SECRET)
            # Whatever the frames did, an ask behind them is answered, or the
            # connection was closed with a specific reason.
            try:
                if one_by_one:  # each frame alone in its chunk, as far as the stream goes
                    for frame in frames:
                        await stream.send(frame)
                else:
                    await stream.send(b"".join(frames))
                answer = await raw_ask(stream, reader, Ping(42), 2**40, "/user/echo")
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                answer = None
            if answer is not None:
                assert answer.kind is MessageKind.REPLY
                assert envelopes.decode_payload(answer) == Ping(42)

        # The raw connection has ended.
        await wait_until(lambda: target.statistics().connections == 1)
        reasons = target.statistics().close_reasons
        assert set(reasons) <= DOCUMENTED, reasons
        assert sum(reasons.values()) == (answer is None)
        # Still serving its other peer.
        assert await echo.ask(Ping(1), timeout=WAIT) == Ping(1)


@pytest.mark.parametrize("transport_kind", ["memory", "tcp"])
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(near_valid_envelopes().map(frame_of), min_size=1, max_size=8), st.booleans())
# The frames of the issue: a run holding one message instead of an array of them
# (with all seven fields, and with the three a node sends), and an empty run.
@example([frame_of([5, "/user/echo", ["test.ping"], None])], True)
@example([frame_of([5, "/user/echo", ["test.ping"]])], True)
@example([frame_of([5, "/user/echo", []])], True)
@example([frame_of([5, "/user/echo", ["test.ping", 1], None, 0, None, None])] * 2, False)
def test_a_node_survives_any_near_valid_frames_and_counts_why_it_closes(
    transport_kind: str, frames: list[bytes], one_by_one: bool
) -> None:
    anyio.run(functools.partial(_attack, transport_kind, frames, one_by_one))


def test_a_connection_survives_frame_reader_limits_being_raised() -> None:
    reader = FrameReader(max_frame_size=8)
    reader.feed(b"\x00\x00\x00\x10" + bytes(16))
    reader.max_frame_size = 16
    assert reader.next_frame() == bytes(16)
