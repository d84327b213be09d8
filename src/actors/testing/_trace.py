"""The trace of a simulation: every delivered message, in order, folded into a digest.

A delivery is recorded when an actor's loop takes a message from its mailbox
and is about to hand it to ``receive`` (an ask that timed out before that is
not delivered). Each :class:`Delivery` holds the virtual time, the system and
actor, the correlation id of an ask, the message type and a canonical text of
the message (its JSON encoding when msgspec can encode it, else its ``repr``
with memory addresses blanked out). The digest is a SHA-256 over the
msgpack encoding of every delivery in order: same seed, same digest.

How deliveries are observed: through the system's public ``on_deliver`` hook,
which the runtime calls as each message is handed to ``receive``.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable

    from .. import ActorSystem

__all__ = ["Delivery", "TraceRecorder", "tap"]

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_ENCODER = msgspec.msgpack.Encoder()


class Delivery(msgspec.Struct, frozen=True, array_like=True):
    """One message handed to an actor's ``receive``."""

    time: float
    """Virtual time of the delivery, in seconds."""
    system: str
    actor: str
    """The receiving actor's path."""
    msg_type: str
    message: str
    """A canonical text of the message (its JSON, or its ``repr`` without addresses)."""
    correlation_id: int | None = None
    """The ask's correlation id; ``None`` for ``tell``/``send``."""


def canonical_text(message: object) -> str:
    """A text of ``message`` that is the same in every run of the same program."""
    try:
        return msgspec.json.encode(message, order="deterministic").decode()
    except (TypeError, ValueError):
        return _ADDRESS.sub(" at 0x?", repr(message))


class TraceRecorder:
    """Folds deliveries into a running SHA-256; optionally keeps them."""

    def __init__(self, now: Callable[[], float], *, keep: bool = False) -> None:
        self._now = now
        self._hash = hashlib.sha256()
        self._keep = keep
        self._deliveries: list[Delivery] = []
        self.count = 0

    def record(self, system: str, actor: str, message: object, correlation_id: int | None) -> None:
        delivery = Delivery(
            time=self._now(),
            system=system,
            actor=actor,
            msg_type=type(message).__qualname__,
            message=canonical_text(message),
            correlation_id=correlation_id,
        )
        self._hash.update(_ENCODER.encode(delivery))
        self.count += 1
        if self._keep:
            self._deliveries.append(delivery)

    @property
    def digest(self) -> str:
        """The hex SHA-256 of every delivery so far."""
        return self._hash.hexdigest()

    @property
    def deliveries(self) -> tuple[Delivery, ...]:
        """Every delivery so far (empty unless the recorder keeps them)."""
        return tuple(self._deliveries)


def tap(system: ActorSystem, recorder: TraceRecorder, *, log: bool) -> None:
    """Record every delivery of ``system`` (which must not have spawned yet) in ``recorder``.

    Uses the system's ``on_deliver`` hook, keeping any hook already there;
    ``log`` also turns on the runtime's ``message_received`` debug events.
    """
    if system.actors:
        raise RuntimeError(
            f"trace {system!r} before it spawns actors: running actors are not traced"
        )
    previous = system.on_deliver
    name = system.name

    def record(path: str, message: object, correlation_id: int | None) -> None:
        recorder.record(name, path, message, correlation_id)
        if previous is not None:
            previous(path, message, correlation_id)

    system.on_deliver = record
    if log:
        system.trace_messages = True
