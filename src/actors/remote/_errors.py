"""Errors of the remote transport.

The tree (every class also derives from :class:`~actors.ActorError`)::

    ActorError
    ├── RemoteError                         root of the transport's own errors
    │   ├── InvalidAddress (ValueError)     a string that is not a ``tadpole://`` address
    │   ├── ConnectionLost (ConnectionError)  the connection carrying an ask was lost
    │   ├── NodeUnreachable (ConnectionError) no connection to the node could be made
    │   ├── HandshakeTimeout (TimeoutError)   a peer did not finish the handshake in time
    │   └── NodeNameConflict (ValueError)     the node dialled has this node's own name
    └── MailboxFull
        └── SendBufferFull                  the send buffer to a node is full (``tell``)

Errors that blame a peer's bytes are the ``protocol`` package's
:class:`~protocol.RemoteProtocolError` subclasses; the transport closes that
connection, names the error's class as the reason and counts it.
"""

from __future__ import annotations

from .. import ActorError, MailboxFull

__all__ = [
    "ConnectionLost",
    "HandshakeTimeout",
    "InvalidAddress",
    "NodeNameConflict",
    "NodeUnreachable",
    "RemoteError",
    "SendBufferFull",
]


class RemoteError(ActorError):
    """Root of the errors raised by the remote transport itself."""


class InvalidAddress(RemoteError, ValueError):
    """A string that is not a valid ``tadpole://node@host:port/path`` address."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"invalid actor address {address!r}: {reason}")
        self.address = address


class ConnectionLost(RemoteError, ConnectionError):
    """The connection to a node closed while an ask was waiting for its answer.

    The message may or may not have been handled by the remote actor.
    """

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"connection carrying the ask to {target} was lost: {reason}")
        self.target = target
        self.reason = reason


class NodeUnreachable(RemoteError, ConnectionError):
    """No connection to the node could be established; queued asks fail with this."""

    def __init__(self, node: str, reason: str) -> None:
        super().__init__(f"node {node} is unreachable: {reason}")
        self.node = node
        self.reason = reason


class HandshakeTimeout(RemoteError, TimeoutError):
    """A peer did not complete the connection handshake within the timeout."""


class NodeNameConflict(RemoteError, ValueError):
    """The node at ``host:port`` refused the handshake because it has this node's name.

    Either the address is this node's own (seen through another name of the
    host), or another node runs under the same name, there or (``detail``
    says so) among the live members the node there knows: names must be unique.
    """

    def __init__(
        self, name: str, host: str, port: int, *, itself: bool = False, detail: str = ""
    ) -> None:
        what = "this node itself" if itself else f"another node also named {name!r}"
        if detail and not itself:
            super().__init__(f"the node at {host}:{port} refused the name {name!r}: {detail}")
        else:
            super().__init__(f"the node at {host}:{port} is {what}")
        self.name = name
        self.host = host
        self.port = port
        self.itself = itself
        """Whether this node's own listener refused the dial (the address is its own)."""
        self.detail = detail
        """The refusing node's reason, as it gave it (empty if it gave none)."""


class SendBufferFull(MailboxFull):
    """``tell`` to a remote actor found the send buffer to its node full (``Overflow.FAIL``).

    ``send`` and ``ask`` wait for room instead.
    """

    def __init__(self, target: str, capacity: int) -> None:
        super().__init__(target, capacity)
        self.args = (f"send buffer to {target} is full ({capacity} messages)",)
