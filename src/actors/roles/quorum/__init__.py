"""Quorum: agents vote on lease proposals; a granted decision takes its lease from the store.

* :class:`Quorum`: an actor that asks every voter of a proposal's electorate
  at once (typed :class:`Ballot` asks answered by :class:`Vote`), decides as
  soon as the outcome is certain under :class:`QuorumConfig`'s threshold,
  applies a fallback (``deny``, ``retry``, ``defer``) when the electorate
  cannot decide, and records one ``quorum.decided`` record per proposal.
* :class:`Voter`: an agent's vote as an actor, from a policy function.
* :func:`required` and :func:`outcome`: the decision rule, pure.
* :func:`decision_history_reducers`: replaying the ledger rebuilds every
  decision; :func:`~actors.roles.territories.lease_table_reducers` rebuilds
  the lease table from the same records.

See the "Quorum" page of the docs.
"""

from ._actor import Quorum as Quorum
from ._actor import Voter as Voter
from ._actor import propose as propose
from ._config import DEFER as DEFER
from ._config import DENY as DENY
from ._config import FALLBACKS as FALLBACKS
from ._config import RETRY as RETRY
from ._config import QuorumConfig as QuorumConfig
from ._errors import InvalidQuorumConfig as InvalidQuorumConfig
from ._errors import InvalidThreshold as InvalidThreshold
from ._errors import NoVoters as NoVoters
from ._errors import QuorumError as QuorumError
from ._errors import VoteRefused as VoteRefused
from ._messages import QUORUM_EVENTS as QUORUM_EVENTS
from ._messages import Ballot as Ballot
from ._messages import CastVote as CastVote
from ._messages import Decision as Decision
from ._messages import GetDecision as GetDecision
from ._messages import GetQuorumStatistics as GetQuorumStatistics
from ._messages import ProposalRefused as ProposalRefused
from ._messages import Propose as Propose
from ._messages import QuorumAlert as QuorumAlert
from ._messages import QuorumStatistics as QuorumStatistics
from ._messages import Registered as Registered
from ._messages import RegisterVoter as RegisterVoter
from ._messages import UnregisterVoter as UnregisterVoter
from ._messages import Vote as Vote
from ._messages import VoteRecord as VoteRecord
from ._messages import VoteRejected as VoteRejected
from ._messages import VoterStatistics as VoterStatistics
from ._records import QUORUM_ALERT as QUORUM_ALERT
from ._records import QUORUM_DECIDED as QUORUM_DECIDED
from ._records import decision_history_reducers as decision_history_reducers
from ._rule import FAILED as FAILED
from ._rule import GRANTED as GRANTED
from ._rule import REJECTED as REJECTED
from ._rule import outcome as outcome
from ._rule import required as required

__all__ = (
    "DEFER",
    "DENY",
    "FAILED",
    "FALLBACKS",
    "GRANTED",
    "QUORUM_ALERT",
    "QUORUM_DECIDED",
    "QUORUM_EVENTS",
    "REJECTED",
    "RETRY",
    "Ballot",
    "CastVote",
    "Decision",
    "GetDecision",
    "GetQuorumStatistics",
    "InvalidQuorumConfig",
    "InvalidThreshold",
    "NoVoters",
    "ProposalRefused",
    "Propose",
    "Quorum",
    "QuorumAlert",
    "QuorumConfig",
    "QuorumError",
    "QuorumStatistics",
    "RegisterVoter",
    "Registered",
    "UnregisterVoter",
    "Vote",
    "VoteRecord",
    "VoteRefused",
    "VoteRejected",
    "Voter",
    "VoterStatistics",
    "decision_history_reducers",
    "outcome",
    "propose",
    "required",
)

from protocol._public import publish as _publish_names

_publish_names(__name__, globals(), __all__)
