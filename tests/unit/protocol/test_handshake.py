"""The handshake state machine: version, cluster and challenge-response authentication."""

from __future__ import annotations

import msgspec
import pytest

from protocol import (
    HANDSHAKE_MAX_FRAME_SIZE,
    NONCE_SIZE,
    PROTOCOL_VERSION,
    AuthenticationFailed,
    ClusterMismatch,
    Handshake,
    HandshakeError,
    HandshakeRole,
    HandshakeStateError,
    MalformedHandshake,
    ProtocolVersionMismatch,
    RemoteProtocolError,
    UnexpectedHandshakeMessage,
)
from protocol._handshake import Accept, Challenge, Hello, Proof, Reject

SECRET = b"correct horse battery staple"


def _initiator(*, node: str = "alpha", cluster: str = "swarm", secret: bytes = SECRET) -> Handshake:
    return Handshake.initiator(node=node, cluster=cluster, secret=secret)


def _acceptor(*, node: str = "beta", cluster: str = "swarm", secret: bytes = SECRET) -> Handshake:
    return Handshake.acceptor(node=node, cluster=cluster, secret=secret)


def _pipe(sender: Handshake, receiver: Handshake, wire: list[bytes] | None = None) -> None:
    """Deliver everything ``sender`` has queued to ``receiver``."""
    for payload in sender.data_to_send():
        if wire is not None:
            wire.append(payload)
        receiver.receive(payload)


def _run(initiator: Handshake, acceptor: Handshake, wire: list[bytes] | None = None) -> None:
    """Pipe frames both ways until neither side has anything left to say."""
    while True:
        _pipe(initiator, acceptor, wire)
        outgoing = acceptor.data_to_send()
        if not outgoing:
            return
        for payload in outgoing:
            if wire is not None:
                wire.append(payload)
            initiator.receive(payload)


def _decode(payload: bytes) -> object:
    return msgspec.msgpack.decode(payload, type=Hello | Challenge | Proof | Accept | Reject)


def _rejection(handshake: Handshake) -> Reject:
    (payload,) = handshake.data_to_send()
    reject = _decode(payload)
    assert isinstance(reject, Reject)
    return reject


def _hello(*, version: int = PROTOCOL_VERSION, cluster: str = "swarm") -> bytes:
    return msgspec.msgpack.encode(Hello(version, cluster, "mallory", b"n" * NONCE_SIZE))


# -- success ------------------------------------------------------------------------


def test_both_sides_are_established_after_hello_challenge_proof_accept() -> None:
    initiator, acceptor = _initiator(), _acceptor()
    wire: list[bytes] = []

    _run(initiator, acceptor, wire)

    assert initiator.established
    assert acceptor.established
    assert [type(_decode(p)) for p in wire] == [Hello, Challenge, Proof, Accept]


def test_each_side_learns_the_peers_node_name_once_established() -> None:
    initiator, acceptor = _initiator(), _acceptor()
    assert (initiator.peer_node, acceptor.peer_node) == (None, None)

    _run(initiator, acceptor)

    assert (initiator.peer_node, acceptor.peer_node) == ("beta", "alpha")


def test_initiator_has_its_hello_ready_and_the_acceptor_waits() -> None:
    initiator, acceptor = _initiator(), _acceptor()

    (payload,) = initiator.data_to_send()
    hello = _decode(payload)

    assert isinstance(hello, Hello)
    assert (hello.version, hello.cluster, hello.node) == (PROTOCOL_VERSION, "swarm", "alpha")
    assert acceptor.data_to_send() == []
    assert initiator.role is HandshakeRole.INITIATOR
    assert acceptor.role is HandshakeRole.ACCEPTOR


def test_secret_never_crosses_the_wire() -> None:
    initiator, acceptor = _initiator(), _acceptor()
    wire: list[bytes] = []

    _run(initiator, acceptor, wire)

    assert not any(SECRET in payload for payload in wire)


def test_every_handshake_uses_fresh_nonces() -> None:
    hellos = [_decode(_initiator().data_to_send()[0]) for _ in range(5)]
    nonces = {hello.nonce for hello in hellos if isinstance(hello, Hello)}

    assert len(nonces) == 5
    assert all(len(nonce) == NONCE_SIZE for nonce in nonces)


def test_data_to_send_empties_the_outbox() -> None:
    initiator = _initiator()
    initiator.data_to_send()

    assert initiator.data_to_send() == []


# -- authentication -----------------------------------------------------------------


def test_initiator_refuses_an_acceptor_with_another_secret_and_both_fail() -> None:
    initiator, acceptor = _initiator(), _acceptor(secret=b"another secret")
    _pipe(initiator, acceptor)

    with pytest.raises(AuthenticationFailed, match="could not verify the proof of node 'beta'"):
        _pipe(acceptor, initiator)
    with pytest.raises(AuthenticationFailed, match="peer rejected the handshake"):
        _pipe(initiator, acceptor)

    assert initiator.failed
    assert acceptor.failed
    assert not initiator.established
    assert not acceptor.established


def test_acceptor_refuses_a_proof_made_without_the_secret() -> None:
    acceptor = _acceptor()
    acceptor.receive(_hello())
    acceptor.data_to_send()

    with pytest.raises(AuthenticationFailed):
        acceptor.receive(msgspec.msgpack.encode(Proof(b"\x00" * 32)))

    assert _rejection(acceptor).reason == "authentication_failed"
    assert acceptor.failed


def test_a_recorded_handshake_replayed_to_the_acceptor_is_refused() -> None:
    wire: list[bytes] = []
    _run(_initiator(), _acceptor(), wire)
    hello, _challenge, proof, _accept = wire
    acceptor = _acceptor()

    acceptor.receive(hello)  # a fresh challenge with a new nonce
    with pytest.raises(AuthenticationFailed):
        acceptor.receive(proof)


def test_the_acceptors_own_proof_reflected_back_is_refused() -> None:
    acceptor = _acceptor()
    acceptor.receive(_hello())
    (challenge_bytes,) = acceptor.data_to_send()
    challenge = _decode(challenge_bytes)
    assert isinstance(challenge, Challenge)

    with pytest.raises(AuthenticationFailed):
        acceptor.receive(msgspec.msgpack.encode(Proof(challenge.proof)))


# -- version and cluster ------------------------------------------------------------


def test_acceptor_refuses_another_protocol_version_and_tells_the_peer() -> None:
    acceptor = _acceptor()

    with pytest.raises(ProtocolVersionMismatch, match="version 99"):
        acceptor.receive(_hello(version=99))

    assert _rejection(acceptor).reason == "version_mismatch"


def test_hello_of_a_future_version_with_another_shape_is_a_version_mismatch() -> None:
    acceptor = _acceptor()
    later = PROTOCOL_VERSION + 1
    future = msgspec.msgpack.encode(["tadpole.hello", later, {"cluster": "swarm"}, [1, 2, 3]])

    with pytest.raises(ProtocolVersionMismatch, match=f"version {later}"):
        acceptor.receive(future)


def test_initiator_raises_version_mismatch_when_the_acceptor_rejects_its_version() -> None:
    initiator = _initiator()
    initiator.data_to_send()

    with pytest.raises(ProtocolVersionMismatch, match="peer rejected"):
        initiator.receive(msgspec.msgpack.encode(Reject("version_mismatch", "speaks 2")))

    assert initiator.data_to_send() == []  # no Reject answers a Reject
    assert initiator.failed


def test_acceptor_refuses_a_peer_of_another_cluster() -> None:
    acceptor = _acceptor()

    with pytest.raises(ClusterMismatch, match="'elsewhere'"):
        acceptor.receive(_hello(cluster="elsewhere"))

    assert _rejection(acceptor).reason == "cluster_mismatch"


def test_both_sides_raise_cluster_mismatch_between_clusters() -> None:
    initiator, acceptor = _initiator(cluster="red"), _acceptor(cluster="blue")

    with pytest.raises(ClusterMismatch):
        _pipe(initiator, acceptor)
    with pytest.raises(ClusterMismatch, match="peer rejected"):
        _pipe(acceptor, initiator)


def test_initiator_refuses_a_challenge_from_another_cluster() -> None:
    initiator = _initiator()
    initiator.data_to_send()
    challenge = Challenge(PROTOCOL_VERSION, "elsewhere", "beta", b"n" * NONCE_SIZE, b"p" * 32)

    with pytest.raises(ClusterMismatch):
        initiator.receive(msgspec.msgpack.encode(challenge))


# -- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"GET / HTTP/1.1\r\n", id="http"),
        pytest.param(msgspec.msgpack.encode(["tadpole.nothing"]), id="unknown-tag"),
        pytest.param(
            msgspec.msgpack.encode(["tadpole.hello", PROTOCOL_VERSION, "swarm", "m", b"short"]),
            id="short-nonce",
        ),
        pytest.param(
            msgspec.msgpack.encode(["tadpole.hello", PROTOCOL_VERSION, "swarm", "", b"n" * 32]),
            id="empty-node-name",
        ),
        pytest.param(b"\x91" * 50_000, id="nested-too-deep"),
    ],
)
def test_bytes_that_are_not_a_handshake_message_raise_malformed_handshake(
    payload: bytes,
) -> None:
    acceptor = _acceptor()

    with pytest.raises(MalformedHandshake):
        acceptor.receive(payload)

    assert _rejection(acceptor).reason == "malformed"


def test_a_message_out_of_order_raises_unexpected_handshake_message() -> None:
    acceptor = _acceptor()

    with pytest.raises(UnexpectedHandshakeMessage, match="awaiting hello, got Accept"):
        acceptor.receive(msgspec.msgpack.encode(Accept()))

    assert _rejection(acceptor).reason == "unexpected_message"


def test_initiator_refuses_a_hello() -> None:
    initiator = _initiator()
    initiator.data_to_send()

    with pytest.raises(UnexpectedHandshakeMessage):
        initiator.receive(_hello())


def test_a_reject_with_an_unknown_reason_raises_a_handshake_error() -> None:
    initiator = _initiator()

    with pytest.raises(HandshakeError, match="shutting_down"):
        initiator.receive(msgspec.msgpack.encode(Reject("shutting_down")))


def test_handshake_errors_blame_the_peer() -> None:
    for error in (
        MalformedHandshake,
        UnexpectedHandshakeMessage,
        ProtocolVersionMismatch,
        ClusterMismatch,
        AuthenticationFailed,
    ):
        assert issubclass(error, HandshakeError)
        assert issubclass(error, RemoteProtocolError)


# -- local misuse -------------------------------------------------------------------


def test_receiving_after_establishment_is_a_state_error() -> None:
    initiator, acceptor = _initiator(), _acceptor()
    _run(initiator, acceptor)

    with pytest.raises(HandshakeStateError, match="established"):
        acceptor.receive(msgspec.msgpack.encode(Accept()))


def test_receiving_after_failure_is_a_state_error() -> None:
    acceptor = _acceptor()
    with pytest.raises(MalformedHandshake):
        acceptor.receive(b"junk")

    with pytest.raises(HandshakeStateError, match="failed"):
        acceptor.receive(_hello())


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        _initiator(secret=b"")


@pytest.mark.parametrize("name", ["", "n" * 256])
def test_node_and_cluster_names_must_be_1_to_255_characters(name: str) -> None:
    with pytest.raises(ValueError, match="node name"):
        _acceptor(node=name)
    with pytest.raises(ValueError, match="cluster name"):
        _acceptor(cluster=name)


def test_every_handshake_message_fits_the_unauthenticated_frame_limit() -> None:
    """The largest a side can send before authentication: names of 255 four-byte
    characters, a Reject with 1024 of them."""
    name = "\U0001f438" * 255
    largest = [
        Hello(PROTOCOL_VERSION, name, name, b"n" * NONCE_SIZE),
        Challenge(PROTOCOL_VERSION, name, name, b"n" * NONCE_SIZE, b"p" * 32),
        Proof(b"p" * 32),
        Accept(),
        Reject("x" * 64, "\U0001f438" * 1024),
    ]
    assert max(len(msgspec.msgpack.encode(m)) for m in largest) <= HANDSHAKE_MAX_FRAME_SIZE


def test_the_acceptor_knows_the_claimed_name_from_the_hello_before_it_is_proved() -> None:
    initiator, acceptor = _initiator(node="alpha"), _acceptor()
    assert acceptor.claimed_node is None
    [hello] = initiator.data_to_send()
    acceptor.receive(hello)
    assert acceptor.claimed_node == "alpha"
    assert acceptor.peer_node is None  # not proved yet


def test_a_reject_built_outside_the_handshake_fails_the_peers_handshake_with_its_reason() -> None:
    initiator = _initiator()
    initiator.data_to_send()
    payload = Handshake.reject("simultaneous_connect", "x" * 2000)
    assert msgspec.msgpack.decode(payload, type=Reject) == Reject(
        "simultaneous_connect", "x" * 1024
    )
    with pytest.raises(HandshakeError, match=r"\(simultaneous_connect\)"):
        initiator.receive(payload)
    assert initiator.failed
