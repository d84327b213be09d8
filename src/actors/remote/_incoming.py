"""Decoding an incoming envelope and its message in one pass.

:class:`protocol.EnvelopeCodec` decodes a frame in two steps: the envelope,
keeping the payload raw, then the payload into its registered type. That is
the right shape for the protocol (a node can route without decoding), but on
the receiving node's hot path every message is decoded anyway, so
:class:`IncomingDecoder` does both with one msgspec call: the envelope's
fields, with ``payload`` typed as the union of every registered
:class:`~protocol.Message` type. Same wire format, same validation.

It is only a fast path: bytes it refuses (anything malformed, an unknown tag,
an ``ERROR`` envelope whose payload is a ``RemoteFailure``) are decoded again
by the two-step codec, which raises the precise
:class:`~protocol.RemoteProtocolError` or handles them. Nothing is rebuilt
but the registered types; no pickle.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Union

import msgspec

from protocol import MessageKind, registry

__all__ = ["IncomingDecoder"]

DECODE_FAILURES: Final = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
"""What msgspec raises for bytes that do not decode (``ValidationError`` included)."""

_NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
_Seconds = Annotated[float, msgspec.Meta(ge=0.0)]


class IncomingDecoder:
    """One-pass decoder of envelopes whose payload is a registered message.

    ``decode(frame)`` returns a struct with the :class:`~protocol.Envelope`
    fields (``kind``, ``target``, ``payload`` — the decoded message —,
    ``sender``, ``correlation_id``, ``trace_id``, ``timeout``) and raises one of
    :data:`DECODE_FAILURES` for anything else. Rebuilt when message types are
    registered after it was built (:meth:`refresh`).
    """

    __slots__ = ("_version", "decode")

    def __init__(self) -> None:
        self._version = -1
        # Any: decodes into a struct type built at runtime over the registered types.
        self.decode: Any = None
        self.refresh()

    def refresh(self) -> None:
        """Rebuild if message types were registered since the last build (cheap check)."""
        if self._version == registry.version:
            return
        types = registry.types()
        if not types:
            self.decode = _refuse
            self._version = registry.version
            return
        payload: Any = Union[types]  # noqa: UP007 - a runtime union over a tuple of types
        incoming = msgspec.defstruct(
            "Incoming",
            [
                ("kind", MessageKind),
                ("target", str),
                ("payload", payload),
                ("sender", str | None, None),
                ("correlation_id", _NonNegativeInt, 0),
                ("trace_id", str | None, None),
                ("timeout", _Seconds | None, None),
            ],
            array_like=True,
            frozen=True,
        )
        self.decode = msgspec.msgpack.Decoder(incoming).decode
        self._version = registry.version


def _refuse(data: object) -> Any:
    raise msgspec.DecodeError("no message types are registered")
