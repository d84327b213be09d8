"""The quorum's safety invariants, checked on a ledger's records (shared by the quorum tests).

``check_records`` walks ``(kind, payload)`` pairs in ledger order and returns
every violation it finds:

* **one holder**: a lease granted on a territory (by a ``quorum.decided`` or a
  ``lease.granted`` record) only after the previous lease there ended: it was
  released or reclaimed (``lease.released``/``lease.expired``) or had lapsed
  by the new grant's time;
* **tokens**: each grant's token is the territory's previous token plus one;
* **one outcome**: at most one ``quorum.decided`` per proposal id, and a
  lease in it exactly when its outcome is ``granted``, with the record's
  territory and holder.
"""

from __future__ import annotations

from typing import Any


class ListSink:
    """A record sink keeping ``(kind, payload)`` in append order (a ledger's order)."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, dict[str, Any]]] = []

    def append_nowait(self, kind: str, payload: object) -> object:
        assert isinstance(payload, dict)
        self.entries.append((kind, payload))
        return None


class FakeRecord:
    """Enough of :class:`actors.ledger.Record` for ``Reducers.apply``."""

    def __init__(self, kind: str, payload: dict[str, Any]) -> None:
        self.kind = kind
        self._payload = payload

    def value(self) -> Any:
        return self._payload


def fold(reducers: Any, entries: list[tuple[str, dict[str, Any]]]) -> Any:
    state = reducers.initial()
    for kind, payload in entries:
        state = reducers.apply(state, FakeRecord(kind, payload))
    return state


def check_records(entries: list[tuple[str, dict[str, Any]]]) -> list[str]:
    violations: list[str] = []
    live: dict[str, dict[str, Any]] = {}
    tokens: dict[str, int] = {}
    decided: set[str] = set()

    def grant(lease: dict[str, Any], where: str) -> None:
        territory = lease["territory"]
        current = live.get(territory)
        if current is not None and lease["granted"] < current["expires"]:
            violations.append(
                f"{where}: {territory!r} granted to {lease['holder']!r} (token {lease['token']}) "
                f"at {lease['granted']} while {current['holder']!r} holds token "
                f"{current['token']} until {current['expires']}"
            )
        if lease["token"] != tokens.get(territory, 0) + 1:
            violations.append(
                f"{where}: token {lease['token']} on {territory!r} after {tokens.get(territory, 0)}"
            )
        tokens[territory] = lease["token"]
        live[territory] = lease

    for seq, (kind, value) in enumerate(entries, 1):
        where = f"record {seq} ({kind})"
        if kind == "quorum.decided":
            pid = value["proposal"]
            if pid in decided:
                violations.append(f"{where}: a second outcome for proposal {pid!r}")
            decided.add(pid)
            lease = value["lease"]
            if (lease is not None) != (value["outcome"] == "granted"):
                violations.append(f"{where}: outcome {value['outcome']} with lease {lease}")
            if lease is not None:
                if (lease["territory"], lease["holder"]) != (value["territory"], value["holder"]):
                    violations.append(f"{where}: lease {lease} is not the proposal's")
                grant(lease, where)
        elif kind == "lease.granted":
            grant(value, where)
        elif kind in ("lease.released", "lease.expired"):
            current = live.get(value["territory"])
            if current is not None and current["token"] == value["token"]:
                del live[value["territory"]]
    return violations
