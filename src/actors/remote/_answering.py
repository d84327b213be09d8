"""Asks that came in from a peer: delivering them, and writing their answers.

No timer per ask: the asker's own timer fails it and sends ``CANCEL``, which
withdraws it here; while reading is paused (no ``CANCEL`` can be read) each
waiting ask's own deadline is armed instead (:meth:`Answering._arm_deadlines`).
At most ``RemoteConfig.max_inflight_asks`` of one connection are answered at
once; one more makes the reader wait.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import structlog

from protocol import (
    Message,
    MessageTooLarge,
    RemoteFailure,
)

from .. import ActorNotFound, ActorStopped, AskTimeout
from ..lowlevel import PendingAsk, next_correlation_id
from ._answer import STOPPED_TYPE, NoReply, _Answer, _unencodable
from ._state import ConnectionState

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from ..lowlevel import ActorCell

logger = structlog.get_logger(__name__)


__all__ = ["Answering"]

_NO_REPLY: Final = NoReply()


class Answering(ConnectionState):
    """Answering incoming asks (a part of :class:`~actors.remote._connection.Connection`)."""

    # -- answering asks that came in -------------------------------------------

    def _release(self, answer: _Answer) -> None:
        """``answer`` is done (answered or withdrawn): forget it, free its slot."""
        timer = answer.timer
        if timer is not None:
            timer.cancel()
        answering = self.answering
        if answering.get(answer.cid) is answer:
            del answering[answer.cid]
        self.inflight -= 1
        self.node.ask_finished()
        room = self._room
        if room is not None:
            self._room = None
            if not room.done():
                room.set_result(None)

    def _withdraw(self, cid: int) -> None:
        """The peer sent ``CANCEL`` for ``cid``: do not deliver it, send no answer."""
        answer = self.answering.get(cid)
        if answer is not None:
            answer.cancel()

    def _arm_deadlines(self) -> None:
        """Reading stops, so no ``CANCEL`` can arrive: let each waiting ask's own
        deadline withdraw it instead."""
        clock = self.node.system.clock
        now = clock.now()
        expired = []
        for answer in self.answering.values():
            deadline = answer.deadline
            if deadline is None or answer.timer is not None:
                continue
            if deadline <= now:
                expired.append(answer)
            else:
                answer.timer = clock.call_later(deadline - now, answer.expire)
        for answer in expired:
            answer.expire()

    def _answered(self, answer: _Answer, result: object, error: BaseException | None) -> None:
        """An :class:`_Answer` was resolved: send the answer, then forget the ask (the
        asker waits for the former, not the latter)."""
        try:
            if self.closed:
                return
            try:
                if error is not None:
                    self._fail(answer, error)
                    return
                if result is None:
                    result = _NO_REPLY
                if not isinstance(result, Message):
                    self._write_error(answer, _unencodable(result))
                    return
                target, cid, trace_id = answer.target, answer.cid, answer.trace_id
                push = self._idle_push()
                if push is not None:  # the answer of a round trip: its frame alone, now
                    frame = self._out.reply_frame(answer.reply_to, result, target, cid, trace_id)
                    self._write_alone(push, frame)
                    return
                self._out.reply(answer.reply_to, result, target, cid, trace_id)
                self.notify()
            except MessageTooLarge as exc:
                failure = RemoteFailure.from_exception(exc, include_traceback=False)
                self._write_error(answer, failure)
            except Exception as exc:  # an answer that cannot be encoded must not hurt the actor
                self._fail(answer, exc)
        finally:
            self._release(answer)

    def _fail(self, answer: _Answer, error: BaseException) -> None:
        node = self.node
        if isinstance(error, AskTimeout):
            deadline = answer.deadline
            if deadline is not None and node.system.clock.now() >= deadline:
                node.counters.asks_expired += 1
                return  # the asker times out on its own clock
            failure = node.describe(error)
        elif isinstance(error, ActorStopped):
            failure = RemoteFailure(STOPPED_TYPE, str(error))
        else:
            failure = node.describe(error)
        self._write_error(answer, failure)

    def _write_error(self, answer: _Answer, failure: RemoteFailure) -> None:
        self._out.error(answer.reply_to, failure, answer.target, answer.cid, answer.trace_id)
        self.notify()

    def _refuse(
        self, reply_to: str, target: str, cid: int, trace_id: str | None, detail: str
    ) -> None:
        """Answer an ask that cannot be delivered: the asker raises ActorStopped."""
        failure = RemoteFailure(STOPPED_TYPE, detail)
        self._out.error(reply_to, failure, target, cid, trace_id)
        self.notify()

    def _ask(
        self,
        target: str,
        message: Message,
        sender: str | None,
        cid: int,
        trace_id: str | None,
        timeout: float | None,
    ) -> Coroutine[Any, Any, None] | None:
        node = self.node
        if timeout is not None and timeout <= 0.0:
            node.counters.asks_expired += 1
            return None  # expired in transit: not delivered; the asker's own timer answers
        reply_to = sender if sender is not None else ""
        service = node.services.get(target)
        cell = None
        if service is None:
            if not node.accepting:
                detail = f"node {node.name} is shutting down"
                self._refuse(reply_to, target, cid, trace_id, detail)
                return None
            cell = self._cells.get(target)
            if cell is None:
                cell = self._target(target)
            if cell is None:
                self._refuse(reply_to, target, cid, trace_id, str(ActorNotFound(target)))
                return None
        answer = _Answer(loop=self.loop)
        answer.conn = self
        answer.cid = cid
        answer.reply_to = reply_to
        answer.target = target
        answer.trace_id = trace_id
        answer.deadline = None if timeout is None else node.now() + timeout
        answer.timer = None
        self.inflight += 1
        node.ask_started()  # node-wide; _release counts it back
        if cell is None:
            assert service is not None
            try:
                result = service(message, self.peer.name)
            except Exception as exc:
                answer.set_exception(exc)
            else:
                answer.set_result(result)
            return None
        self.answering[cid] = answer
        if self.inflight > node.config.max_inflight_asks:
            return self._ask_when_room(cell, message, answer)
        # _deliver_ask, inlined: every incoming ask.
        pending = PendingAsk(message, answer, next_correlation_id(node.system), target, timeout)
        if cell.offer(pending):
            return None
        return self._deliver_ask_again(cell, pending)

    def _deliver_ask(
        self, cell: ActorCell, message: Message, answer: _Answer, timeout: float | None
    ) -> Coroutine[Any, Any, None] | None:
        # No timer per ask: the asker's own timer fails it and sends CANCEL, which
        # withdraws it here; while reading is paused (no CANCEL can be read) the
        # deadlines are armed instead (_arm_deadlines).
        system = self.node.system
        pending = PendingAsk(message, answer, next_correlation_id(system), cell.path, timeout)
        if cell.offer(pending):
            return None
        return self._deliver_ask_again(cell, pending)

    def _deliver_ask_again(
        self, cell: ActorCell, pending: PendingAsk
    ) -> Coroutine[Any, Any, None] | None:
        """The mailbox refused ``pending``: the actor at its path changed, or it must wait."""
        current = self._target(cell.path)
        if current is not None and current is not cell:
            # The remembered cell stopped and another actor took its path.
            cell = current
            if cell.offer(pending):
                return None
        return self._deliver_ask_waiting(cell, pending)

    async def _deliver_ask_waiting(self, cell: ActorCell, pending: PendingAsk) -> None:
        try:
            await cell.deliver_ask(pending)
        except ActorStopped as exc:
            if not pending.future.done():
                pending.future.set_exception(exc)

    async def _ask_when_room(self, cell: ActorCell, message: Message, answer: _Answer) -> None:
        """Too many asks of this connection are being answered: wait for one to finish."""
        while self.inflight > self.node.config.max_inflight_asks:
            room = self._room = self.loop.create_future()
            await room
        if answer.done():
            return  # withdrawn while waiting
        timeout = None
        if answer.deadline is not None:
            timeout = answer.deadline - self.node.system.clock.now()
            if timeout <= 0.0:
                answer.set_exception(AskTimeout(cell.path, type(message).__qualname__, 0.0))
                return
        blocked = self._deliver_ask(cell, message, answer, timeout)
        if blocked is not None:
            await blocked
