"""What the quorum actor accepts, asks its voters, answers and publishes.

Every ask is typed (:class:`~actors.Request`): ``await quorum.ask(Propose(...))``
is a :class:`Decision`, ``await voter.ask(Ballot(...))`` a :class:`Vote`.
"""

from __future__ import annotations

from typing import Final

import msgspec

from actors import Request
from protocol import Message

from ..territories import Lease

__all__ = [
    "QUORUM_EVENTS",
    "Ballot",
    "CastVote",
    "Decision",
    "GetDecision",
    "GetQuorumStatistics",
    "ProposalRefused",
    "Propose",
    "QuorumAlert",
    "QuorumStatistics",
    "RegisterVoter",
    "Registered",
    "UnregisterVoter",
    "Vote",
    "VoteRecord",
    "VoteRejected",
    "VoterStatistics",
]

QUORUM_EVENTS: Final = "quorum.events"
"""The topic of :class:`QuorumAlert` (and of every :class:`Decision`)."""


class Vote(Message, tag="quorum.vote"):
    """A voter's answer to a :class:`Ballot` (the ask's reply).

    Told to the quorum directly (or in a :class:`CastVote`), it is refused: see
    :class:`VoteRejected`.
    """

    proposal: str
    voter: str
    accept: bool
    round: int = 1
    reason: str = ""


class Ballot(Message, Request[Vote], tag="quorum.ballot"):
    """What the quorum asks each voter: may ``holder`` lease ``territory`` for ``ttl`` s?"""

    proposal: str
    round: int
    territory: str
    holder: str
    ttl: float
    reason: str
    voter: str
    """The name the voter is registered under (echo it in the :class:`Vote`)."""


class VoteRecord(msgspec.Struct, frozen=True, array_like=True):
    """One counted vote, or one lost voter (``answer`` ``timeout``, ``unreachable``, ``error``)."""

    voter: str
    answer: str
    """``yes``, ``no``, ``timeout``, ``unreachable`` or ``error``."""
    at: float
    """When it arrived (or was lost), on the quorum's clock (``wall()``)."""
    round: int = 1
    detail: str = ""


class Decision(Message, tag="quorum.decision"):
    """A proposal's one outcome (what :class:`Propose` answers, and what the ledger holds)."""

    proposal: str
    territory: str
    holder: str
    outcome: str
    """``granted``, ``rejected`` or ``failed``."""
    reason: str
    """Why: ``quorum``, ``votes``, ``held`` (the store refused), ``timeout``,
    ``unreachable``, ``voter-error``, ``stopped``."""
    decided_by: str
    """``quorum`` (the votes), or ``store`` (the ``defer`` fallback: the lease store alone)."""
    required: int
    voters: int
    votes: tuple[VoteRecord, ...]
    rounds: int
    lease: Lease | None = None
    """The lease granted (with its fencing token), only when ``outcome`` is ``granted``."""
    latency: float = 0.0


class ProposalRefused(Message, tag="quorum.proposal_refused"):
    """A :class:`Propose` that never became a proposal: bad input, nothing recorded."""

    territory: str
    holder: str
    reason: str
    """``invalid-threshold``, ``no-voters``, ``invalid-ttl`` or ``duplicate-id``."""
    error: str
    group: str = ""
    threshold: int | float | None = None
    voters: int = 0


class Propose(Message, Request[Decision | ProposalRefused], tag="quorum.propose"):
    """Propose that ``holder`` lease ``territory`` for ``ttl`` seconds, because ``reason``.

    ``group`` names the electorate (``""``: the territory's configured group,
    else the global voters); ``proposal`` is an id (``""``: one is made).
    """

    territory: str
    holder: str
    ttl: float | None = None
    reason: str = ""
    group: str = ""
    proposal: str = ""


class CastVote(Message, tag="quorum.cast_vote"):
    """Tell the quorum a vote directly (a voter that answers later, out of band)."""

    vote: Vote


class VoteRejected(Message, tag="quorum.vote_rejected"):
    """A vote not counted: ``unknown-proposal``, ``unknown-voter``, ``duplicate``,
    ``stale-round`` or ``decided``. Also what a refused :class:`RegisterVoter`
    answers (``proposal`` empty): ``unresolvable-address``, or
    ``already-registered`` (that actor already votes under another name)."""

    proposal: str
    voter: str
    reason: str


class RegisterVoter(Message, tag="quorum.register_voter"):
    """Register the actor at ``address`` (a path, or another node's address) as ``name``.

    ``group`` is a territory group's electorate (``""``: the global one).
    """

    name: str
    address: str
    group: str = ""


class UnregisterVoter(Message, tag="quorum.unregister_voter"):
    name: str
    group: str = ""


class Registered(Message, tag="quorum.registered"):
    """The electorate of ``group`` after a registration change."""

    group: str
    voters: tuple[str, ...]


class GetDecision(Message, tag="quorum.get_decision"):
    """Ask for a recent :class:`Decision` by proposal id (``None`` if unknown or forgotten)."""

    proposal: str


class GetQuorumStatistics(Message, tag="quorum.get_statistics"):
    pass


class VoterStatistics(msgspec.Struct, frozen=True):
    """How one voter has answered."""

    asked: int
    answered: int
    response_rate: float
    """``answered / asked`` (1.0 before the first ballot)."""


class QuorumStatistics(msgspec.Struct, frozen=True):
    """Counters of one quorum actor."""

    proposals: int
    granted: int
    rejected: int
    failed: int
    deferred: int
    """Proposals the ``defer`` fallback handed to the lease store."""
    retries: int
    alerts: int
    open: int
    """Proposals still being voted on."""
    refused_votes: int
    refused_proposals: int
    latency_p50: float
    latency_p90: float
    latency_p99: float
    """Decision latency percentiles in seconds (proposal in, decision out; 0.0 before any)."""
    voters: dict[str, VoterStatistics]


class QuorumAlert(Message, tag="quorum.alert"):
    """A quorum failed to decide ``proposal`` (round ``round``), because ``reason``."""

    proposal: str
    territory: str
    reason: str
    round: int
    failures: int
    """Consecutive quorum failures for this territory (its heat goes up past a limit)."""
