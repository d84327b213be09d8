"""Delivering what a peer sent: frames decoded a batch at a time, straight into mailboxes.

Frames are decoded (envelope and message in one pass, see
:class:`protocol.wire.IncomingDecoder`; a ``TELLS`` frame, a run of tells to
one target, in one call) and delivered straight into the target's mailbox
with ``offer``/``offer_many``: no task, no ``await`` per message. Only when a
mailbox is full does delivery return a coroutine that waits for room; the
rest of the batch, and the frames after it, wait until it is done, so frames
keep their order. If the connection ends abruptly meanwhile, every tell
received whole and not delivered is dead-lettered (:meth:`Inbound._undelivered`).

A message in a well-formed envelope that does not decode (an unknown tag,
fields that do not validate) is refused alone (:meth:`Inbound._refuse_message`).
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Final

import structlog

from protocol import (
    Message,
    RemoteFailure,
    RemoteProtocolError,
)
from protocol.wire import (
    DECODE_FAILURES,
    IncomingDecoder,
    is_run_frame,
)

from ..lowlevel import cell_at
from ._answer import NoReply, _failure_error
from ._kinds import _ASK, _CANCEL, _ERROR, _REPLY, _TELL, _TELLS
from ._state import ConnectionState

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterator

    import msgspec

    from protocol import Envelope

    from ..lowlevel import ActorCell

logger = structlog.get_logger(__name__)


__all__ = ["Inbound"]

_BATCH: Final = 1024
"""Frames taken from the stream and decoded at once (bounds what is decoded ahead)."""
_RUN_MIN: Final = 16
"""Batches from this size on are checked for being tells to one target."""
_TARGET_OF: Final = operator.attrgetter("target")
_KIND_OF: Final = operator.attrgetter("kind")
_PAYLOAD_OF: Final = operator.attrgetter("payload")
_CACHE_LIMIT: Final = 4096  # paths whose cells a connection remembers


class Inbound(ConnectionState):
    """Delivering (a part of :class:`~actors.remote._connection.Connection`)."""

    def _process(self) -> Coroutine[Any, Any, None] | None:
        """Deliver every complete frame; a coroutine to await if one must wait for room.

        Frames are taken and decoded a batch at a time (see :meth:`_load`). That
        coroutine finishes delivering its message; the rest of the batch waits
        in ``_batch``, and the frames after it in the splitter, until it has.
        """
        node = self.node
        incoming = node.incoming
        incoming.refresh()
        splitter = self._splitter
        drained = False  # the splitter has no complete frame left
        cells = self._cells
        stats = node.counters
        while True:
            batch = self._batch
            at = self._at
            if at >= len(batch):
                after = self._after
                if after is not None:  # a run of tells is over: back to its batch
                    self._after = None
                    self._run = None
                    self._batch, self._at, self._frames = after
                    continue
                frames = None if drained else splitter.take(_BATCH)
                if not frames:
                    if batch:
                        self._batch = self._frames = []
                        self._at = 0
                    return None
                drained = splitter.drained
                batch = self._load(frames, incoming)
                at = 0
                if not batch:
                    continue  # a lone TELLS frame with no message in it
            target = self._run
            if target is not None:
                # Tells to one target: into its mailbox all at once, if there is room.
                cell = cells.get(target)
                if cell is not None and node.accepting:
                    count = cell.offer_many(batch, at)
                    if count:
                        stats.messages_received += count
                        at = self._at = at + count
                        if at >= len(batch):
                            continue
                stats.messages_received += 1
                self._at = at + 1
                blocked = self._tell(target, batch[at])
                if blocked is not None:
                    return blocked
                continue
            envelope = batch[at]
            self._at = at + 1
            if type(envelope) is bytes:
                blocked = self._process_slowly(envelope)
            else:
                kind = envelope.kind
                if kind is _TELL:
                    stats.messages_received += 1
                    cell = cells.get(envelope.target)
                    if cell is not None and node.accepting and cell.offer(envelope.payload):
                        continue
                    blocked = self._tell(envelope.target, envelope.payload)
                elif kind is _TELLS:
                    if type(envelope.payload) is list:  # decoded as a run
                        self._enter_run(envelope.target, envelope.payload)
                        continue
                    # One message where an array of them belongs (the one-message
                    # decoder took it): only the two-step decode can say what it is.
                    blocked = self._process_slowly(self._frames[at])
                elif kind is _ASK:
                    stats.messages_received += 1
                    blocked = self._ask(
                        envelope.target,
                        envelope.payload,
                        envelope.sender,
                        envelope.correlation_id,
                        envelope.trace_id,
                        envelope.timeout,
                    )
                elif kind is _REPLY:
                    self._on_reply(envelope.correlation_id, envelope.payload)
                    blocked = None
                else:
                    blocked = self._process_slowly(self._frames[at])
            if blocked is not None:
                return blocked

    def _load(self, frames: list[bytes], incoming: IncomingDecoder) -> list[Any]:
        """Decode ``frames`` into ``_batch``: one msgspec call per frame and no
        Python code between them. A batch of tells to one target becomes the list
        of their messages (``_run`` is the target): one ``TELLS`` frame (the
        usual batch of a busy sender), or enough ``TELL`` frames. Otherwise it
        holds each frame's decoded envelope, or the frame itself where only the
        two-step decode can tell what it is (decoding has no effect, so decoding
        ahead of delivery changes nothing)."""
        self._run = None
        batch: list[Any]
        first = frames[0]
        if len(frames) == 1 and is_run_frame(first):
            try:
                run = incoming.decode_run(first)
            except DECODE_FAILURES:
                batch = frames
            else:
                batch = run.payload
                self._run = run.target
        else:
            try:
                batch = list(map(incoming.decode, frames))
            except DECODE_FAILURES:
                batch = [_decode_or_keep(incoming, frame) for frame in frames]
            else:
                count = len(batch)
                if count >= _RUN_MIN:
                    targets = list(map(_TARGET_OF, batch))
                    first_target = targets[0]
                    if (
                        targets.count(first_target) == count
                        and list(map(_KIND_OF, batch)).count(_TELL) == count
                    ):
                        batch = list(map(_PAYLOAD_OF, batch))
                        self._run = first_target
        self._batch = batch
        self._frames = frames
        self._at = 0
        return batch

    def _enter_run(self, target: str, messages: list[Message]) -> None:
        """Deliver a ``TELLS`` frame's messages next, then the rest of this batch."""
        self._after = (self._batch, self._at, self._frames)
        self._batch = messages
        self._at = 0
        self._run = target

    def _process_slowly(self, frame: bytes) -> Coroutine[Any, Any, None] | None:
        """The two-step decode: precise errors for bad bytes, and ``ERROR`` answers."""
        envelopes = self.node.envelopes
        envelope = envelopes.decode(frame)  # not an envelope: the connection closes
        kind = envelope.kind
        if kind is _TELLS:
            self._enter_run(envelope.target, self._decode_run(envelope))
            return None
        if kind is _TELL or kind is _ASK:
            try:
                message = envelopes.decode_payload(envelope)
            except RemoteProtocolError as exc:
                self._refuse_message(envelope, exc)
                return None
            self.node.counters.messages_received += 1
            if kind is _TELL:
                return self._tell(envelope.target, message)
            return self._ask(
                envelope.target,
                message,
                envelope.sender,
                envelope.correlation_id,
                envelope.trace_id,
                envelope.timeout,
            )
        if kind is _CANCEL:
            self._withdraw(envelope.correlation_id)
            return None
        item = self.sent.pop(envelope.correlation_id, None)
        if item is None:
            self.node.counters.late_answers += 1
            return None  # the ask timed out meanwhile; its answer has nobody to go to
        future = item.future
        assert future is not None
        try:
            if kind is _REPLY:
                reply = envelopes.decode_payload(envelope)
                if not future.done():
                    future.set_result(None if type(reply) is NoReply else reply)
            elif kind is _ERROR:
                failure = envelopes.decode_failure(envelope)
                if not future.done():
                    future.set_exception(_failure_error(item.label, failure))
        except RemoteProtocolError as exc:
            # An answer that does not decode fails its ask alone.
            self.node.count_refused(exc)
            if not future.done():
                future.set_exception(exc)
        return None

    def _decode_run(self, envelope: Envelope) -> list[Message]:
        """The messages of a ``TELLS`` envelope the fast decoder refused: each one
        that decodes, in order; each one that does not is refused alone."""
        envelopes = self.node.envelopes
        try:
            elements = envelopes.split_payloads(envelope)
        except RemoteProtocolError as exc:  # the payload is not an array: one bad message
            self._refuse_message(envelope, exc)
            return []
        decode = envelopes.codec.decode
        messages: list[Message] = []
        for element in elements:
            try:
                messages.append(decode(memoryview(element)))
            except RemoteProtocolError as exc:
                self._refuse_message(envelope, exc, element)
        return messages

    def _refuse_message(
        self, envelope: Envelope, error: RemoteProtocolError, data: msgspec.Raw | None = None
    ) -> None:
        """A message in a well-formed envelope does not decode (an unknown tag,
        fields that do not validate): refuse it alone and keep the connection. An
        ask is answered with the error (naming the tag), a tell becomes a dead
        letter (its bytes) with the error as its reason; both are counted by
        error class."""
        node = self.node
        node.count_refused(error)
        logger.warning(
            "message_refused",
            peer=self.peer.name,
            actor=envelope.target,
            reason=type(error).__name__,
            error=str(error),
        )
        if envelope.kind is _ASK:
            failure = RemoteFailure.from_exception(error, include_traceback=False)
            reply_to = envelope.sender if envelope.sender is not None else ""
            self._out.error(
                reply_to, failure, envelope.target, envelope.correlation_id, envelope.trace_id
            )
            self.notify()
            return
        reason = f"refused from node {self.peer.name}: {error}"
        # The message as it came: its bytes (``data``: one message of a run).
        message = bytes(data if data is not None else envelope.payload)
        node.system.dead_letters.publish(envelope.target, message, reason)

    def _on_reply(self, cid: int, reply: Message) -> None:
        item = self.sent.pop(cid, None)
        if item is None:
            self.node.counters.late_answers += 1
            return  # the ask timed out meanwhile; its answer has nobody to go to
        future = item.future
        if future is not None and not future.done():
            future.set_result(None if type(reply) is NoReply else reply)

    def _target(self, target: str) -> ActorCell | None:
        cell = cell_at(self.node.system, target)
        if cell is not None:
            cells = self._cells
            if len(cells) >= _CACHE_LIMIT:
                cells.clear()
            cells[target] = cell
        return cell

    def _tell(self, target: str, message: Message) -> Coroutine[Any, Any, None] | None:
        node = self.node
        service = node.services.get(target)
        if service is not None:
            service(message, self.peer.name)
            return None
        system = node.system
        if not node.accepting:
            system.dead_letters.publish(target, message, "node is shutting down")
            return None
        cell = self._target(target)
        if cell is None:
            system.dead_letters.publish(target, message, "no actor at this path")
            return None
        if cell.offer(message):
            return None
        self._held = (target, message)
        return self._deliver_held(cell, message)

    async def _deliver_held(self, cell: ActorCell, message: Message) -> None:
        # Full (waits for room), stopped or refused by a delivery filter (dead letters).
        await cell.deliver_wait_quietly(message)
        self._held = None

    def _dead_letter_undelivered(self, reason: str) -> None:
        """Dead-letter every tell received whole and not delivered: the one waiting
        for room, the rest of the decoded batch (and of the batch around a run), the
        complete frames still in the splitter."""
        publish = self.node.system.dead_letters.publish
        why = f"connection from {self.peer.name} ended before delivery ({reason})"
        count = 0
        for target, message in self._undelivered():
            publish(target, message, why)
            count += 1
        if count:
            self.node.counters.tells_undelivered += count
            logger.warning("tells_undelivered", peer=self.peer.name, count=count, reason=reason)

    def _undelivered(self) -> Iterator[tuple[str, object]]:
        held, self._held = self._held, None
        if held is not None:
            yield held
        batches = [(self._batch, self._at, self._frames, self._run)]
        if self._after is not None:
            batch, at, frames = self._after
            batches.append((batch, at, frames, None))
        for batch, at, frames, run in batches:
            for index in range(at, len(batch)):
                item = batch[index]
                if run is not None:
                    yield run, item
                elif type(item) is bytes:
                    yield from self._tells_in(item)
                elif item.kind is _TELL:
                    yield item.target, item.payload
                elif item.kind is _TELLS:
                    if type(item.payload) is list:
                        for message in item.payload:
                            yield item.target, message
                    else:
                        yield from self._tells_in(frames[index])
        while True:
            try:
                frames = self._splitter.take(_BATCH)
            except RemoteProtocolError:
                return  # a bad header: nothing after it was received whole
            if not frames:
                return
            for frame in frames:
                yield from self._tells_in(frame)

    def _tells_in(self, frame: bytes) -> list[tuple[str, object]]:
        """The tells of one received frame (two-step decode); a message that does
        not decode as its bytes; nothing for a frame that is no envelope."""
        envelopes = self.node.envelopes
        try:
            envelope = envelopes.decode(frame)
        except RemoteProtocolError:
            return []
        if envelope.kind is _TELL:
            elements = [envelope.payload]
        elif envelope.kind is _TELLS:
            try:
                elements = envelopes.split_payloads(envelope)
            except RemoteProtocolError:
                return [(envelope.target, bytes(envelope.payload))]
        else:
            return []
        decode = envelopes.codec.decode
        tells: list[tuple[str, object]] = []
        for element in elements:
            try:
                tells.append((envelope.target, decode(memoryview(element))))
            except RemoteProtocolError:
                tells.append((envelope.target, bytes(element)))
        return tells


def _decode_or_keep(incoming: IncomingDecoder, frame: bytes) -> Any:
    decode = incoming.decode_run if is_run_frame(frame) else incoming.decode
    try:
        return decode(frame)
    except DECODE_FAILURES:
        return frame
