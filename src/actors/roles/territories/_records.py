"""What the territory manager writes to the ledger, and the reducers that rebuild its lease table.

======================== =================================================================
kind                     payload
======================== =================================================================
``lease.granted``        territory, holder, token, expires, granted
``lease.renewed``        territory, holder, token, expires
``lease.released``       territory, holder, token
``lease.expired``        territory, holder, token, expires (reclaimed by maintenance or a request)
``lease.refused``        territory, holder, token, reason, current holder and token (if any)
``fence.refused``        territory, token, highest, guard: a stale fenced message
``heat.alert``           territory, heat, threshold
``heat.cleared``         territory, heat, clear_below
======================== =================================================================

Another role may grant leases from the same store (the quorum grants one per
granted decision): its record kind is listed in :data:`LEASE_GRANTING_KINDS`
and carries the lease granted under ``lease`` (territory, holder, token,
expires, granted) or ``None``, so the same reducers fold it and one lease
table holds every grant, whoever decided it.

Replaying these records through :func:`lease_table_reducers` rebuilds the
lease table byte for byte as the store holds it
(:meth:`~actors.roles.territories.LeaseStore.snapshot`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ...ledger import Reducers
from .._records import RecordSink, append_record
from ._leases import Lease, Refusal

if TYPE_CHECKING:
    from ...ledger import Record

__all__ = [
    "FENCE_REFUSED",
    "HEAT_ALERT",
    "HEAT_CLEARED",
    "LEASE_EXPIRED",
    "LEASE_GRANTED",
    "LEASE_GRANTING_KINDS",
    "LEASE_REFUSED",
    "LEASE_RELEASED",
    "LEASE_RENEWED",
    "RecordSink",
    "empty_table",
    "lease_table_reducers",
    "record_expired",
    "record_result",
]

LEASE_GRANTED: Final = "lease.granted"
LEASE_RENEWED: Final = "lease.renewed"
LEASE_RELEASED: Final = "lease.released"
LEASE_EXPIRED: Final = "lease.expired"
LEASE_REFUSED: Final = "lease.refused"
FENCE_REFUSED: Final = "fence.refused"
HEAT_ALERT: Final = "heat.alert"
HEAT_CLEARED: Final = "heat.cleared"
LEASE_GRANTING_KINDS: Final = ("quorum.decided",)
"""Record kinds of other roles that grant a lease (payload ``lease``: the grant or ``None``)."""


def empty_table() -> dict[str, Any]:  # Any: a plain msgpack-shaped state
    """The lease table before any record: no leases, no tokens issued."""
    return {"leases": {}, "tokens": {}}


def record_expired(sink: RecordSink | None, lease: Lease) -> None:
    """Append ``lease.expired`` for a reclaimed lease."""
    append_record(
        sink,
        LEASE_EXPIRED,
        {
            "territory": lease.territory,
            "holder": lease.holder,
            "token": lease.token,
            "expires": lease.expires,
        },
    )


def record_result(sink: RecordSink | None, request: str, result: Lease | Refusal) -> None:
    """Append the record of one lease request (``acquire``, ``renew`` or ``release``).

    Record the leases it reclaimed on its way (:func:`record_expired`) first.
    """
    if sink is None:
        return
    if isinstance(result, Lease):
        if request == "acquire":
            append_record(
                sink,
                LEASE_GRANTED,
                {
                    "territory": result.territory,
                    "holder": result.holder,
                    "token": result.token,
                    "expires": result.expires,
                    "granted": result.granted,
                },
            )
        elif request == "renew":
            append_record(
                sink,
                LEASE_RENEWED,
                {
                    "territory": result.territory,
                    "holder": result.holder,
                    "token": result.token,
                    "expires": result.expires,
                },
            )
        else:
            append_record(
                sink,
                LEASE_RELEASED,
                {"territory": result.territory, "holder": result.holder, "token": result.token},
            )
        return
    current = result.current
    append_record(
        sink,
        LEASE_REFUSED,
        {
            "territory": result.territory,
            "holder": result.holder,
            "token": result.token,
            "reason": result.reason,
            "current_holder": None if current is None else current.holder,
            "current_token": None if current is None else current.token,
        },
    )


def lease_table_reducers() -> Reducers[dict[str, Any]]:
    """Reducers (``territories.leases``) rebuilding ``{"leases": {...}, "tokens": {...}}``.

    ``leases`` maps each held territory to its holder, token, expiry and grant
    time; ``tokens`` maps every territory ever granted to its last token.
    A record of :data:`LEASE_GRANTING_KINDS` carrying a lease counts as its grant.
    Refusals, fence refusals and heat records leave the table as it is.
    """
    reducers: Reducers[dict[str, Any]] = Reducers("territories.leases", initial=empty_table)

    @reducers.on(LEASE_GRANTED)
    def _granted(state: dict[str, Any], record: Record) -> dict[str, Any]:
        value = record.value()
        territory = value["territory"]
        state["leases"][territory] = {
            "holder": value["holder"],
            "token": value["token"],
            "expires": value["expires"],
            "granted": value["granted"],
        }
        state["tokens"][territory] = value["token"]
        return state

    def _carried(state: dict[str, Any], record: Record) -> dict[str, Any]:
        lease = record.value().get("lease")
        if lease:
            territory = lease["territory"]
            state["leases"][territory] = {
                "holder": lease["holder"],
                "token": lease["token"],
                "expires": lease["expires"],
                "granted": lease["granted"],
            }
            state["tokens"][territory] = lease["token"]
        return state

    for kind in LEASE_GRANTING_KINDS:
        reducers.add(kind, _carried)

    @reducers.on(LEASE_RENEWED)
    def _renewed(state: dict[str, Any], record: Record) -> dict[str, Any]:
        value = record.value()
        state["leases"][value["territory"]]["expires"] = value["expires"]
        return state

    def _gone(state: dict[str, Any], record: Record) -> dict[str, Any]:
        value = record.value()
        row = state["leases"].get(value["territory"])
        if row is not None and row["token"] == value["token"]:
            del state["leases"][value["territory"]]
        return state

    reducers.add(LEASE_RELEASED, _gone)
    reducers.add(LEASE_EXPIRED, _gone)
    return reducers
