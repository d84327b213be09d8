"""One established connection to a peer node: frames in, frames out.

A connection is made of its parts, one module each: :class:`~._reading.Reading`
(the stream's events), :class:`~._inbound.Inbound` (decoding and delivering),
:class:`~._answering.Answering` (asks that came in), :class:`~._outbound.Outbound`
(the write buffer and the writes). This module holds its lifetime: it runs
until the stream ends or it is closed, then fails the asks it carried and
dead-letters the tells it could neither send nor deliver. It sees its node only
through :class:`~._link.NodeLink`.

Any :class:`~protocol.RemoteProtocolError` from the peer's bytes closes this
connection with the error's class name as the reason; nothing else is affected.
Except a message in a well-formed envelope that does not decode (an unknown tag,
fields that do not validate): that message alone is refused and the connection
stays. Anything else raised while handling the peer's input closes the
connection as ``internal_error``: no peer's bytes end the node.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

import anyio
import structlog

from protocol.wire import (
    BatchWriter,
    FrameSplitter,
)

from ._answer import NoReply
from ._answering import Answering
from ._errors import ConnectionLost
from ._inbound import Inbound
from ._outbound import _STREAM_GONE, Outbound
from ._reading import Reading
from ._tcp import TcpStream

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from anyio.abc import ByteStream, TaskGroup

    from protocol import FrameReader

    from ..lowlevel import ActorCell
    from ._answer import _Answer
    from ._link import NodeLink
    from ._peer import _Out, _Peer

logger = structlog.get_logger(__name__)


__all__ = ["_STREAM_GONE", "Connection", "NoReply"]


class Connection(Reading, Inbound, Answering, Outbound):
    """An established, authenticated connection to ``peer``."""

    def __init__(
        self,
        node: NodeLink,
        peer: _Peer,
        stream: ByteStream,
        reader: FrameReader,
        *,
        initiator: bool,
    ) -> None:
        self.node = node
        self.peer = peer
        self.stream = stream
        self.initiator = initiator
        self.sent: dict[int, _Out] = {}
        self.answering: dict[int, _Answer] = {}
        """Asks from the peer not yet answered, by correlation id (for ``CANCEL``)."""
        self.reason: str | None = None
        self.closed = False
        self.inflight = 0
        self.loop = asyncio.get_running_loop()
        self._splitter = FrameSplitter(reader)
        # Reading: the decoded batch being delivered, from index ``_at`` on (see _load).
        self._batch: list[Any] = []
        self._frames: list[bytes] = []
        self._at = 0
        self._run: str | None = None
        # Reading: the batch (with its position and frames) to go back to after the
        # run of tells it held, being delivered now (see _enter_run).
        self._after: tuple[list[Any], int, list[bytes]] | None = None
        self._out = BatchWriter(max_frame_size=node.config.max_frame_size)
        self._batch_bytes = node.config.batch_bytes
        self._max_frame = node.config.max_frame_size
        self._cells: dict[str, ActorCell] = {}
        self._tg: TaskGroup | None = None
        # Reading: a coroutine that waits for room for the frame being delivered.
        self._blocked: Coroutine[Any, Any, None] | None = None
        # Reading: the tell that coroutine (or the one the reader task awaits) delivers,
        # until it is in the mailbox: dead-lettered if the connection ends first.
        self._held: tuple[str, object] | None = None
        self._eof_pending = False
        self._room: asyncio.Future[None] | None = None
        # Writing: the writer task's (or the push loop's) wake-up.
        self._waiter: asyncio.Future[None] | None = None
        self._push: TcpStream | None = None
        self._turn_pending = False
        self._busy = False
        # Writing (push streams): a message was written at once since the last turn
        # boundary seen (data read, or _turn_end ran); the next one waits for _turn_end.
        self._direct = False
        # Writing (push streams): this turn has had more than one message.
        self._burst = False
        # Writing (push streams): senders waiting for a full transport to drain.
        self._drain_waiters: list[asyncio.Future[None]] = []
        # Writing (writer task): the batch being handed to the stream, until it took it.
        self._writing: bytearray | None = None
        # Writing (push streams): the last writes, while the transport has not handed
        # them all to the kernel (see _wrote), and their size in bytes.
        self._written: deque[bytes | bytearray] = deque()
        self._written_size = 0

    def __repr__(self) -> str:
        return f"<Connection to {self.peer.name} {'out' if self.initiator else 'in'}>"

    # -- lifetime --------------------------------------------------------------

    async def run(self) -> None:
        """Read and write until the connection ends; then fail the asks it carried."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                if isinstance(self.stream, TcpStream):
                    await self._run_push(self.stream)
                else:
                    tg.start_soon(self._write_loop)
                    await self._read_loop()
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._finish()

    def close(self, reason: str) -> None:
        """Close from this side (replaced, node stopping)."""
        if self.reason is None:
            self.reason = reason
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    def _end(self, reason: str, error: str | None = None, *, bad_input: bool = False) -> None:
        if self.reason is None:
            self.reason = reason
            if bad_input:
                self.node.count_close(reason)
                logger.warning("connection_closed", peer=self.peer.name, reason=reason, error=error)
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    async def _finish(self) -> None:
        self.closed = True
        reason = self.reason or "closed"
        self.reason = reason
        sent, self.sent = self.sent, {}
        for item in sent.values():
            future = item.future
            if future is not None and not future.done():
                future.set_exception(ConnectionLost(item.label, reason))
        # The peer's asks can no longer be answered and their askers have failed
        # with ConnectionLost: withdraw the ones not delivered yet.
        for answer in list(self.answering.values()):
            answer.cancel()
        # Tells written and still in the transport's buffer (push streams), taken for
        # a write that never completed (writer task), then those still in the write
        # buffer: never handed to the kernel, so never delivered; dead-lettered.
        try:
            self._dead_letter_unsent(reason)
        except Exception as exc:  # a dead-letter subscriber's error must not stop the close
            logger.error("dead_letters_failed", peer=self.peer.name, error=repr(exc))
        self._out.clear()
        self._wake_drain_waiters()  # they queue in the send buffer instead
        blocked, self._blocked = self._blocked, None
        if blocked is not None:
            blocked.close()  # its tell was not delivered: _held still names it
        # Received whole, never delivered (an abrupt end: a clean close delivers all
        # first): each tell dead-lettered; asks and answers were failed above.
        try:
            self._dead_letter_undelivered(reason)
        except Exception as exc:  # a dead-letter subscriber's error must not stop the close
            logger.error("dead_letters_failed", peer=self.peer.name, error=repr(exc))
        self._batch = self._frames = []
        self._after = None
        await anyio.aclose_forcefully(self.stream)
        self.node.detach(self)
