"""Errors of territories, leases and fencing.

The tree (under :class:`~actors.roles.RoleError`, so under :class:`~actors.ActorError`)::

    TerritoryError                      root of everything raised by ``actors.roles.territories``
    ├── InvalidTerritoryConfig (ValueError)   a setting is out of range; names it, and the value
    ├── UnknownStrategy (ValueError)          no strategy of that name
    ├── LeaseRefused                          an acquire found the territory held by another
    ├── LeaseNotHeld                          renew/release by a non-holder or with an old token
    ├── LeaseExpired                          renew/release after the lease's TTL ran out
    └── StaleFencingToken                     a fenced message carried a token below the highest
"""

from __future__ import annotations

from .._errors import RoleError

__all__ = [
    "InvalidTerritoryConfig",
    "LeaseExpired",
    "LeaseNotHeld",
    "LeaseRefused",
    "StaleFencingToken",
    "TerritoryError",
    "UnknownStrategy",
]


class TerritoryError(RoleError):
    """Root of the errors raised by :mod:`actors.roles.territories`."""


class InvalidTerritoryConfig(TerritoryError, ValueError):
    """A territory, lease or heat setting is out of range; names it and the value."""

    def __init__(self, name: str, problem: str, value: object) -> None:
        super().__init__(f"{name} {problem}, got {value!r}")
        self.name = name
        self.value = value


class UnknownStrategy(TerritoryError, ValueError):
    """No assignment strategy has this name."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown territory strategy {name!r}; known: {', '.join(known)}")
        self.name = name


class LeaseRefused(TerritoryError):
    """An acquire found ``territory`` held by another live holder until ``expires``."""

    def __init__(self, territory: str, holder: str, current_holder: str, expires: float) -> None:
        super().__init__(
            f"lease on territory {territory!r} refused to {holder!r}: "
            f"held by {current_holder!r} until {expires:.3f}"
        )
        self.territory = territory
        self.holder = holder
        self.current_holder = current_holder
        self.expires = expires


class LeaseNotHeld(TerritoryError):
    """A renew or release named a lease its caller does not hold (another holder or token)."""

    def __init__(self, territory: str, holder: str, token: int, current: str) -> None:
        super().__init__(
            f"{holder!r} does not hold territory {territory!r} with token {token}: {current}"
        )
        self.territory = territory
        self.holder = holder
        self.token = token


class LeaseExpired(TerritoryError):
    """A renew or release came after the lease's TTL ran out; the caller lost it."""

    def __init__(self, territory: str, holder: str, token: int, expired_at: float) -> None:
        super().__init__(
            f"lease of {holder!r} on territory {territory!r} (token {token}) "
            f"expired at {expired_at:.3f}"
        )
        self.territory = territory
        self.holder = holder
        self.token = token
        self.expired_at = expired_at


class StaleFencingToken(TerritoryError):
    """A fenced message carried a token lower than the highest seen for its territory.

    Raised to the sender (an ask fails with it; a tell is dead-lettered with it)
    before the guarded actor's ``receive`` sees the message.
    """

    def __init__(self, territory: str, token: int, highest: int) -> None:
        super().__init__(
            f"stale fencing token {token} for territory {territory!r}: highest seen is {highest}"
        )
        self.territory = territory
        self.token = token
        self.highest = highest
