"""Errors of the quorum.

The tree (under :class:`~actors.roles.RoleError`, so under :class:`~actors.ActorError`)::

    QuorumError                         root of everything raised by ``actors.roles.quorum``
    ├── InvalidQuorumConfig (ValueError)   a setting is out of range; names it and the value
    ├── InvalidThreshold (ValueError)      a threshold no electorate of that size can meet
    ├── NoVoters (LookupError)             a proposal's electorate has no voter
    └── VoteRefused                        a vote the quorum would not count (and why)
"""

from __future__ import annotations

from .._errors import RoleError

__all__ = [
    "InvalidQuorumConfig",
    "InvalidThreshold",
    "NoVoters",
    "QuorumError",
    "VoteRefused",
]


class QuorumError(RoleError):
    """Root of the errors raised by :mod:`actors.roles.quorum`."""


class InvalidQuorumConfig(QuorumError, ValueError):
    """A quorum setting is out of range; names it and the value."""

    def __init__(self, name: str, problem: str, value: object) -> None:
        super().__init__(f"{name} {problem}, got {value!r}")
        self.name = name
        self.value = value


class InvalidThreshold(QuorumError, ValueError):
    """``threshold`` cannot be met by an electorate of ``voters`` voters."""

    def __init__(self, threshold: object, voters: int, problem: str) -> None:
        super().__init__(f"threshold {threshold!r} {problem} (electorate of {voters} voters)")
        self.threshold = threshold
        self.voters = voters
        self.problem = problem


class NoVoters(QuorumError, LookupError):
    """The electorate ``group`` (``""``: the global one) has no voter registered."""

    def __init__(self, group: str) -> None:
        super().__init__(f"no voter registered for electorate {group or '<global>'!r}")
        self.group = group


class VoteRefused(QuorumError):
    """A vote the quorum did not count: ``reason`` is ``unknown-proposal``,
    ``unknown-voter``, ``duplicate``, ``stale-round`` or ``decided``."""

    def __init__(self, proposal: str, voter: str, reason: str) -> None:
        super().__init__(f"vote of {voter!r} on proposal {proposal!r} refused: {reason}")
        self.proposal = proposal
        self.voter = voter
        self.reason = reason
