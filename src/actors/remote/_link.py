"""What a connection may ask of its node: the :class:`NodeLink` interface.

A :class:`~actors.remote._connection.Connection` never touches
:class:`~actors.remote.RemoteNode`'s own members: it holds a ``NodeLink``,
and that is all it sees of the node. :class:`Link` is the node's side of it:
the state its connections share (counters, codecs, services, the asks being
answered), and the few things a connection hands back to its node (it ended,
its unsent tells, a queued ask it could not encode).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeAlias

from protocol import Codec, EnvelopeCodec, RemoteFailure
from protocol.wire import IncomingDecoder

from ._config import Counters

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from protocol import Message

    from .. import ActorSystem
    from ._config import RemoteConfig
    from ._connection import Connection
    from ._peer import _Out, _Peer

__all__ = ["Link", "NodeLink", "Service"]

Service: TypeAlias = "Callable[[Message, str], Message | None]"
"""A ``/system/...`` handler: ``handler(message, peer)``; its result answers an ask."""


class NodeLink(Protocol):
    """The node, as one of its connections sees it."""

    name: str
    system: ActorSystem
    config: RemoteConfig
    counters: Counters
    envelopes: EnvelopeCodec
    """The two-step (reference) decoder, for precise errors and refused messages."""
    incoming: IncomingDecoder
    """The one-pass decoder of the hot path."""
    services: dict[str, Service]
    accepting: bool
    """Whether messages from peers are delivered (``False`` once the node drains)."""
    now: Callable[[], float]
    """Reads the system's clock."""

    def describe(self, exc: BaseException) -> RemoteFailure:
        """``exc`` as the failure an asker is sent."""
        ...

    def count_close(self, reason: str) -> None:
        """A connection closed for bad input (or a handshake failed) for ``reason``."""
        ...

    def count_refused(self, error: Exception) -> None:
        """A peer's message was refused alone with ``error``."""
        ...

    def ask_started(self) -> None:
        """An ask from a peer is being answered."""
        ...

    def ask_finished(self) -> None:
        """An ask from a peer was answered or withdrawn."""
        ...

    def detach(self, conn: Connection) -> None:
        """``conn`` has ended; the node forgets it (and redials if messages wait)."""
        ...

    def dead_letter_unsent(self, peer: _Peer, data: bytes | bytearray, reason: str) -> None:
        """The tells in ``data`` (whole frames this node built) were never sent."""
        ...

    def reject_item(self, item: _Out, error: Exception) -> None:
        """A queued ask cannot be sent: fail it with ``error``."""
        ...


class Link:
    """The node's side of :class:`NodeLink`: shared state, and callbacks into the node."""

    __slots__ = (
        "_dead_letter_unsent",
        "_detach",
        "_reject_item",
        "accepting",
        "close_reasons",
        "config",
        "counters",
        "envelopes",
        "idle",
        "incoming",
        "inflight",
        "name",
        "now",
        "refused",
        "services",
        "system",
    )

    def __init__(
        self,
        name: str,
        system: ActorSystem,
        config: RemoteConfig,
        *,
        detach: Callable[[Connection], None],
        dead_letter_unsent: Callable[[_Peer, bytes | bytearray, str], None],
        reject_item: Callable[[_Out, Exception], None],
    ) -> None:
        self.name = name
        self.system = system
        self.config = config
        self.counters = Counters()
        self.envelopes = EnvelopeCodec(Codec())
        self.incoming = IncomingDecoder()
        self.services: dict[str, Service] = {}
        self.accepting = True
        self.now: Callable[[], float] = system.clock.now  # the node sets its loop's reader
        self.close_reasons: dict[str, int] = {}
        self.refused: dict[str, int] = {}
        self.inflight = 0
        """Asks from peers being answered, node-wide."""
        self.idle: asyncio.Event | None = None
        """Set when ``inflight`` drops to zero, while the node drains."""
        self._detach = detach
        self._dead_letter_unsent = dead_letter_unsent
        self._reject_item = reject_item

    def describe(self, exc: BaseException) -> RemoteFailure:
        return RemoteFailure.from_exception(exc, include_traceback=self.config.include_traceback)

    def count_close(self, reason: str) -> None:
        self.close_reasons[reason] = self.close_reasons.get(reason, 0) + 1

    def count_refused(self, error: Exception) -> None:
        reason = type(error).__name__
        self.refused[reason] = self.refused.get(reason, 0) + 1

    def ask_started(self) -> None:
        self.inflight += 1

    def ask_finished(self) -> None:
        self.inflight -= 1
        if not self.inflight and self.idle is not None:
            self.idle.set()

    def detach(self, conn: Connection) -> None:
        self._detach(conn)

    def dead_letter_unsent(self, peer: _Peer, data: bytes | bytearray, reason: str) -> None:
        self._dead_letter_unsent(peer, data, reason)

    def reject_item(self, item: _Out, error: Exception) -> None:
        self._reject_item(item, error)
