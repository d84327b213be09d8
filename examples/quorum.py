"""Agents vote on who may lease which territory; the ledger tells the story.

Five agents are voters; erin has gone quiet (a partition, a crash), so every
ballot to her times out. Three quorum actors share one lease store and one
ledger:

* ``majority`` (3 of 5, fallback ``deny``):

  1. alice proposes to edit ``src/app.py``: **granted** at the third yes
     vote (nobody waits for dave or erin), with fencing token 1 from the
     lease store;
  2. mallory proposes to edit ``src/db.py``: the agents distrust mallory,
     **rejected** by the votes;
  3. bob proposes ``src/app.py`` too: the votes say yes, but the store holds
     alice's live lease, so the decision is **rejected** (``held``): a vote
     never overrides the store.

* ``unanimous`` (5 of 5, fallback ``retry`` once, then ``defer``): carol's
  proposal for ``docs/`` **fails** twice at the deadline (erin never
  answers), raising an alert each time, then the store alone grants it.
* ``strict`` (5 of 5, fallback ``deny``): dave's proposal for
  ``docs/guide`` **fails** at the deadline and is denied, with an alert.

Run: ``python examples/quorum.py``
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import structlog

from actors import Actor, ActorSystem
from actors.ledger import open_ledger
from actors.roles.quorum import (
    Ballot,
    Quorum,
    QuorumConfig,
    Voter,
    decision_history_reducers,
    propose,
)
from actors.roles.territories import MemoryLeaseStore, lease_table_reducers

AGENTS = ("alice", "bob", "carol", "dave")


def trusting(ballot: Ballot) -> tuple[bool, str]:
    """An agent's vote: yes, unless the proposer is mallory."""
    if ballot.holder == "mallory":
        return False, "mallory broke the build last week"
    return True, ""


class Quiet(Actor[Any]):
    """erin: a voter that has gone quiet (every ballot to her times out)."""

    async def receive(self, message: Any) -> Any:
        await anyio.sleep(3600)


def show(decision: Any) -> None:
    votes = ", ".join(f"{v.voter}:{v.answer}" for v in decision.votes)
    token = "" if decision.lease is None else f", token {decision.lease.token}"
    print(
        f"{decision.holder} -> {decision.territory}: {decision.outcome} "
        f"({decision.reason}, by {decision.decided_by}{token}) "
        f"after {decision.rounds} round(s) [{votes}]"
    )


async def main() -> None:
    async with open_ledger() as ledger, ActorSystem("example") as system:
        voters = {name: await system.spawn(Voter, trusting) for name in AGENTS}
        voters["erin"] = await system.spawn(Quiet)
        shared = {"store": MemoryLeaseStore(), "ledger": ledger, "voters": {"": voters}}

        majority = await system.spawn(Quorum, QuorumConfig(timeout=0.3), kwargs=shared)
        show(await propose(majority, "src/app.py", "alice", ttl=60.0, reason="refactor"))
        show(await propose(majority, "src/db.py", "mallory", reason="drop tables"))
        show(await propose(majority, "src/app.py", "bob", reason="hotfix"))

        unanimous = QuorumConfig(
            threshold=1.0, timeout=0.3, fallback="retry", retries=1, after_retries="defer"
        )
        quorum = await system.spawn(Quorum, unanimous, kwargs=shared)
        show(await propose(quorum, "docs/", "carol", reason="new chapter"))

        strict = await system.spawn(Quorum, QuorumConfig(threshold=1.0, timeout=0.3), kwargs=shared)
        show(await propose(strict, "docs/guide", "dave", reason="typo"))

        await ledger.flush()
        print("the ledger:")
        for record in await ledger.records():
            value = record.value()
            if record.kind == "quorum.decided":
                print(
                    f"  {record.seq} {record.kind} {value['holder']} -> {value['territory']}: "
                    f"{value['outcome']} ({value['reason']}), "
                    f"{len(value['votes'])} votes, threshold {value['required']}"
                )
            else:
                print(
                    f"  {record.seq} {record.kind} {value['territory']}: {value['reason']}, "
                    f"round {value['round']}"
                )
        leases = (await ledger.replay(lease_table_reducers())).state
        holders = {name: row["holder"] for name, row in sorted(leases["leases"].items())}
        print(f"the ledger replays to the lease table: {holders}, tokens {leases['tokens']}")
        history = (await ledger.replay(decision_history_reducers())).state
        outcomes = [d["outcome"] for d in history["decisions"].values()]
        print(f"and to {len(outcomes)} decisions: {outcomes}")


if __name__ == "__main__":
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    anyio.run(main)
