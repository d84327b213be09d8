"""The envelope: routing data around an encoded message.

Every frame after the handshake holds one :class:`Envelope`. Its fields say
who sent it, where it goes and how to answer it; its ``payload`` is the
message's own msgpack bytes, kept as :class:`msgspec.Raw`, so a node decodes
the envelope to route it and only the target decodes the message, into a
registered :class:`~protocol.Message` type and nothing else.

A failure inside a remote actor travels back as data, a :class:`RemoteFailure`
(type name, message, traceback text) in an ``ERROR`` envelope: no exception
object is ever rebuilt from the wire.
"""

from __future__ import annotations

import enum
import traceback as tb
from typing import TYPE_CHECKING, Annotated, Final

import msgspec

from ._codec import DECODE_FAILURES, Codec
from ._errors import InvalidMessage, MalformedEnvelope, MalformedMessage

if TYPE_CHECKING:
    from ._message import Message

__all__ = ["Envelope", "EnvelopeCodec", "MessageKind", "RemoteFailure"]

BytesLike = bytes | bytearray | memoryview

NIL: Final = b"\xc0"
"""The msgpack nil: the payload of a ``CANCEL`` envelope."""

_NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
_Seconds = Annotated[float, msgspec.Meta(ge=0.0)]


class MessageKind(enum.IntEnum):
    """What an envelope carries, and so how the receiver handles it."""

    TELL = 0
    """A one-way message; nobody waits for an answer."""
    ASK = 1
    """A request; the receiver answers with ``REPLY`` or ``ERROR`` under the same correlation id."""
    REPLY = 2
    """The answer to an ``ASK``: the payload is the target's reply message."""
    ERROR = 3
    """The answer to an ``ASK`` that failed: the payload is a :class:`RemoteFailure`."""
    CANCEL = 4
    """The asker gave up on the ``ASK`` with this correlation id (it timed out or was
    cancelled): the receiver does not deliver it if it has not yet, and answers nothing.
    The payload is nil; ``target`` and ``sender`` are the ask's."""
    TELLS = 5
    """A run of one-way messages to one target, delivered in order: the payload is a
    msgpack array of messages. A sender batches consecutive tells this way so the
    receiver frames and decodes them once for the whole run."""


class Envelope(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """Routing fields around one encoded message.

    On the wire it is a msgpack array in field order; ``payload`` is embedded
    as the message's own msgpack value, not re-encoded. Decoders ignore
    trailing elements they do not know, so later versions may append fields.
    """

    kind: MessageKind
    """Tell, ask, reply or error."""
    target: str
    """Path of the receiving actor (for a reply: the asker's path, if it had one)."""
    payload: msgspec.Raw
    """The encoded message (for ``ERROR``: an encoded :class:`RemoteFailure`)."""
    sender: str | None = None
    """Path of the sending actor, or ``None`` when sent from outside any actor."""
    correlation_id: _NonNegativeInt = 0
    """Pairs an ask with its answer; chosen by the asker, unique among its pending asks."""
    trace_id: str | None = None
    """Optional id that follows a request through every hop, for logs and traces."""
    timeout: _Seconds | None = None
    """The deadline, as seconds left when the envelope was built, or ``None``.

    Relative, so nodes need no synchronised clocks: the receiver turns it into
    a deadline on its own clock with :meth:`deadline`.
    """

    @classmethod
    def wrap(
        cls,
        payload: bytes | msgspec.Raw,
        *,
        kind: MessageKind,
        target: str,
        sender: str | None = None,
        correlation_id: int = 0,
        trace_id: str | None = None,
        timeout: float | None = None,
    ) -> Envelope:
        """An envelope around an already-encoded message.

        Encode a message once (:meth:`Codec.encode`) and wrap it for as many
        targets as need it. A negative ``timeout`` (a deadline already past)
        is kept as ``0.0``: expired on arrival.
        """
        raw = payload if isinstance(payload, msgspec.Raw) else msgspec.Raw(payload)
        if timeout is not None and timeout < 0.0:
            timeout = 0.0
        return cls(kind, target, raw, sender, correlation_id, trace_id, timeout)

    def deadline(self, received_at: float) -> float | None:
        """The deadline on the receiver's clock, given when it received the envelope."""
        return None if self.timeout is None else received_at + self.timeout


class RemoteFailure(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """An exception raised in a remote actor, as plain data.

    Only text crosses the wire; the receiver reports it (the runtime raises
    its own ``RemoteActorError``) and never rebuilds the original type.
    """

    type_name: str
    """Qualified name of the exception type, e.g. ``"ValueError"`` or ``"app.jobs.Rejected"``."""
    message: str
    """``str()`` of the exception."""
    traceback: str = ""
    """The formatted traceback, as text; empty when the sender chose not to share it."""

    @classmethod
    def from_exception(cls, exc: BaseException, *, include_traceback: bool = True) -> RemoteFailure:
        """Describe ``exc`` as data."""
        exc_type = type(exc)
        module = exc_type.__module__
        name = exc_type.__qualname__
        type_name = name if module == "builtins" else f"{module}.{name}"
        try:
            message = str(exc)
        except Exception:  # a broken __str__ must not hide the failure it describes
            message = f"<unprintable {type_name}>"
        text = "".join(tb.format_exception(exc)) if include_traceback else ""
        return cls(type_name, message, text)


class EnvelopeCodec:
    """Builds, encodes and decodes envelopes; decodes payloads with a :class:`Codec`.

    Like :class:`Codec`, it is meant to be created once per connection (or
    once per node) and reused: it keeps its msgspec encoder and decoders.
    """

    __slots__ = ("_codec", "_decoder", "_encode", "_encode_into", "_failure_decoder")

    def __init__(self, codec: Codec | None = None) -> None:
        self._codec = codec if codec is not None else Codec()
        encoder = msgspec.msgpack.Encoder()
        self._encode = encoder.encode
        self._encode_into = encoder.encode_into
        self._decoder = msgspec.msgpack.Decoder(Envelope)
        self._failure_decoder = msgspec.msgpack.Decoder(RemoteFailure)

    @property
    def codec(self) -> Codec:
        """The codec that encodes and decodes payloads."""
        return self._codec

    # -- building ------------------------------------------------------------

    def tell(
        self,
        message: Message,
        *,
        target: str,
        sender: str | None = None,
        trace_id: str | None = None,
    ) -> Envelope:
        """A ``TELL`` envelope around ``message``."""
        payload = msgspec.Raw(self._codec.encode(message))
        return Envelope(MessageKind.TELL, target, payload, sender, 0, trace_id)

    def tells(
        self,
        messages: list[Message],
        *,
        target: str,
        sender: str | None = None,
        trace_id: str | None = None,
    ) -> Envelope:
        """A ``TELLS`` envelope: ``messages`` for ``target``, in order, in one frame."""
        payload = msgspec.Raw(self._codec.encode_many(messages))
        return Envelope(MessageKind.TELLS, target, payload, sender, 0, trace_id)

    def ask(
        self,
        message: Message,
        *,
        target: str,
        correlation_id: int,
        sender: str | None = None,
        timeout: float | None = None,
        trace_id: str | None = None,
    ) -> Envelope:
        """An ``ASK`` envelope around ``message``; answers carry ``correlation_id``.

        A negative ``timeout`` (a deadline already past) is kept as ``0.0``.
        """
        if timeout is not None and timeout < 0.0:
            timeout = 0.0
        payload = msgspec.Raw(self._codec.encode(message))
        return Envelope(MessageKind.ASK, target, payload, sender, correlation_id, trace_id, timeout)

    def cancel(self, request: Envelope) -> Envelope:
        """The ``CANCEL`` envelope withdrawing the ask ``request`` (payload: nil)."""
        return Envelope(
            MessageKind.CANCEL,
            request.target,
            msgspec.Raw(NIL),
            request.sender,
            request.correlation_id,
            request.trace_id,
        )

    def reply(self, request: Envelope, message: Message) -> Envelope:
        """The ``REPLY`` envelope answering ``request`` with ``message``."""
        return self._answer(request, MessageKind.REPLY, self._codec.encode(message))

    def error(self, request: Envelope, failure: RemoteFailure) -> Envelope:
        """The ``ERROR`` envelope answering ``request`` with ``failure``."""
        return self._answer(request, MessageKind.ERROR, self._encode(failure))

    @staticmethod
    def _answer(request: Envelope, kind: MessageKind, payload: bytes) -> Envelope:
        return Envelope(
            kind,
            request.sender if request.sender is not None else "",
            msgspec.Raw(payload),
            request.target,
            request.correlation_id,
            request.trace_id,
        )

    # -- bytes ---------------------------------------------------------------

    def encode(self, envelope: Envelope) -> bytes:
        """The msgpack bytes of ``envelope`` (the payload is copied in as is)."""
        return self._encode(envelope)

    def encode_into(self, envelope: Envelope, buffer: bytearray, offset: int = -1) -> None:
        """Encode ``envelope`` into ``buffer`` at ``offset`` (``-1``, the default, appends).

        Fits :meth:`FrameWriter.add_encoded`, which frames it without a copy.
        """
        self._encode_into(envelope, buffer, offset)

    def decode(self, data: BytesLike) -> Envelope:
        """Decode a frame's bytes into an envelope, leaving the payload undecoded.

        Raises :class:`MalformedEnvelope` for anything that is not an envelope.
        The payload refers to ``data``'s memory: pass ``bytes`` (as
        :class:`FrameReader` hands out), not a buffer that will be reused.
        """
        try:
            envelope: Envelope = self._decoder.decode(data)
        except DECODE_FAILURES as exc:
            raise MalformedEnvelope(f"not a valid envelope: {exc}") from None
        return envelope

    def decode_payload(self, envelope: Envelope) -> Message:
        """Decode the payload of a ``TELL``, ``ASK`` or ``REPLY`` into its registered type.

        Raises :class:`MalformedMessage`, :class:`UnknownMessageType` or
        :class:`InvalidMessage`, as :meth:`Codec.decode` does.
        """
        return self._codec.decode(memoryview(envelope.payload))

    def decode_payloads(self, envelope: Envelope) -> list[Message]:
        """Decode the payload of a ``TELLS`` envelope: its messages, in order.

        All or nothing: raises :class:`MalformedMessage`,
        :class:`UnknownMessageType` or :class:`InvalidMessage`, as
        :meth:`Codec.decode_many` does.
        """
        return self._codec.decode_many(memoryview(envelope.payload))

    def split_payloads(self, envelope: Envelope) -> list[msgspec.Raw]:
        """The messages of a ``TELLS`` envelope, each still encoded, in order, to be
        decoded one by one with :meth:`Codec.decode` (see :meth:`Codec.split_many`).

        Raises :class:`MalformedMessage` if the payload is not an array.
        """
        return self._codec.split_many(memoryview(envelope.payload))

    def decode_failure(self, envelope: Envelope) -> RemoteFailure:
        """Decode the payload of an ``ERROR`` envelope.

        Raises :class:`MalformedMessage` or :class:`InvalidMessage`.
        """
        try:
            failure: RemoteFailure = self._failure_decoder.decode(envelope.payload)
        except msgspec.ValidationError as exc:
            raise InvalidMessage(f"invalid remote failure: {exc}") from None
        except DECODE_FAILURES as exc:
            raise MalformedMessage(f"malformed remote failure bytes: {exc}") from None
        return failure
