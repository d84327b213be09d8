"""Properties of the handshake: same secret establishes, anything else fails cleanly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import AuthenticationFailed, Handshake, HandshakeError

names = st.text(min_size=1, max_size=30)
secrets_ = st.binary(min_size=1, max_size=64).filter(bytes.strip)
"""Secrets the handshake takes: not only whitespace, which is never part of the key."""


def _step(sender: Handshake, receiver: Handshake) -> None:
    for payload in sender.data_to_send():
        receiver.receive(payload)


def _progress(initiator: Handshake, acceptor: Handshake, steps: int) -> None:
    """Advance a healthy handshake by ``steps`` messages (0 to 3)."""
    for i in range(steps):
        if i % 2 == 0:
            _step(initiator, acceptor)
        else:
            _step(acceptor, initiator)


@given(names, names, names, secrets_)
def test_two_sides_with_the_same_cluster_and_secret_establish(
    initiator_node: str, acceptor_node: str, cluster: str, secret: bytes
) -> None:
    initiator = Handshake.initiator(node=initiator_node, cluster=cluster, secret=secret)
    acceptor = Handshake.acceptor(node=acceptor_node, cluster=cluster, secret=secret)

    _progress(initiator, acceptor, 4)

    assert initiator.established
    assert acceptor.established
    assert (initiator.peer_node, acceptor.peer_node) == (acceptor_node, initiator_node)


@given(secrets_, secrets_)
def test_different_secrets_fail_authentication_on_both_sides(ours: bytes, theirs: bytes) -> None:
    if ours.strip() == theirs.strip():  # the same key
        return
    initiator = Handshake.initiator(node="a", cluster="c", secret=ours)
    acceptor = Handshake.acceptor(node="b", cluster="c", secret=theirs)
    _step(initiator, acceptor)

    failures = 0
    for sender, receiver in ((acceptor, initiator), (initiator, acceptor)):
        try:
            _step(sender, receiver)
        except AuthenticationFailed:
            failures += 1

    assert failures == 2
    assert not initiator.established
    assert not acceptor.established


@settings(deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=3))
def test_arbitrary_bytes_at_any_step_raise_only_handshake_errors(junk: bytes, steps: int) -> None:
    initiator = Handshake.initiator(node="a", cluster="c", secret=b"s")
    acceptor = Handshake.acceptor(node="b", cluster="c", secret=b"s")
    _progress(initiator, acceptor, steps)
    # After an even number of steps the acceptor is next to receive, else the initiator.
    receiver = acceptor if steps % 2 == 0 else initiator

    try:
        receiver.receive(junk)
    except HandshakeError:
        assert receiver.failed
    else:
        assert receiver.established or not receiver.failed
