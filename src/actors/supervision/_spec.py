"""Supervision described as data, as OTP's supervisor does.

A :class:`ChildSpec` says how to build a child and when to restart it;
:class:`SupervisorFlags` say how a parent reacts when a child fails;
:class:`Directives` say, per actor, what a failure in ``receive`` means
(resume, restart, stop, escalate). One restart engine
(:mod:`actors.supervision._engine`) interprets them for every actor that has
children.

Every field is validated where the record is made (see :mod:`actors._validate`):
enum fields take members, not strings.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import msgspec

from .._mailbox import MailboxConfig
from .._validate import check_enum, check_int, check_real

if TYPE_CHECKING:
    import random

__all__ = [
    "Backoff",
    "ChildSpec",
    "Directive",
    "Directives",
    "Restart",
    "Strategy",
    "SupervisorFlags",
]

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
    """Always restarted: after a failure and after it stops itself normally."""
    TRANSIENT = "transient"
    """Restarted after a failure, not after it stops itself normally."""
    TEMPORARY = "temporary"
    """Never restarted: a failure stops it for good, and so does a sibling's restart."""


class Directive(enum.Enum):
    """What a failure in an actor's ``receive`` means, as Akka's supervision directives."""

    RESUME = "resume"
    """Keep the instance and its state; the asker gets the error; go on with the next message."""
    RESTART = "restart"
    """Hand the failure to the supervisor, which restarts a fresh instance (the default)."""
    STOP = "stop"
    """Stop the actor for good, whatever its restart type; what is queued goes to dead letters."""
    ESCALATE = "escalate"
    """Stop the actor and fail its supervisor with the same error."""


class Directives(msgspec.Struct, frozen=True, gc=False):
    """A decider as data: the directive for each exception type, else ``default``.

    ``rules`` are tried in order; the first whose type matches the error
    (``isinstance``) wins. ``Directives({ValueError: Directive.RESUME})``
    keeps an actor's state when it refuses a request with a ``ValueError``
    and restarts it on anything else.
    """

    rules: Mapping[type[BaseException], Directive] = msgspec.field(
        default_factory=lambda: MappingProxyType({})
    )
    default: Directive = Directive.RESTART

    def __post_init__(self) -> None:
        if not isinstance(self.rules, Mapping):
            raise TypeError(f"Directives.rules must be a mapping, got {self.rules!r}")
        # A read-only copy: the caller's dict may change, these directives must not.
        msgspec.structs.force_setattr(self, "rules", MappingProxyType(dict(self.rules)))
        for kind, directive in self.rules.items():
            if not (isinstance(kind, type) and issubclass(kind, BaseException)):
                raise TypeError(f"Directives.rules keys must be exception types, got {kind!r}")
            check_enum("Directives", f"rules[{kind.__qualname__}]", directive, Directive)
        check_enum("Directives", "default", self.default, Directive)

    def decide(self, error: BaseException) -> Directive:
        """The directive for ``error``."""
        for kind, directive in self.rules.items():
            if isinstance(error, kind):
                return directive
        return self.default


RESTART_ALWAYS = Directives()


class Backoff(msgspec.Struct, frozen=True, gc=False):
    """Exponential backoff with jitter between restarts.

    The n-th restart inside the intensity period waits
    ``min(maximum, initial * factor ** (n - 1))``, scaled by a random factor in
    ``[1 - jitter, 1 + jitter]`` drawn from the system's seeded ``random.Random``.
    The growth stops at ``maximum``, however many restarts there were: the
    delay never overflows.
    """

    initial: float = 0.01
    maximum: float = 2.0
    factor: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        check_real("Backoff", "initial", self.initial, minimum=0.0)
        check_real("Backoff", "maximum", self.maximum, minimum=0.0)
        check_real("Backoff", "factor", self.factor, minimum=1.0)
        check_real("Backoff", "jitter", self.jitter, minimum=0.0, maximum=1.0)

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The delay before restart number ``attempt`` (1-based), at most ``maximum`` (+jitter)."""
        initial, maximum, factor = self.initial, self.maximum, self.factor
        exponent = max(0, attempt - 1)
        if initial >= maximum or initial == 0 or factor == 1 or exponent == 0:
            base = min(maximum, initial)
        elif exponent >= (math.log(maximum) - math.log(initial)) / math.log(factor):
            base = maximum  # reached the cap: no power to compute, so none to overflow
        else:
            try:
                base = min(maximum, initial * factor**exponent)
            except OverflowError:  # only if maximum / initial exceeds the float range
                base = maximum
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
        check_enum("SupervisorFlags", "strategy", self.strategy, Strategy)
        check_int("SupervisorFlags", "intensity", self.intensity, minimum=0)
        check_real("SupervisorFlags", "period", self.period, minimum=0.0, strict=True)
        if type(self.backoff) is not Backoff:
            raise TypeError(f"SupervisorFlags.backoff must be a Backoff, got {self.backoff!r}")


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
    directives: Directives | None = None
    """What a failure in ``receive`` means; ``None``: the actor class's own ``directives``."""

    def __post_init__(self) -> None:
        if not callable(self.factory):
            raise TypeError(f"ChildSpec.factory must be callable, got {self.factory!r}")
        if type(self.args) is not tuple:
            raise TypeError(f"ChildSpec.args must be a tuple, got {self.args!r}")
        kwargs = self.kwargs
        if kwargs is not NO_KWARGS and (
            not isinstance(kwargs, Mapping) or not all(type(key) is str for key in kwargs)
        ):
            raise TypeError(
                f"ChildSpec.kwargs must be a mapping with str keys, got {self.kwargs!r}"
            )
        name = self.name
        if name is not None and (
            type(name) is not str or not name or "/" in name or name[0] == "$"
        ):
            raise ValueError(
                "ChildSpec.name (the actor name) must be a non-empty str, without '/', "
                f"not starting with '$': {name!r}"
            )
        check_enum("ChildSpec", "restart", self.restart, Restart)
        check_real("ChildSpec", "shutdown", self.shutdown, minimum=0.0)
        if self.mailbox is not None and type(self.mailbox) is not MailboxConfig:
            raise TypeError(
                f"ChildSpec.mailbox must be a MailboxConfig or None, got {self.mailbox!r}"
            )
        if self.directives is not None and type(self.directives) is not Directives:
            raise TypeError(
                f"ChildSpec.directives must be a Directives or None, got {self.directives!r}"
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
    directives: Directives | None = None,
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
        directives=directives,
    )
