"""``RemoteRef``: a ref to an actor on another node, used exactly like a local one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, overload

from protocol import Message

from .. import ActorRef

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from ..lowlevel import RequestTo
    from ._address import Address
    from ._node import RemoteNode, _Peer

__all__ = ["RemoteRef", "not_a_message"]

M = TypeVar("M", contravariant=True)
Q = TypeVar("Q")
R = TypeVar("R")


class RemoteRef(ActorRef[M]):
    """A ref to an actor on another node; get one from :meth:`RemoteNode.ref`.

    ``tell`` never waits: it encodes the message into the connection's write
    buffer, or, while the connection is full or not up, queues it in the
    bounded send buffer to the node (a full buffer applies the node's overflow
    policy, raising :class:`~actors.remote.SendBufferFull` under
    ``Overflow.FAIL``). ``send`` waits instead, for the connection to drain or
    for room in that buffer; ``ask`` waits for room and then for the reply,
    within ``timeout`` (the deadline travels with the message; see
    :meth:`ActorRef.ask <actors.ActorRef.ask>` for the values it takes).
    Messages from one sender to one remote actor arrive in order.

    Only a :class:`protocol.Message` can travel: ``tell``, ``send`` and
    ``ask`` of anything else (a dict, an int, a str) raise :class:`TypeError`
    at the call, and nothing is sent. A message that fails to encode for
    another reason (a field value msgspec cannot encode, or
    :class:`~protocol.MessageTooLarge`) fails that call alone; the connection
    and the other messages on it are unaffected.
    """

    __slots__ = ("_address", "_node", "_path", "_peer", "_str", "_type")

    def __init__(self, node: RemoteNode, peer: _Peer, address: Address) -> None:
        self._node = node
        self._peer = peer
        self._address = address
        self._path = address.path
        self._str = str(address)
        # The type of the last message checked to be a Message: the check of every
        # tell is then one identity test (isinstance on a Struct type costs more).
        self._type: type = _Unchecked

    @property
    def path(self) -> str:
        return self._address.path

    @property
    def address(self) -> str:
        return self._str

    @property
    def node(self) -> str:
        """The name of the node the actor lives on."""
        return self._address.node

    # tell and send try the connection's fast path first, here (one call fewer for
    # every remote tell); the node's own methods do everything else.

    def tell(self, message: M) -> None:
        if type(message) is not self._type:
            self._type = self._checked(message)
        conn = self._peer.conn
        if conn is None or not conn.tell_now(self._path, message):
            self._node._tell(self._peer, self._path, message, self._str)

    async def send(self, message: M) -> None:
        if type(message) is not self._type:
            self._type = self._checked(message)
        conn = self._peer.conn
        if conn is None or not conn.tell_now(self._path, message):
            await self._node._send(self._peer, self._path, message, self._str)

    @overload
    def ask(
        self: ActorRef[Q], message: RequestTo[Q, R], timeout: float | None = None
    ) -> Coroutine[Any, Any, R]: ...
    @overload
    def ask(self, message: M, timeout: float | None = None) -> Coroutine[Any, Any, Any]: ...
    def ask(self, message: Any, timeout: float | None = None) -> Coroutine[Any, Any, Any]:
        # The node's coroutine itself: one coroutine per ask, not two.
        return self._node._ask(self._peer, self._path, message, timeout, self._str)

    def _checked(self, message: object) -> type:
        """``message``'s type if it is a Message; else the TypeError for it."""
        if not isinstance(message, Message):
            raise not_a_message(message, self._str)
        return type(message)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RemoteRef):
            return self._str == other._str
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._str)


class _Unchecked:
    """No message has been checked yet (never instantiated)."""


def not_a_message(message: object, target: str) -> TypeError:
    """The error for a value that cannot travel to ``target``: it is not a Message."""
    return TypeError(
        f"cannot send {message!r:.100} ({type(message).__qualname__}) to {target}: "
        "only a protocol.Message can travel between nodes"
    )
