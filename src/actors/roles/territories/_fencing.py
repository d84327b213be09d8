"""Fencing at the mailbox: a guarded actor refuses messages that carry a stale token.

A *fenced message* carries the lease it was written under: a ``territory``
(str) and a ``fencing_token`` (int) attribute (see :class:`Fenced`; any
``protocol.Message`` with those two fields is one). A :class:`FencingGuard`
is a delivery filter (:func:`actors.lowlevel.add_delivery_filter`): it sees
each message before the guarded actor's mailbox takes it and

* remembers the highest token seen per territory;
* refuses a message whose token is lower than that highest (or than a
  token the territory manager revoked, see :meth:`FencingGuard.revoke`) with
  :class:`~actors.roles.territories.StaleFencingToken`, naming the territory,
  the token and the highest seen. The sender gets it (``tell`` raises it, an
  ``ask`` fails with it, a remote asker gets an error answer) and
  ``receive`` never sees the message.

Messages without the two attributes, and fenced messages about territories
the guard does not guard, pass untouched. An unguarded actor pays nothing
(the runtime has no filter to call); a guarded one pays one filter call per
message (a ``getattr`` and a dict lookup: see ``benchmarks/bench_territories.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from ... import Actor
from ...lowlevel import add_delivery_filter, delivery_filters
from ._errors import StaleFencingToken

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from ... import ActorRef

__all__ = ["Fenced", "FencedActor", "FencingGuard", "guard"]


@runtime_checkable
class Fenced(Protocol):
    """A message written under a lease: it names the territory and the lease's token."""

    territory: str
    fencing_token: int


class FencingGuard:
    """A delivery filter that refuses fenced messages with stale tokens.

    :param territories: the territories guarded (``None``: every territory a
        fenced message names).
    :param on_stale: called with (territory, token, highest) for each refusal,
        on the sender's side of the call (the manager's
        :meth:`~actors.roles.territories.TerritoryManager.stale_reporter`
        turns it into heat and a ledger record).
    """

    __slots__ = ("_floor", "_highest", "on_stale", "refused", "territories")

    def __init__(
        self,
        territories: Iterable[str] | None = None,
        *,
        on_stale: Callable[[str, int, int], object] | None = None,
    ) -> None:
        self.territories: frozenset[str] | None = (
            None if territories is None else frozenset(territories)
        )
        self._highest: dict[str, int] = {}
        self.on_stale = on_stale
        self.refused = 0
        """Messages refused as stale."""

    def __call__(self, message: object) -> StaleFencingToken | None:
        token = getattr(message, "fencing_token", None)
        if token is None:
            return None
        territory: str = message.territory  # type: ignore[attr-defined]
        guarded = self.territories
        if guarded is not None and territory not in guarded:
            return None
        highest = self._highest.get(territory, 0)
        if token < highest:
            self.refused += 1
            if self.on_stale is not None:
                self.on_stale(territory, token, highest)
            return StaleFencingToken(territory, token, highest)
        if token > highest:
            self._highest[territory] = token
        return None

    def highest(self, territory: str) -> int:
        """The token a fenced message must at least carry for ``territory`` (0: none yet)."""
        return self._highest.get(territory, 0)

    def revoke(self, territory: str, token: int) -> None:
        """The lease with ``token`` ended: refuse it (and every older one) from now on."""
        if token + 1 > self._highest.get(territory, 0):
            self._highest[territory] = token + 1

    def __repr__(self) -> str:
        which = "all" if self.territories is None else sorted(self.territories)
        return f"FencingGuard(territories={which}, refused={self.refused})"


def guard(
    target: ActorRef[Any],
    territories: Iterable[str] | None = None,
    *,
    on_stale: Callable[[str, int, int], object] | None = None,
) -> FencingGuard:
    """Guard the local actor ``target``: install a :class:`FencingGuard` as its delivery filter.

    Returns the guard already installed on it if there is one (its
    territories grow by ``territories``), so guarding twice is harmless. The
    guard belongs to the actor, not to one incarnation: it stays across
    restarts, and so do the tokens it has seen.
    """
    for existing in delivery_filters(target):
        if isinstance(existing, FencingGuard):
            if existing.territories is not None:
                existing.territories = (
                    None if territories is None else existing.territories | set(territories)
                )
            if on_stale is not None:
                existing.on_stale = on_stale
            return existing
    installed = FencingGuard(territories, on_stale=on_stale)
    add_delivery_filter(target, installed)
    return installed


class FencedActor(Actor[Any]):
    """An actor that declares the territories it guards; stale fenced messages never reach it.

    Set ``guards`` (a tuple of territory names; empty: every territory) on the
    subclass. The guard is installed when the actor first starts and kept
    across restarts; :attr:`fencing` is it.
    """

    guards: ClassVar[tuple[str, ...]] = ()

    @property
    def fencing(self) -> FencingGuard:
        """This actor's guard."""
        return guard(self.self_ref, self.guards or None)

    async def on_start(self) -> None:
        guard(self.self_ref, self.guards or None)
