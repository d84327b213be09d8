"""The wings' door into the core: delivery, cells, delivery filters, runtime hooks.

:mod:`actors` is the API for applications. This module is the one way in for
the parts of Tadpole built on the core (remote, cluster, ledger, roles, node,
testing) and for code that extends the runtime the same way, as
``trio.lowlevel`` is trio's. What it offers is stable and documented, but
easier to misuse: a cell is the runtime side of an actor, and its methods skip
the checks refs make.

Nothing outside ``actors`` imports a private module (``actors._cell`` and the
like); import-linter contracts in ``pyproject.toml`` hold every wing to
``actors`` and ``actors.lowlevel``.

The clock types (:class:`~actors.Clock`, :class:`~actors.Cancellable`,
:class:`~actors.LoopClock`), :class:`~actors.Overflow` and the errors are
public names of :mod:`actors`; the wings import them from there.

**Delivery filters** (:func:`add_delivery_filter`) see each message before it
is enqueued for one actor and may refuse it: the sender gets the refusal (a
``tell`` or ``send`` raises it, an ``ask`` fails with it, a remote asker gets
an ``ERROR`` answer), a sender that cannot be told (a tell from another node,
a timer) sends it to dead letters with the reason, and the message never
reaches ``receive``. An actor without filters pays nothing for the feature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from ._cell import ActorCell as ActorCell
from ._deadlines import Deadlines as Deadlines
from ._deadlines import clock_reader as clock_reader
from ._filters import DeliveryFilter as DeliveryFilter
from ._filters import FilterStatistics as FilterStatistics
from ._filters import add_delivery_filter as add_delivery_filter
from ._filters import cell_of as cell_of
from ._filters import delivery_filters as delivery_filters
from ._filters import filter_statistics as filter_statistics
from ._ref import PendingAsk as PendingAsk
from ._ref import RequestTo as RequestTo
from ._ref import check_timeout as check_timeout
from ._system import DeliveryHook as DeliveryHook
from ._system import RemoteResolver as RemoteResolver

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from scheduler import WorkStealingPool

    from ._system import ActorSystem

__all__ = (
    "ActorCell",
    "Deadlines",
    "DeliveryFilter",
    "DeliveryHook",
    "FilterStatistics",
    "PendingAsk",
    "RemoteResolver",
    "RequestTo",
    "RuntimeTotals",
    "add_delivery_filter",
    "attach_remote",
    "cell_at",
    "cell_of",
    "cells",
    "check_running",
    "check_timeout",
    "clock_reader",
    "delivery_filters",
    "detach_remote",
    "filter_statistics",
    "next_correlation_id",
    "pool",
    "spawn_background",
    "totals",
)


def cell_at(system: ActorSystem, path: str) -> ActorCell | None:
    """The cell of the live actor at ``path`` (``/user/a/b``) in ``system``, or ``None``."""
    return system._cell_at(path)


def cells(system: ActorSystem) -> tuple[ActorCell, ...]:
    """Every live actor's cell in ``system`` (a snapshot, in registration order).

    For observers that read the cells' plain counters (``processed``,
    ``restart_count``, ``failures``, the mailbox's ``len`` and ``enqueued``)
    without sending anything: :mod:`actors.ops` samples them this way.
    """
    return tuple(system._cells.values())


class RuntimeTotals(msgspec.Struct, frozen=True):
    """A system's counters over its whole life (stopped actors' counts included)."""

    messages_processed: int
    """Messages handed to ``receive`` and handled."""
    messages_enqueued: int
    """Messages and asks accepted into mailboxes."""
    restarts: int
    failures: int
    dropped: int
    """Messages a full mailbox dropped (newest or oldest) or refused."""
    asks: int
    """Correlation ids handed out: local asks and asks from other nodes."""
    ask_timeouts: int
    """Local asks that ended in :class:`~actors.AskTimeout`."""


def totals(system: ActorSystem) -> RuntimeTotals:
    """``system``'s lifetime counters, read from plain ints at call time (no hot-path cost).

    Unlike :meth:`~actors.ActorSystem.statistics` (which sums the live
    actors), these never go backwards when an actor stops: metrics that must
    be monotonic counters read them.
    """
    return RuntimeTotals(*system._totals())


def next_correlation_id(system: ActorSystem) -> int:
    """A fresh correlation id for an ask delivered into ``system`` (unique within it)."""
    system._asks += 1
    return system._asks


def check_running(system: ActorSystem) -> None:
    """Raise :class:`~actors.SystemNotRunning` unless ``system`` is running."""
    system._check_running()


def spawn_background(system: ActorSystem, coro: Coroutine[Any, Any, Any], name: str) -> None:
    """Run runtime work as a task ``system`` owns (cancelled at its shutdown; a
    failure is logged as ``runtime_task_failed``). Closed unrun once the system
    has stopped."""
    system._spawn_background(coro, name)


def attach_remote(system: ActorSystem, resolver: RemoteResolver) -> None:
    """Let ``system.ref`` resolve other nodes' addresses through ``resolver``.

    One resolver per system (a :class:`~actors.remote.RemoteNode`); attaching
    another raises :class:`ValueError`.
    """
    system._attach_remote(resolver)


def detach_remote(system: ActorSystem, resolver: RemoteResolver) -> None:
    """Undo :func:`attach_remote` (nothing if ``resolver`` is not the one attached)."""
    system._detach_remote(resolver)


def pool(system: ActorSystem) -> WorkStealingPool:
    """The system's work-stealing pool, the one behind ``system.maintenance``.

    Started on first use, closed when the system stops (queued work is then
    cancelled). Prefer ``system.maintenance.every``/``run``; take the pool
    itself for work that needs its own submission pattern (a fan-out over
    many items). Results that change an actor's state go back to it as
    messages, never as shared mutable state.

    :raises SystemNotRunning: the system is not running.
    :raises ValueError: the system was made with ``maintenance_workers=0`` (no pool).
    """
    maintenance = system.maintenance
    maintenance._check_open(registering=False)
    if maintenance.workers == 0:
        raise ValueError(
            f"actor system {system.name!r} has no pool (maintenance_workers=0 runs jobs inline)"
        )
    return maintenance._ensure_pool()


from protocol._public import publish as _publish_names  # noqa: E402

_publish_names(__name__, globals(), __all__)
