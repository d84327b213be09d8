"""A node's settings (:class:`RemoteConfig`), its statistics and its running counts."""

from __future__ import annotations

import math

import msgspec

from protocol import DEFAULT_MAX_FRAME_SIZE

from .. import Overflow
from ._backoff import ReconnectBackoff

__all__ = ["Counters", "RemoteConfig", "RemoteStatistics"]


class RemoteConfig(msgspec.Struct, frozen=True):
    """Tunables of a :class:`RemoteNode`."""

    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    """Largest frame payload sent or accepted (bytes)."""
    send_buffer: int = 4096
    """Messages queued per peer before ``send``/``ask`` wait and ``tell`` applies ``overflow``."""
    overflow: Overflow = Overflow.FAIL
    """What ``tell`` does on a full send buffer: raise SendBufferFull, or drop newest/oldest."""
    handshake_timeout: float = 5.0
    """Seconds a peer has to complete TLS and the handshake before it is disconnected."""
    connect_timeout: float = 5.0
    """Seconds to wait for a TCP connection to open."""
    backoff: ReconnectBackoff = ReconnectBackoff()
    """Delays between failed dials of one peer."""
    batch_bytes: int = 256 * 1024
    """Bytes the writer gathers into one write, at most (a single larger frame still goes)."""
    max_inflight_asks: int = 10_000
    """Asks from one connection being answered at once before its reader waits."""
    include_traceback: bool = False
    """Send the traceback text of a failed ask to the asker.

    Off by default: the asker gets the exception's type name and message, and
    this node's file paths and source lines stay on this node. Turn it on
    between nodes that trust each other, to debug.
    """
    flush_timeout: float = 2.0
    """Seconds the node waits, on exit, for its send buffers to drain."""
    max_handshakes: int = 64
    """Accepted connections not yet authenticated (in TLS or the handshake) at once;
    one more is closed at once, counted as ``TooManyHandshakes``."""

    def __post_init__(self) -> None:
        for field in ("handshake_timeout", "connect_timeout", "flush_timeout"):
            _check_number(self, field, minimum=0.0, above=True)
        for field in (
            "max_frame_size",
            "send_buffer",
            "batch_bytes",
            "max_inflight_asks",
            "max_handshakes",
        ):
            _check_number(self, field, minimum=1, integer=True)
        if not isinstance(self.overflow, Overflow):
            raise ValueError(
                f"invalid remote config: RemoteConfig.overflow is {self.overflow!r}, "
                "not an Overflow"
            )


def _check_number(
    config: object, field: str, *, minimum: float, above: bool = False, integer: bool = False
) -> None:
    """Raise ValueError naming ``field`` unless it is a finite number >= (or >) ``minimum``."""
    value = getattr(config, field)
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not (integer and isinstance(value, float))
        and math.isfinite(value)
        and (value > minimum if above else value >= minimum)
    )
    if not ok:
        bound = f"> {minimum}" if above else f">= {minimum}"
        kind = "an integer" if integer else "a finite number"
        raise ValueError(
            f"invalid remote config: {type(config).__name__}.{field} is {value!r}, "
            f"expected {kind} {bound}"
        )


class RemoteStatistics(msgspec.Struct, frozen=True):
    """A snapshot of one node's transport."""

    node: str
    address: str
    peers: int
    connections: int
    connections_opened: int
    connections_closed: int
    connections_accepted: int
    connect_failures: int
    messages_sent: int
    messages_received: int
    bytes_sent: int
    bytes_received: int
    writes: int
    send_buffered: int
    asks_pending: int
    asks_in_flight: int
    asks_expired: int
    late_answers: int
    dropped: int
    close_reasons: dict[str, int]
    """Connections closed for bad input or failed handshakes, by reason (error class name)."""
    asks_cancelled: int = 0
    """Asks from peers withdrawn before they were answered: the asker sent ``CANCEL``
    (it timed out or was cancelled) or the connection ended."""
    messages_refused: dict[str, int] = msgspec.field(default_factory=dict)
    """Messages from peers refused alone, their connection kept, by reason (error
    class name): an unknown tag or fields that do not validate. A refused ask was
    answered with the error, a refused tell became a dead letter."""
    handshakes: int = 0
    """Accepted connections not authenticated yet (see ``RemoteConfig.max_handshakes``)."""
    tells_unsent: int = 0
    """Tells accepted for a peer and dead-lettered because their connection ended
    before they were handed to the transport (see "What is lost on a cut" in the
    remote docs)."""
    tells_undelivered: int = 0
    """Tells a peer sent that this node received whole and dead-lettered because
    their connection ended abruptly (lost, closed by this node, bad input later in
    the stream) before they were delivered; a clean close delivers them all first."""


class Counters:
    """The node's running counts, shared with its connections (read by ``statistics``)."""

    __slots__ = (
        "asks_cancelled",
        "asks_expired",
        "bytes_received",
        "bytes_sent",
        "connect_failures",
        "connections_accepted",
        "connections_closed",
        "connections_opened",
        "dropped",
        "late_answers",
        "messages_received",
        "messages_sent",
        "tells_undelivered",
        "tells_unsent",
        "writes",
    )

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)

    asks_cancelled: int
    asks_expired: int
    bytes_received: int
    bytes_sent: int
    connect_failures: int
    connections_accepted: int
    connections_closed: int
    connections_opened: int
    dropped: int
    late_answers: int
    messages_received: int
    messages_sent: int
    tells_undelivered: int
    tells_unsent: int
    writes: int
