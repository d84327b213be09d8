"""What the quorum writes to the ledger, and the reducers that rebuild its decision history.

==================== =================================================================
kind                 payload
==================== =================================================================
``quorum.decided``   proposal, territory, holder, ttl, why (the proposal's reason),
                     outcome, reason, decided_by, required, voters, rounds, latency,
                     votes (voter, answer, at, round, detail), lease (territory, holder,
                     token, expires, granted) or ``None``
``quorum.alert``     proposal, territory, reason, round, failures
==================== =================================================================

A proposal has exactly one ``quorum.decided`` record. A granted one carries
its lease, so :func:`~actors.roles.territories.lease_table_reducers` (which
folds any record carrying a granted lease) rebuilds the lease table from the
same ledger, and :func:`decision_history_reducers` rebuilds every decision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ...ledger import Reducers
from .._records import RecordSink, append_record

if TYPE_CHECKING:
    from ...ledger import Record
    from ._messages import Decision

__all__ = [
    "QUORUM_ALERT",
    "QUORUM_DECIDED",
    "decision_history_reducers",
    "decision_payload",
    "record_alert",
    "record_decision",
]

QUORUM_DECIDED: Final = "quorum.decided"
QUORUM_ALERT: Final = "quorum.alert"


def decision_payload(decision: Decision, ttl: float, why: str) -> dict[str, Any]:
    """The ``quorum.decided`` payload of ``decision`` (plain values only)."""
    lease = decision.lease
    return {
        "proposal": decision.proposal,
        "territory": decision.territory,
        "holder": decision.holder,
        "ttl": ttl,
        "why": why,
        "outcome": decision.outcome,
        "reason": decision.reason,
        "decided_by": decision.decided_by,
        "required": decision.required,
        "voters": decision.voters,
        "rounds": decision.rounds,
        "latency": decision.latency,
        "votes": [
            {
                "voter": vote.voter,
                "answer": vote.answer,
                "at": vote.at,
                "round": vote.round,
                "detail": vote.detail,
            }
            for vote in decision.votes
        ],
        "lease": None
        if lease is None
        else {
            "territory": lease.territory,
            "holder": lease.holder,
            "token": lease.token,
            "expires": lease.expires,
            "granted": lease.granted,
        },
    }


def record_decision(sink: RecordSink | None, payload: dict[str, Any]) -> None:
    append_record(sink, QUORUM_DECIDED, payload)


def record_alert(
    sink: RecordSink | None, proposal: str, territory: str, reason: str, round_: int, failures: int
) -> None:
    append_record(
        sink,
        QUORUM_ALERT,
        {
            "proposal": proposal,
            "territory": territory,
            "reason": reason,
            "round": round_,
            "failures": failures,
        },
    )


def decision_history_reducers() -> Reducers[dict[str, Any]]:
    """Reducers (``quorum.decisions``) rebuilding ``{"decisions": {...}, "alerts": [...]}``.

    ``decisions`` maps each proposal id to its ``quorum.decided`` payload (its
    votes, threshold, outcome and token); ``alerts`` lists every quorum alert.
    A second record for one proposal would be a broken invariant: the reducer
    counts it in ``duplicates`` instead of overwriting the first.
    """
    reducers: Reducers[dict[str, Any]] = Reducers(
        "quorum.decisions", initial=lambda: {"decisions": {}, "alerts": [], "duplicates": 0}
    )

    @reducers.on(QUORUM_DECIDED)
    def _decided(state: dict[str, Any], record: Record) -> dict[str, Any]:
        value = record.value()
        if value["proposal"] in state["decisions"]:
            state["duplicates"] += 1
        else:
            state["decisions"][value["proposal"]] = value
        return state

    @reducers.on(QUORUM_ALERT)
    def _alert(state: dict[str, Any], record: Record) -> dict[str, Any]:
        state["alerts"].append(record.value())
        return state

    return reducers
