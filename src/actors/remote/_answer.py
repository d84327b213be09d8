"""The answer to an ask that came from a peer: a future whose result goes back on the wire.

An incoming ask becomes a :class:`~actors.lowlevel.PendingAsk` whose future is
an :class:`_Answer`: resolving it (the actor loop does, as for a local ask)
writes the answer frame on the connection the ask came in on, so no task
waits per ask. ``None`` travels as :class:`NoReply`; a failure as a
:class:`~protocol.RemoteFailure`, which the asker turns back into
:class:`~actors.ActorStopped` or :class:`~actors.RemoteActorError`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Final

import structlog

from protocol import (
    Message,
    RemoteFailure,
)

from .. import ActorStopped, RemoteActorError

if TYPE_CHECKING:
    from .. import Cancellable
    from ._answering import Answering

logger = structlog.get_logger(__name__)


__all__ = ["STOPPED_TYPE", "NoReply"]

STOPPED_TYPE: Final = "tadpole.ActorStopped"
"""``RemoteFailure.type_name`` for "the target is gone": the asker raises ActorStopped."""


class NoReply(Message, tag="tadpole.none"):
    """Stands for ``None`` as the answer to a remote ask."""


_NO_REPLY: Final = NoReply()
_set_result: Final = asyncio.Future.set_result


class _Answer(asyncio.Future[Any]):
    """The future of an ask that arrived from a peer and waits in a local mailbox.

    The actor loop (or the mailbox closing) resolves it as it would a local
    asker's future; resolving it encodes the answer frame on the connection the
    ask came in on. Nothing awaits it.

    **Withdrawing** it (``cancel()``: the asker sent ``CANCEL``, the connection
    ended, or its deadline passed while the connection could not read) marks
    it done without an answer: the actor loop skips a done ask that is still
    queued, and drops the result of one already running.
    """

    __slots__ = ("cid", "conn", "deadline", "reply_to", "target", "timer", "trace_id")

    # Set by Connection._ask right after construction (no __init__ of its own: one
    # is built per incoming ask, and Future's own, in C, is all it needs).
    conn: Answering
    cid: int
    reply_to: str
    target: str
    trace_id: str | None
    deadline: float | None
    timer: Cancellable | None

    def set_result(self, result: Any) -> None:
        _set_result(self, result)  # Future's own, without building a super() per answer
        self.conn._answered(self, result, None)

    def set_exception(self, exception: type | BaseException) -> None:
        super().set_exception(exception)
        self.exception()  # retrieved: it is reported to the peer, not logged here
        error = exception if isinstance(exception, BaseException) else exception()
        self.conn._answered(self, None, error)

    def cancel(self, msg: Any | None = None) -> bool:
        if not super().cancel(msg):
            return False
        self.conn._release(self)
        self.conn.node.counters.asks_cancelled += 1
        return True

    def expire(self) -> None:
        """Timer callback: the deadline passed on this node; the asker times out on its own."""
        if not self.done():
            super().cancel()
            self.conn._release(self)
            self.conn.node.counters.asks_expired += 1


def _unencodable(result: object) -> RemoteFailure:
    return RemoteFailure(
        "tadpole.UnencodableReply",
        f"the reply is a {type(result).__qualname__}, not a protocol Message; "
        "only Message replies (or None) can travel between nodes",
    )


def _failure_error(target: str, failure: RemoteFailure) -> Exception:
    if failure.type_name == STOPPED_TYPE:
        return ActorStopped(target, f"on its node: {failure.message}")
    return RemoteActorError(failure.type_name, failure.message, failure.traceback)
