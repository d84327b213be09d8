"""Supervision described as data, as OTP's supervisor does.

A :class:`ChildSpec` says how to build a child and when to restart it;
:class:`SupervisorFlags` say how a parent reacts when a child fails. One
restart engine (:mod:`actors.supervision._engine`) interprets both for every
actor that has children.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import msgspec

from .._mailbox import MailboxConfig

if TYPE_CHECKING:
    import random

__all__ = ["Backoff", "ChildSpec", "Restart", "Strategy", "SupervisorFlags"]

NO_KWARGS: Mapping[str, Any] = MappingProxyType({})


class Strategy(enum.Enum):
    """Which children restart when one fails."""

    ONE_FOR_ONE = "one_for_one"
    """Only the failed child."""
    ONE_FOR_ALL = "one_for_all"
    """Every child: the others are stopped (in reverse start order) and all restart."""
    REST_FOR_ONE = "rest_for_one"
    """The failed child and every sibling started after it."""


class Restart(enum.Enum):
    """When a child is restarted."""

    PERMANENT = "permanent"
    """Always restarted after a failure."""
    TRANSIENT = "transient"
    """Restarted after a failure, not after a normal stop."""
    TEMPORARY = "temporary"
    """Never restarted: a failure stops it for good."""


class Backoff(msgspec.Struct, frozen=True, gc=False):
    """Exponential backoff with jitter between restarts.

    The n-th restart inside the intensity period waits
    ``min(maximum, initial * factor ** (n - 1))``, scaled by a random factor in
    ``[1 - jitter, 1 + jitter]`` drawn from the system's seeded ``random.Random``.
    """

    initial: float = 0.01
    maximum: float = 2.0
    factor: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < 0 or self.factor < 1 or not 0 <= self.jitter <= 1:
            raise ValueError(
                "backoff needs initial >= 0, maximum >= 0, factor >= 1 and 0 <= jitter <= 1, "
                f"got {self!r}"
            )

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The delay before restart number ``attempt`` (1-based)."""
        base = min(self.maximum, self.initial * self.factor ** max(0, attempt - 1))
        if self.jitter:
            base *= 1 + self.jitter * (2 * rng.random() - 1)
        return max(0.0, base)


class SupervisorFlags(msgspec.Struct, frozen=True, gc=False):
    """How an actor supervises its children.

    More than ``intensity`` restarts within ``period`` seconds make the
    supervisor give up: it fails itself with
    :class:`~actors.RestartIntensityExceeded`, escalating to its own parent.
    """

    strategy: Strategy = Strategy.ONE_FOR_ONE
    intensity: int = 3
    period: float = 5.0
    backoff: Backoff = Backoff()

    def __post_init__(self) -> None:
        if self.intensity < 0 or self.period <= 0:
            raise ValueError(f"supervisor flags need intensity >= 0 and period > 0, got {self!r}")


# gc=False: specs are immutable data created per spawn; keeping them out of the
# cyclic collector makes spawning a hundred thousand actors markedly cheaper.
class ChildSpec(msgspec.Struct, frozen=True, gc=False):
    """How to build one child, and when to restart it.

    ``factory`` is called with ``args`` and ``kwargs`` for every incarnation,
    so a restart always gets a fresh instance.
    """

    factory: Callable[..., Any]  # Any: an Actor subclass or a function returning an Actor
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = NO_KWARGS
    name: str | None = None
    restart: Restart = Restart.PERMANENT
    shutdown: float = 5.0
    """Seconds a stopping child may take to finish its current message before it is cancelled."""
    mailbox: MailboxConfig | None = None
    """``None``: the actor class's own ``mailbox`` setting."""

    def __post_init__(self) -> None:
        if not callable(self.factory):
            raise TypeError(f"child factory must be callable, got {self.factory!r}")
        if self.shutdown < 0:
            raise ValueError(f"shutdown timeout must be >= 0, got {self.shutdown}")
        if self.name is not None and (not self.name or "/" in self.name or self.name[0] == "$"):
            raise ValueError(
                f"actor name must be non-empty, without '/', not starting with '$': {self.name!r}"
            )


def child_spec(
    factory: Callable[..., Any],
    args: tuple[Any, ...],
    *,
    name: str | None,
    kwargs: Mapping[str, Any] | None,
    restart: Restart,
    shutdown: float,
    mailbox: MailboxConfig | None,
) -> ChildSpec:
    """The spec ``spawn(factory, *args, name=..., ...)`` describes."""
    return ChildSpec(
        factory=factory,
        args=args,
        kwargs=NO_KWARGS if kwargs is None else dict(kwargs),
        name=name,
        restart=restart,
        shutdown=shutdown,
        mailbox=mailbox,
    )
