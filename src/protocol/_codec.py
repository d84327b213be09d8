"""A reusable msgpack encoder/decoder for registered messages.

``Codec`` keeps one :class:`msgspec.msgpack.Encoder` and a decoder over the
tagged union of every registered :class:`~protocol.Message` type. The decoder
is rebuilt only when new types were registered since it was built.

Decoding never trusts the bytes: anything that is not a registered message
raises a :class:`~protocol.RemoteProtocolError` subclass that names the problem.
"""

from __future__ import annotations

from typing import Any, TypeVar, Union

import msgspec

from ._errors import InvalidMessage, MalformedMessage, UnknownMessageType
from ._message import Message, MessageRegistry, registry

__all__ = ["Codec"]

M = TypeVar("M", bound=Message)

DECODE_FAILURES: tuple[type[Exception], ...] = (
    msgspec.DecodeError,  # includes ValidationError
    UnicodeDecodeError,  # a str whose bytes are not UTF-8
    RecursionError,  # nesting deeper than the interpreter allows
)
"""What msgspec raises for bytes that do not decode; decoders of untrusted bytes catch these."""


class Codec:
    """Encode messages to msgpack bytes and decode them back, only into known types."""

    def __init__(self, messages: MessageRegistry = registry) -> None:
        self._registry = messages
        self._encoder = msgspec.msgpack.Encoder()
        # Any: a decoder over the union of every registered type.
        self._decoder: msgspec.msgpack.Decoder[Any] | None = None
        self._decoder_version = -1
        self._many_decoder: msgspec.msgpack.Decoder[Any] | None = None  # list[union]
        self._typed: dict[type[Message], msgspec.msgpack.Decoder[Any]] = {}
        self._elements = msgspec.msgpack.Decoder(list[msgspec.Raw])

    def encode(self, message: Message) -> bytes:
        """The msgpack bytes of ``message``."""
        return self._encoder.encode(message)

    def encode_into(self, message: Message, buffer: bytearray, offset: int = 0) -> None:
        """Encode ``message`` into ``buffer`` at ``offset`` (``-1`` appends)."""
        self._encoder.encode_into(message, buffer, offset)

    def encode_many(self, messages: list[Message]) -> bytes:
        """The msgpack bytes of ``messages``: an array of them, in order."""
        return self._encoder.encode(messages)

    def decode(self, data: bytes | bytearray | memoryview) -> Message:
        """Decode bytes into the registered message type their tag names.

        Raises :class:`MalformedMessage`, :class:`UnknownMessageType` or
        :class:`InvalidMessage`; never anything else for bad bytes.
        """
        decoder = self._decoder
        if decoder is None or self._decoder_version != self._registry.version:
            decoder = self._rebuild()
        try:
            message: Message = decoder.decode(data)
        except msgspec.ValidationError as exc:
            raise self._explain(data, exc) from None
        except DECODE_FAILURES as exc:
            raise MalformedMessage(f"malformed message bytes: {exc}") from None
        return message

    def decode_many(self, data: bytes | bytearray | memoryview) -> list[Message]:
        """Decode a msgpack array of registered messages, all or nothing.

        Raises what :meth:`decode` raises, naming the first element that is not
        a registered message, or :class:`MalformedMessage` if ``data`` is not an
        array.
        """
        if self._decoder is None or self._decoder_version != self._registry.version:
            self._rebuild()
        decoder = self._many_decoder
        assert decoder is not None
        try:
            messages: list[Message] = decoder.decode(data)
        except msgspec.ValidationError as exc:
            raise self._explain_many(data, exc) from None
        except DECODE_FAILURES as exc:
            raise MalformedMessage(f"malformed message bytes: {exc}") from None
        return messages

    def split_many(self, data: bytes | bytearray | memoryview) -> list[msgspec.Raw]:
        """The elements of a msgpack array, each still encoded, in order.

        For a receiver that decodes the messages of an array one by one (with
        :meth:`decode`), refusing a bad one and keeping the others. Raises
        :class:`MalformedMessage` if ``data`` is not an array.
        """
        try:
            elements: list[msgspec.Raw] = self._elements.decode(data)
        except DECODE_FAILURES as exc:
            raise MalformedMessage(f"not an array of messages: {exc}") from None
        return elements

    def decode_as(self, data: bytes | bytearray | memoryview, message_type: type[M]) -> M:
        """Decode bytes that must hold a ``message_type``."""
        decoder = self._typed.get(message_type)
        if decoder is None:
            decoder = self._typed[message_type] = msgspec.msgpack.Decoder(message_type)
        try:
            message: M = decoder.decode(data)
        except msgspec.ValidationError as exc:
            raise InvalidMessage(f"expected a {message_type.__qualname__} message: {exc}") from None
        except DECODE_FAILURES as exc:
            raise MalformedMessage(f"malformed message bytes: {exc}") from None
        return message

    def _rebuild(self) -> msgspec.msgpack.Decoder[Any]:
        """Both decoders (one message, an array of them) over the registered types."""
        version = self._registry.version
        types = self._registry.types()
        if not types:
            raise UnknownMessageType("<none registered>")
        union: Any = Union[types]  # noqa: UP007 - a runtime union over a tuple of types
        decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(union)
        self._many_decoder = msgspec.msgpack.Decoder(list[union])
        self._decoder, self._decoder_version = decoder, version
        return decoder

    def _explain_many(self, data: bytes | bytearray | memoryview, exc: Exception) -> Exception:
        """Name the first element of an array of messages that does not decode."""
        try:
            # Any: the raw shape of untrusted bytes, inspected only to find the bad element.
            raw: Any = msgspec.msgpack.decode(data)
        except DECODE_FAILURES as decode_exc:
            return MalformedMessage(f"malformed message bytes: {decode_exc}")
        if not isinstance(raw, list):
            return MalformedMessage(f"not an array of messages: {exc}")
        for index, element in enumerate(raw):
            try:
                self.decode(msgspec.msgpack.encode(element))
            except UnknownMessageType as element_exc:
                return element_exc  # the tag says it all
            except (InvalidMessage, MalformedMessage) as element_exc:
                return type(element_exc)(f"message {index} of {len(raw)}: {element_exc}")
        return InvalidMessage(f"invalid array of messages: {exc}")

    def _explain(self, data: bytes | bytearray | memoryview, exc: Exception) -> Exception:
        """Tell an unknown tag apart from fields that do not validate."""
        try:
            # Any: the raw shape of untrusted bytes, inspected only for its tag.
            raw: Any = msgspec.msgpack.decode(data)
        except DECODE_FAILURES as decode_exc:
            return MalformedMessage(f"malformed message bytes: {decode_exc}")
        if isinstance(raw, list) and raw:
            tag = raw[0]
            if not isinstance(tag, str) or tag not in self._registry:
                return UnknownMessageType(tag)
            return InvalidMessage(f"invalid {tag!r} message: {exc}")
        return MalformedMessage(f"not a tagged message (expected a tagged array): {exc}")
