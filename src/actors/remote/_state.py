"""What the parts of a connection share: its state, declared once.

:class:`~actors.remote._connection.Connection` is built from parts, one module
each (reading, delivering, answering, writing). Each part is a class over
:class:`ConnectionState`, which declares every field a connection has (set in
``Connection.__init__``) and, for the type checker, the methods one part calls
on another: the seams between the parts, written down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio
    from collections import deque
    from collections.abc import Coroutine

    from anyio.abc import ByteStream, TaskGroup

    from protocol import Message, RemoteFailure
    from protocol.wire import BatchWriter, FrameSplitter

    from ..lowlevel import ActorCell
    from ._answer import _Answer
    from ._link import NodeLink
    from ._peer import _Out, _Peer
    from ._tcp import TcpStream

__all__ = ["ConnectionState"]


class ConnectionState:
    """The fields of a connection (see ``Connection.__init__`` for what each holds)."""

    node: NodeLink
    peer: _Peer
    stream: ByteStream
    initiator: bool
    sent: dict[int, _Out]
    answering: dict[int, _Answer]
    reason: str | None
    closed: bool
    inflight: int
    loop: asyncio.AbstractEventLoop
    _splitter: FrameSplitter
    _batch: list[Any]
    _frames: list[bytes]
    _at: int
    _run: str | None
    _after: tuple[list[Any], int, list[bytes]] | None
    _out: BatchWriter
    _batch_bytes: int
    _max_frame: int
    _cells: dict[str, ActorCell]
    _tg: TaskGroup | None
    _blocked: Coroutine[Any, Any, None] | None
    _held: tuple[str, object] | None
    _eof_pending: bool
    _room: asyncio.Future[None] | None
    _waiter: asyncio.Future[None] | None
    _push: TcpStream | None
    _turn_pending: bool
    _busy: bool
    _direct: bool
    _burst: bool
    _drain_waiters: list[asyncio.Future[None]]
    _writing: bytearray | None
    _written: deque[bytes | bytearray]
    _written_size: int

    if TYPE_CHECKING:
        # Lifetime (Connection).
        def _end(
            self, reason: str, error: str | None = None, *, bad_input: bool = False
        ) -> None: ...

        # Writing (Outbound).
        def notify(self) -> None: ...

        def _wake(self) -> None: ...

        def _flush(self, push: TcpStream) -> bool: ...

        def _idle_push(self) -> TcpStream | None: ...

        def _write_alone(self, push: TcpStream, frame: bytes) -> None: ...

        def _on_writable(self) -> None: ...

        def _write_loop(self) -> Coroutine[Any, Any, None]: ...

        # Answering (Answering).
        def _arm_deadlines(self) -> None: ...

        def _withdraw(self, cid: int) -> None: ...

        def _release(self, answer: _Answer) -> None: ...

        def _answered(
            self, answer: _Answer, result: object, error: BaseException | None
        ) -> None: ...

        def _ask(
            self,
            target: str,
            message: Message,
            sender: str | None,
            cid: int,
            trace_id: str | None,
            timeout: float | None,
        ) -> Coroutine[Any, Any, None] | None: ...

        def _refuse(
            self, reply_to: str, target: str, cid: int, trace_id: str | None, detail: str
        ) -> None: ...

        def _write_error(self, answer: _Answer, failure: RemoteFailure) -> None: ...

        # Delivering (Inbound).
        def _process(self) -> Coroutine[Any, Any, None] | None: ...

        def _on_reply(self, cid: int, reply: Message) -> None: ...

        def _target(self, target: str) -> ActorCell | None: ...

        def _dead_letter_undelivered(self, reason: str) -> None: ...

        # Reading (Reading).
        def _run_push(self, stream: TcpStream) -> Coroutine[Any, Any, None]: ...

        def _read_loop(self) -> Coroutine[Any, Any, None]: ...

        def _failed(self, exc: Exception) -> None: ...
