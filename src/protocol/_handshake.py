"""The connection handshake: protocol version, cluster, and mutual authentication.

A sans-I/O state machine, the same class on both ends of a connection. The
side that dialled is the *initiator*, the side that accepted is the
*acceptor*. The transport feeds each handshake frame's payload to
:meth:`Handshake.receive` and sends whatever :meth:`Handshake.data_to_send`
returns, one frame per item, until :attr:`Handshake.established`::

    initiator                                         acceptor
      Hello(version, cluster, node_i, nonce_i)  ──▶    checks version, cluster
                                                ◀──   Challenge(version, cluster, node_a,
      checks version, cluster, proof_a                           nonce_a, proof_a)
      Proof(proof_i)                            ──▶    checks proof_i
                                                ◀──   Accept()
      established                                      established

    proof_a = HMAC-SHA256(secret, transcript("acceptor"))
    proof_i = HMAC-SHA256(secret, transcript("initiator"))
    transcript(role) = msgpack([label(role), version, cluster, node_i, node_a, nonce_i, nonce_a])

Each side proves knowledge of the shared cluster secret over a nonce the
other side has just chosen, so the secret never crosses the wire and an old
proof is worthless. The role label keeps one side's proof from being replayed
as the other's. When a check fails the failing side queues a ``Reject`` with
the reason (so the peer can raise the same specific error), then raises.

What it does not do: protect the traffic after the handshake. An on-path
attacker can relay a handshake and then read or alter frames; use TLS (the
standard :mod:`ssl` module, set up by the transport) where that matters.

The first two elements of every ``Hello`` and ``Challenge`` (tag, version)
stay the same in all protocol versions, so a peer speaking another version
is reported as :class:`ProtocolVersionMismatch`, not as garbage.
"""

from __future__ import annotations

import enum
import hmac
import secrets
from typing import Annotated, Final, Literal

import msgspec

from ._codec import DECODE_FAILURES
from ._errors import (
    AuthenticationFailed,
    ClusterMismatch,
    HandshakeError,
    HandshakeStateError,
    MalformedHandshake,
    ProtocolVersionMismatch,
    UnexpectedHandshakeMessage,
)

__all__ = [
    "HANDSHAKE_MAX_FRAME_SIZE",
    "MAX_NAME_LENGTH",
    "NONCE_SIZE",
    "PROTOCOL_VERSION",
    "Handshake",
    "HandshakeRole",
    "check_name",
]

PROTOCOL_VERSION: Final = 2
"""The wire protocol version this code speaks."""

NONCE_SIZE: Final = 32
"""Bytes of each side's fresh nonce."""

HANDSHAKE_MAX_FRAME_SIZE: Final = 8 * 1024
"""Largest frame a side reads before the handshake has authenticated the peer.

Every handshake message fits (the largest, a ``Reject`` with its 1024-character
detail, is under 4.2 KiB), so a transport reads the handshake with a
:class:`~protocol.FrameReader` of this limit and raises it to the connection's
own limit once the handshake is established: an unauthenticated peer cannot
make a node buffer a large frame.
"""

_PROOF_SIZE: Final = 32  # HMAC-SHA256
_MAX_NAME: Final = 255
MAX_NAME_LENGTH: Final = _MAX_NAME
"""Characters a node or cluster name may have, at most (and at least one)."""

_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=_MAX_NAME)]
_Nonce = Annotated[bytes, msgspec.Meta(min_length=NONCE_SIZE, max_length=NONCE_SIZE)]
_ProofBytes = Annotated[bytes, msgspec.Meta(min_length=_PROOF_SIZE, max_length=_PROOF_SIZE)]


def check_name(what: str, value: str) -> str:
    """``value`` if it fits a handshake as a ``what`` (node or cluster) name, else ValueError."""
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_NAME:
        raise ValueError(f"{what} name must be 1..{_MAX_NAME} characters, got {value!r}")
    return value


class HandshakeRole(enum.Enum):
    """Which end of the connection a :class:`Handshake` runs on."""

    INITIATOR = "initiator"
    """The side that opened the connection; it speaks first."""
    ACCEPTOR = "acceptor"
    """The side that accepted the connection."""


# -- wire messages -----------------------------------------------------------
# Tagged msgpack arrays, decoded only through ``_decoder``: not part of the
# user's Message registry, so no user type can collide with them.


class _HandshakeMessage(msgspec.Struct, frozen=True, array_like=True):
    pass


class Hello(_HandshakeMessage, frozen=True, tag="tadpole.hello"):
    """Initiator → acceptor: who I am and my challenge to you."""

    version: int
    cluster: _Name
    node: _Name
    nonce: _Nonce


class Challenge(_HandshakeMessage, frozen=True, tag="tadpole.challenge"):
    """Acceptor → initiator: who I am, my proof, and my challenge to you."""

    version: int
    cluster: _Name
    node: _Name
    nonce: _Nonce
    proof: _ProofBytes


class Proof(_HandshakeMessage, frozen=True, tag="tadpole.proof"):
    """Initiator → acceptor: my proof."""

    proof: _ProofBytes


class Accept(_HandshakeMessage, frozen=True, tag="tadpole.accept"):
    """Acceptor → initiator: your proof holds; the connection is established."""


_Reason = Literal[
    "version_mismatch",
    "cluster_mismatch",
    "authentication_failed",
    "unexpected_message",
    "malformed",
]


class Reject(_HandshakeMessage, frozen=True, tag="tadpole.reject"):
    """Either side: the handshake failed for ``reason``; the sender closes."""

    reason: Annotated[str, msgspec.Meta(max_length=64)]
    detail: Annotated[str, msgspec.Meta(max_length=1024)] = ""


_AnyHandshake = Hello | Challenge | Proof | Accept | Reject


class _VersionProbe(msgspec.Struct, array_like=True):
    """The part of a Hello or Challenge every protocol version shares."""

    tag: str
    version: int


_REASONS: Final[dict[type[HandshakeError], _Reason]] = {
    ProtocolVersionMismatch: "version_mismatch",
    ClusterMismatch: "cluster_mismatch",
    AuthenticationFailed: "authentication_failed",
    UnexpectedHandshakeMessage: "unexpected_message",
    MalformedHandshake: "malformed",
}
_ERRORS: Final[dict[str, type[HandshakeError]]] = {v: k for k, v in _REASONS.items()}

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_AnyHandshake)
_probe = msgspec.msgpack.Decoder(_VersionProbe)

_LABELS: Final = {
    HandshakeRole.INITIATOR: b"tadpole-handshake-v1/initiator",
    HandshakeRole.ACCEPTOR: b"tadpole-handshake-v1/acceptor",
}


class _State(enum.Enum):
    AWAIT_HELLO = "awaiting hello"
    AWAIT_CHALLENGE = "awaiting challenge"
    AWAIT_PROOF = "awaiting proof"
    AWAIT_ACCEPT = "awaiting accept"
    ESTABLISHED = "established"
    FAILED = "failed"


class Handshake:
    """One side of a connection handshake, as a state machine over frame payloads.

    Create it with :meth:`initiator` or :meth:`acceptor`. The transport loop::

        send(handshake.data_to_send())          # the initiator's Hello
        while not handshake.established:
            payload = next frame from the peer
            try:
                handshake.receive(payload)
            finally:
                send(handshake.data_to_send())  # the reply, or a Reject
        # frames from here on carry envelopes

    :meth:`receive` raises a :class:`HandshakeError` subclass when the
    handshake fails; a ``Reject`` telling the peer why is then waiting in
    :meth:`data_to_send`, and the connection should be closed after sending it.
    """

    __slots__ = (
        "_cluster",
        "_node",
        "_nonce",
        "_outbox",
        "_peer_node",
        "_peer_nonce",
        "_role",
        "_secret",
        "_state",
    )

    def __init__(self, role: HandshakeRole, *, node: str, cluster: str, secret: bytes) -> None:
        check_name("node", node)
        check_name("cluster", cluster)
        # The HMAC key: surrounding ASCII whitespace is never part of it (see cluster_key).
        self._secret = bytes(secret).strip()
        if not self._secret:
            raise ValueError("the cluster secret must not be empty")
        self._role = role
        self._node = node
        self._cluster = cluster
        # Security-relevant randomness: nonces come from the OS's CSPRNG, never from
        # the injected, seeded random.Random that the rest of the runtime uses.
        self._nonce = secrets.token_bytes(NONCE_SIZE)
        self._peer_nonce = b""
        self._peer_node: str | None = None
        self._outbox: list[bytes] = []
        if role is HandshakeRole.INITIATOR:
            self._send(Hello(PROTOCOL_VERSION, cluster, node, self._nonce))
            self._state = _State.AWAIT_CHALLENGE
        else:
            self._state = _State.AWAIT_HELLO

    @classmethod
    def initiator(cls, *, node: str, cluster: str, secret: bytes) -> Handshake:
        """The dialling side; its ``Hello`` is ready in :meth:`data_to_send` at once."""
        return cls(HandshakeRole.INITIATOR, node=node, cluster=cluster, secret=secret)

    @classmethod
    def acceptor(cls, *, node: str, cluster: str, secret: bytes) -> Handshake:
        """The accepting side; it waits for the initiator's ``Hello``."""
        return cls(HandshakeRole.ACCEPTOR, node=node, cluster=cluster, secret=secret)

    @property
    def role(self) -> HandshakeRole:
        return self._role

    @property
    def established(self) -> bool:
        """Whether both sides have proved the secret; envelopes may flow."""
        return self._state is _State.ESTABLISHED

    @property
    def failed(self) -> bool:
        """Whether the handshake has failed; the connection must be closed."""
        return self._state is _State.FAILED

    @property
    def peer_node(self) -> str | None:
        """The peer's node name once the handshake is established, else ``None``."""
        return self._peer_node if self._state is _State.ESTABLISHED else None

    @property
    def claimed_node(self) -> str | None:
        """The node name the peer's ``Hello`` or ``Challenge`` claimed, before it is
        proved (``None`` until one arrived): an acceptor uses it to refuse a
        self-connection or a losing simultaneous dial. Trust it only once
        :attr:`established`."""
        return self._peer_node

    @staticmethod
    def reject(reason: str, detail: str = "") -> bytes:
        """The payload of a ``Reject`` for a refusal decided outside the handshake
        (``reason`` up to 64 characters; ``detail`` is cut to 1024)."""
        return _encoder.encode(Reject(reason[:64], detail[:1024]))

    def data_to_send(self) -> list[bytes]:
        """Payloads to send to the peer, one frame each, in order; the outbox empties."""
        out = self._outbox
        self._outbox = []
        return out

    def receive(self, payload: bytes | bytearray | memoryview) -> None:
        """Handle one handshake frame from the peer.

        Raises :class:`MalformedHandshake`, :class:`UnexpectedHandshakeMessage`,
        :class:`ProtocolVersionMismatch`, :class:`ClusterMismatch` or
        :class:`AuthenticationFailed`; :class:`HandshakeStateError` if called
        after the handshake was established or failed.
        """
        if self._state in (_State.ESTABLISHED, _State.FAILED):
            raise HandshakeStateError(f"handshake already {self._state.value}; nothing to receive")
        try:
            message = self._decode(payload)
            if isinstance(message, Reject):
                self._state = _State.FAILED
                raise self._rejected(message)
            self._handle(message)
        except HandshakeError as exc:
            if self._state is not _State.FAILED:
                self._state = _State.FAILED
                reason = _REASONS.get(type(exc), "unexpected_message")
                self._send(Reject(reason, str(exc)[:1024]))
            raise

    # -- steps -----------------------------------------------------------------

    def _handle(self, message: _AnyHandshake) -> None:
        state = self._state
        if state is _State.AWAIT_HELLO and isinstance(message, Hello):
            self._check_peer(message.version, message.cluster, message.node)
            self._peer_node, self._peer_nonce = message.node, message.nonce
            proof = self._proof(HandshakeRole.ACCEPTOR)
            self._send(Challenge(PROTOCOL_VERSION, self._cluster, self._node, self._nonce, proof))
            self._state = _State.AWAIT_PROOF
        elif state is _State.AWAIT_CHALLENGE and isinstance(message, Challenge):
            self._check_peer(message.version, message.cluster, message.node)
            self._peer_node, self._peer_nonce = message.node, message.nonce
            if not hmac.compare_digest(message.proof, self._proof(HandshakeRole.ACCEPTOR)):
                raise self._unproven(message.node)
            self._send(Proof(self._proof(HandshakeRole.INITIATOR)))
            self._state = _State.AWAIT_ACCEPT
        elif state is _State.AWAIT_PROOF and isinstance(message, Proof):
            if not hmac.compare_digest(message.proof, self._proof(HandshakeRole.INITIATOR)):
                raise self._unproven(self._peer_node)
            self._send(Accept())
            self._state = _State.ESTABLISHED
        elif state is _State.AWAIT_ACCEPT and isinstance(message, Accept):
            self._state = _State.ESTABLISHED
        else:
            raise UnexpectedHandshakeMessage(
                f"{self._role.value} node {self._node!r}, {state.value}, "
                f"got {type(message).__name__}"
            )

    def _check_peer(self, version: int, cluster: str, node: str) -> None:
        if version != PROTOCOL_VERSION:
            raise ProtocolVersionMismatch(
                f"node {node!r} speaks protocol version {version}, "
                f"node {self._node!r} speaks {PROTOCOL_VERSION}"
            )
        if cluster != self._cluster:
            raise ClusterMismatch(
                f"node {node!r} belongs to cluster {cluster!r}, "
                f"node {self._node!r} to cluster {self._cluster!r}"
            )

    def _unproven(self, peer: str | None) -> AuthenticationFailed:
        return AuthenticationFailed(
            f"node {self._node!r} could not verify the proof of node {peer!r}: "
            "it does not hold the same cluster secret"
        )

    def _proof(self, prover: HandshakeRole) -> bytes:
        """HMAC-SHA256 over the transcript that ``prover`` signs."""
        peer = self._peer_node or ""
        if self._role is HandshakeRole.INITIATOR:
            nodes, nonces = (self._node, peer), (self._nonce, self._peer_nonce)
        else:
            nodes, nonces = (peer, self._node), (self._peer_nonce, self._nonce)
        transcript = _encoder.encode(
            (_LABELS[prover], PROTOCOL_VERSION, self._cluster, *nodes, *nonces)
        )
        return hmac.digest(self._secret, transcript, "sha256")

    # -- wire --------------------------------------------------------------------

    def _send(self, message: _AnyHandshake) -> None:
        self._outbox.append(_encoder.encode(message))

    def _decode(self, payload: bytes | bytearray | memoryview) -> _AnyHandshake:
        try:
            message: _AnyHandshake = _decoder.decode(payload)
        except DECODE_FAILURES as exc:
            # A Hello or Challenge from another protocol version may not fit this
            # version's shape; its first two elements say which version it is.
            try:
                probe = _probe.decode(payload)
            except DECODE_FAILURES:
                probe = None
            if (
                probe is not None
                and probe.tag in ("tadpole.hello", "tadpole.challenge")
                and probe.version != PROTOCOL_VERSION
            ):
                raise ProtocolVersionMismatch(
                    f"peer speaks protocol version {probe.version}, "
                    f"node {self._node!r} speaks {PROTOCOL_VERSION}"
                ) from None
            raise MalformedHandshake(
                f"node {self._node!r} got bytes that are not a handshake message: {exc}"
            ) from None
        return message

    @staticmethod
    def _rejected(reject: Reject) -> HandshakeError:
        error = _ERRORS.get(reject.reason, HandshakeError)
        detail = f": {reject.detail}" if reject.detail else ""
        return error(f"peer rejected the handshake ({reject.reason}){detail}")
