"""The hex test vectors of docs/protocol.md hold for Tadpole itself.

The vectors are read from the page, so the page and this test cannot drift:
the handshake vectors are checked against ``protocol.Handshake`` (with the
page's nonces in place of fresh ones), the envelope vectors against
``EnvelopeCodec`` and against a live node on 127.0.0.1 that must answer the
page's asks with exactly the page's answer frames.
"""

from __future__ import annotations

import hmac
import inspect
import re
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
import pytest

import protocol._handshake as handshake_module
from actors import Actor, ActorSystem
from actors.remote import RemoteConfig, RemoteNode
from protocol import (
    PROTOCOL_VERSION,
    EnvelopeCodec,
    FrameReader,
    Handshake,
    HandshakeError,
    MalformedHandshake,
    Message,
    MessageKind,
    RemoteFailure,
    encode_frame,
)
from tests.helpers import WAIT

if TYPE_CHECKING:
    from anyio.abc import SocketStream

PAGE = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
_VECTOR = re.compile(r"```text\n# vector: (?P<name>[\w.-]+)\n(?P<hex>[0-9a-f\s]+?)```")

KEY_TEXT = "tadpole-test-vector-secret-0123456789"
NONCE_I = bytes(range(32))
NONCE_A = bytes(range(32, 64))


def vectors() -> dict[str, bytes]:
    """Every ``# vector: NAME`` block of the page, as bytes."""
    text = PAGE.read_text(encoding="utf-8")
    found: dict[str, bytes] = {}
    for match in _VECTOR.finditer(text):
        name = match["name"]
        assert name not in found, f"docs/protocol.md: vector {name!r} appears twice"
        found[name] = bytes.fromhex("".join(match["hex"].split()))
    return found


VECTORS = vectors()


def vector(name: str) -> bytes:
    assert name in VECTORS, f"docs/protocol.md has no test vector named {name!r}"
    return VECTORS[name]


def payload_of(frame: bytes) -> bytes:
    """A vector frame's payload, after checking its length prefix."""
    (length,) = struct.unpack(">I", frame[:4])
    assert length == len(frame) - 4, "the length prefix must count the payload exactly"
    return frame[4:]


class Ping(Message, tag="ping"):
    seq: int


class Pong(Message, tag="pong"):
    seq: int


class EchoSeq(Actor[Message]):
    """The page's actor: Pong(n) for n > 0, None for 0, ValueError for n < 0."""

    def __init__(self, seen: list[int]) -> None:
        self.seen = seen

    async def receive(self, message: Message) -> Message | None:
        assert isinstance(message, Ping)
        self.seen.append(message.seq)
        if message.seq < 0:
            raise ValueError("bad seq")
        return Pong(message.seq) if message.seq > 0 else None


# -- the handshake ---------------------------------------------------------------


def test_the_page_has_every_vector() -> None:
    expected = {
        "key",
        "transcript.acceptor",
        "proof.acceptor",
        "transcript.initiator",
        "proof.initiator",
        "frame.hello",
        "frame.challenge",
        "frame.proof",
        "frame.accept",
        *(
            f"envelope.{kind}"
            for kind in (
                "tell",
                "tells",
                "ask",
                "reply",
                "ask-none",
                "reply-none",
                "ask-failing",
                "error",
                "cancel",
            )
        ),
    }
    assert set(VECTORS) == expected


def test_the_key_is_the_secret_files_bytes_stripped(tmp_path: Path) -> None:
    from actors.node._config import load_config  # the node's own reading of the secret

    assert vector("key") == KEY_TEXT.encode()
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(b"  " + KEY_TEXT.encode() + b"\r\n\n")
    config = load_config(["--name", "a", "--secret-file", str(secret_file)], environ={})
    assert config.secret == vector("key")


@pytest.mark.parametrize("role", ["acceptor", "initiator"])
def test_the_transcripts_are_the_documented_msgpack(role: str) -> None:
    label = f"tadpole-handshake-v1/{role}".encode()
    expected = (label, PROTOCOL_VERSION, "tadpole", "alpha", "beta", NONCE_I, NONCE_A)
    transcript = vector(f"transcript.{role}")
    assert transcript[:2] == b"\x97\xc4"  # an array of 7, the label as bin (not str)
    assert msgspec.msgpack.encode(expected) == transcript
    assert hmac.digest(vector("key"), transcript, "sha256") == vector(f"proof.{role}")


def test_the_handshake_frames_are_what_handshake_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    nonces = iter([NONCE_I, NONCE_A])
    monkeypatch.setattr(handshake_module.secrets, "token_bytes", lambda size: next(nonces))
    initiator = Handshake.initiator(node="alpha", cluster="tadpole", secret=vector("key"))
    acceptor = Handshake.acceptor(node="beta", cluster="tadpole", secret=vector("key"))
    sent: list[bytes] = []
    pending = [(acceptor, p) for p in initiator.data_to_send()]
    sent += [encode_frame(p) for _, p in pending]
    peer = {initiator: acceptor, acceptor: initiator}
    while pending:
        receiver, payload = pending.pop(0)
        receiver.receive(payload)
        replies = receiver.data_to_send()
        sent += [encode_frame(p) for p in replies]
        pending += [(peer[receiver], p) for p in replies]
    assert initiator.established
    assert acceptor.established
    names = ["frame.hello", "frame.challenge", "frame.proof", "frame.accept"]
    assert sent == [vector(name) for name in names]
    # And a side that reads the page's frames accepts them.
    monkeypatch.setattr(handshake_module.secrets, "token_bytes", lambda size: NONCE_A)
    replay = Handshake.acceptor(node="beta", cluster="tadpole", secret=vector("key"))
    replay.receive(payload_of(vector("frame.hello")))
    assert replay.data_to_send() == [payload_of(vector("frame.challenge"))]
    replay.receive(payload_of(vector("frame.proof")))
    assert replay.data_to_send() == [payload_of(vector("frame.accept"))]
    assert replay.established


# -- envelopes -------------------------------------------------------------------

FIELDS: dict[str, tuple[Any, ...]] = {
    # kind, target, payload (decoded), sender, correlation_id, trace_id, timeout
    "tell": (MessageKind.TELL, "/user/echo", Ping(1), None, 0, None, None),
    "tells": (MessageKind.TELLS, "/user/echo", [Ping(2), Ping(3)], None, 0, None, None),
    "ask": (MessageKind.ASK, "/user/echo", Ping(7), None, 1, None, 5.0),
    "reply": (MessageKind.REPLY, "", Pong(7), "/user/echo", 1, None, None),
    "ask-none": (MessageKind.ASK, "/user/echo", Ping(0), None, 2, None, 5.0),
    "reply-none": (MessageKind.REPLY, "", "tadpole.none", "/user/echo", 2, None, None),
    "ask-failing": (MessageKind.ASK, "/user/echo", Ping(-1), None, 3, None, 5.0),
    "error": (
        MessageKind.ERROR,
        "",
        RemoteFailure("ValueError", "bad seq", ""),
        "/user/echo",
        3,
        None,
        None,
    ),
    "cancel": (MessageKind.CANCEL, "/user/echo", None, None, 4, None, None),
}


@pytest.mark.parametrize("name", list(FIELDS))
def test_each_envelope_vector_decodes_to_its_documented_fields(name: str) -> None:
    codec = EnvelopeCodec()
    envelope = codec.decode(payload_of(vector(f"envelope.{name}")))
    kind, target, payload, sender, cid, trace_id, timeout = FIELDS[name]
    assert envelope.kind is kind
    assert envelope.target == target
    assert envelope.sender == sender
    assert envelope.correlation_id == cid
    assert envelope.trace_id == trace_id
    assert envelope.timeout == timeout
    if kind is MessageKind.TELLS:
        assert codec.decode_payloads(envelope) == payload
    elif kind is MessageKind.ERROR:
        assert codec.decode_failure(envelope) == payload
    elif kind is MessageKind.CANCEL:
        assert bytes(envelope.payload) == b"\xc0"  # nil
    elif isinstance(payload, str):
        assert msgspec.msgpack.decode(envelope.payload) == [payload]  # ["tadpole.none"]
    else:
        assert codec.decode_payload(envelope) == payload


@pytest.mark.parametrize("name", [n for n in FIELDS if n != "tells"])
def test_each_envelope_vector_is_the_smallest_encoding(name: str) -> None:
    """Re-encoding the decoded msgpack value gives the same bytes (smallest forms)."""
    payload = payload_of(vector(f"envelope.{name}"))
    assert msgspec.msgpack.encode(msgspec.msgpack.decode(payload)) == payload


def test_the_tells_vector_uses_an_array32_for_its_messages() -> None:
    payload = payload_of(vector("envelope.tells"))
    value = msgspec.msgpack.decode(payload)
    assert value == [5, "/user/echo", [["ping", 2], ["ping", 3]]]
    head = msgspec.msgpack.encode([5, "/user/echo"])[1:]  # without the array header
    assert payload == b"\x93" + head + b"\xdd" + struct.pack(">I", 2) + payload[-14:]


# -- against a live node -----------------------------------------------------------


async def _raw_handshake(stream: SocketStream) -> FrameReader:
    hs = Handshake.initiator(node="vector-client", cluster="tadpole", secret=vector("key"))
    reader = FrameReader()
    for payload in hs.data_to_send():
        await stream.send(encode_frame(payload))
    while not hs.established:
        reader.feed(await stream.receive())
        for frame in reader:
            hs.receive(frame)
            for payload in hs.data_to_send():
                await stream.send(encode_frame(payload))
            if hs.established:
                break
    return reader


async def _next_frame(stream: SocketStream, reader: FrameReader) -> bytes:
    with anyio.fail_after(WAIT):
        while (frame := reader.next_frame()) is None:
            reader.feed(await stream.receive())
    return encode_frame(frame)


@pytest.mark.anyio
async def test_a_live_node_answers_the_page_asks_with_the_page_frames() -> None:
    seen: list[int] = []
    config = RemoteConfig(include_traceback=False)
    async with ActorSystem("vectors") as system:
        await system.spawn(EchoSeq, seen, name="echo")
        async with RemoteNode(
            system, secret=vector("key"), name="vector-node", config=config
        ) as node:
            port = node.address.rsplit(":", 1)[-1]
            async with await anyio.connect_tcp("127.0.0.1", int(port)) as stream:
                reader = await _raw_handshake(stream)
                await stream.send(vector("envelope.tell") + vector("envelope.tells"))
                for ask, answer in (
                    ("ask", "reply"),
                    ("ask-none", "reply-none"),
                    ("ask-failing", "error"),
                ):
                    await stream.send(vector(f"envelope.{ask}"))
                    assert await _next_frame(stream, reader) == vector(f"envelope.{answer}"), (
                        f"the node's answer to envelope.{ask} differs from envelope.{answer}"
                    )
                # A CANCEL for an ask already answered is ignored; the connection stays up.
                await stream.send(vector("envelope.cancel") + vector("envelope.ask"))
                assert await _next_frame(stream, reader) == vector("envelope.reply")
    assert seen == [1, 2, 3, 7, 0, -1, 7]


# -- the other facts the page states ---------------------------------------------


async def _read_to_end(stream: SocketStream) -> bytes:
    received = b""
    with anyio.fail_after(WAIT):
        try:
            while chunk := await stream.receive():
                received += chunk
        except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionResetError):
            pass
    return received


def _echo_node(system: ActorSystem) -> RemoteNode:
    return RemoteNode(
        system,
        secret=vector("key"),
        name="vector-node",
        config=RemoteConfig(include_traceback=False),
    )


def _port(node: RemoteNode) -> int:
    return int(node.address.rsplit(":", 1)[-1])


@pytest.mark.anyio
async def test_an_expired_ask_gets_no_answer() -> None:
    expired = encode_frame(
        msgspec.msgpack.encode([1, "/user/echo", ["ping", 5], None, 9, None, 0.0])
    )
    async with ActorSystem("vectors") as system:
        await system.spawn(EchoSeq, [], name="echo")
        async with (
            _echo_node(system) as node,
            await anyio.connect_tcp("127.0.0.1", _port(node)) as stream,
        ):
            reader = await _raw_handshake(stream)
            await stream.send(expired + vector("envelope.ask"))
            # The first answer is the second ask's: nothing came for correlation id 9.
            assert await _next_frame(stream, reader) == vector("envelope.reply")


@pytest.mark.anyio
async def test_a_bad_frame_closes_the_connection_without_a_word() -> None:
    async with ActorSystem("vectors") as system:
        await system.spawn(EchoSeq, [], name="echo")
        async with (
            _echo_node(system) as node,
            await anyio.connect_tcp("127.0.0.1", _port(node)) as stream,
        ):
            await _raw_handshake(stream)
            await stream.send(encode_frame(b"\x93\x09 not an envelope"))
            assert await _read_to_end(stream) == b""


@pytest.mark.anyio
async def test_a_second_connection_under_one_name_replaces_the_first() -> None:
    async with ActorSystem("vectors") as system:
        await system.spawn(EchoSeq, [], name="echo")
        async with (
            _echo_node(system) as node,
            await anyio.connect_tcp("127.0.0.1", _port(node)) as first,
        ):
            await _raw_handshake(first)
            async with await anyio.connect_tcp("127.0.0.1", _port(node)) as second:
                reader = await _raw_handshake(second)
                assert await _read_to_end(first) == b""  # closed: replaced
                await second.send(vector("envelope.ask"))
                assert await _next_frame(second, reader) == vector("envelope.reply")


def test_a_reject_reason_is_at_most_64_characters() -> None:
    for reason, accepted in (("r" * 64, True), ("r" * 65, False)):
        hs = Handshake.initiator(node="alpha", cluster="tadpole", secret=vector("key"))
        hs.data_to_send()
        reject = msgspec.msgpack.encode(["tadpole.reject", reason, "detail"])
        with pytest.raises(HandshakeError) as caught:
            hs.receive(reject)
        assert (type(caught.value) is HandshakeError) is accepted  # unknown reason: the base
        assert isinstance(caught.value, MalformedHandshake) is not accepted


def test_the_documented_defaults() -> None:
    from actors.node._config import NodeConfig

    assert RemoteConfig().handshake_timeout == 5.0
    assert inspect.signature(RemoteNode).parameters["cluster"].default == "tadpole"
    assert inspect.signature(NodeConfig).parameters["cluster"].default == "tadpole"
