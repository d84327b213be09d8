"""What the two quorum simulations share (not a test module).

``test_quorum_simulation.py`` (one system, faulty voters) and
``test_quorum_cluster_simulation.py`` (three nodes on the in-memory network)
run agents that write to one fenced resource under the leases they believe
they hold, then check the run on the records. Both set up that resource and
make those checks the same way, here:

* :func:`fenced_resource`: the resource, its fencing guard (the quorums
  revoke old tokens at it), and a delivery filter that counts every accepted
  write and notes a violation when the writer's lease is not the store's
  current row (a stale holder got through);
* :func:`check_run`: the records' invariants (``tests/quorum_ledger.py``),
  every answer an agent received is the recorded one, and the lease table
  replayed from the records is the store's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors import Actor
from actors.lowlevel import add_delivery_filter
from actors.roles.territories import guard, lease_table_reducers
from tests.quorum_ledger import check_records, fold

if TYPE_CHECKING:
    from collections.abc import Sequence

    from actors import ActorRef, ActorSystem
    from actors.roles.quorum import Decision
    from actors.roles.territories import MemoryLeaseStore


class Resource(Actor[Any]):
    """What the agents write to: the fencing guard and the filter do the work."""

    async def receive(self, message: Any) -> Any:
        return None


async def fenced_resource(
    system: ActorSystem,
    store: MemoryLeaseStore,
    territories: Sequence[str],
    counts: dict[str, int],
    violations: list[str],
) -> ActorRef[Any]:
    """Spawn the guarded resource; every write it accepts is counted and checked."""
    resource = await system.spawn(Resource)
    guard(resource, territories)  # installed: the quorums revoke old tokens at it

    def check(message: Any) -> None:
        row = store.lease(message.territory)
        if row is None or (row.holder, row.token) != (message.holder, message.fencing_token):
            violations.append(f"write {message} accepted while the lease row is {row}")
        counts["accepted"] += 1

    add_delivery_filter(resource, check)
    return resource


def check_run(
    entries: list[tuple[str, dict[str, Any]]],
    received: dict[str, Decision],
    store: MemoryLeaseStore,
    *,
    tokens: bool,
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The violations of a finished run, and its ``quorum.decided`` records by proposal.

    ``tokens``: also check that a granted answer's token is the recorded one.
    """
    violations = check_records(entries)
    recorded = {p["proposal"]: p for kind, p in entries if kind == "quorum.decided"}
    for pid, decision in received.items():
        row = recorded.get(pid)
        if row is None or row["outcome"] != decision.outcome:
            violations.append(f"{pid}: answered {decision.outcome} but recorded {row}")
            continue
        token = None if decision.lease is None else decision.lease.token
        if tokens and (row["lease"] and row["lease"]["token"]) != token:
            violations.append(f"{pid}: answered token {token}, recorded {row['lease']}")
    if fold(lease_table_reducers(), entries) != store.snapshot():
        violations.append("the lease table replayed from the records is not the store's")
    return violations, recorded
