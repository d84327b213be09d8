"""Agents contend for territories; a stale holder is refused; heat rises and an alert fires.

A territory manager leases files of a repository to agents. The repository
itself is an actor guarded by fencing: every write carries the writer's
fencing token, and a write under a lease that has ended is refused at the
repository's mailbox, before ``receive``.

1. alice leases ``src/app.py`` for a short TTL, writes, then stalls (a long
   GC pause, a partition). Her lease expires; maintenance reclaims it.
2. bob leases the file (token 2) and writes.
3. alice wakes up and writes under token 1: refused with StaleFencingToken.
4. carol, dave and erin all want ``src/app.py`` while bob holds it: each
   refusal heats the territory, and at the threshold the manager publishes
   a HeatAlert on ``territories.events`` (and records it in the ledger).

Run: ``python examples/territories.py``
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import anyio
import structlog

from actors import Actor, ActorSystem
from actors.ledger import open_ledger
from actors.roles.territories import (
    TERRITORY_EVENTS,
    AttachGuard,
    HeatAlert,
    HeatConfig,
    LeaseEnded,
    LeaseRefused,
    StaleFencingToken,
    TerritoryConfig,
    TerritoryManager,
    acquire,
    guard,
    lease_table_reducers,
)
from protocol import Message

FILE = "src/app.py"


class Write(Message, tag="example.territories.write"):
    territory: str
    fencing_token: int
    author: str
    text: str


class Repository(Actor[Any]):
    """The contested resource: it keeps what was written to each file."""

    def __init__(self) -> None:
        self.files: dict[str, list[str]] = {}

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Write):
            self.files.setdefault(message.territory, []).append(message.text)
            return f"{message.author} wrote {message.text!r}"
        return None


class Events(Actor[Any]):
    """Collects the manager's topic events and wakes whoever waits for one."""

    def __init__(self, seen: list[Any], arrived: asyncio.Event) -> None:
        self.seen = seen
        self.arrived = arrived

    async def receive(self, message: Any) -> Any:
        self.seen.append(message)
        self.arrived.set()


async def next_event(seen: list[Any], arrived: asyncio.Event, kind: type[Any]) -> Any:
    """The first event of ``kind`` (waiting at most 5 seconds for it)."""
    with anyio.fail_after(5.0):
        while True:
            for event in seen:
                if isinstance(event, kind):
                    seen.remove(event)
                    return event
            arrived.clear()
            await arrived.wait()


async def main() -> None:
    config = TerritoryConfig(
        maintenance_interval=0.05,  # lease aging on the system's maintenance pool
        heat=HeatConfig(half_life=60.0, threshold=3.0),
    )
    async with open_ledger() as ledger, ActorSystem("example") as system:
        seen: list[Any] = []
        arrived = asyncio.Event()
        events = await system.spawn(Events, seen, arrived)
        system.topics.subscribe(TERRITORY_EVENTS, events)
        manager = await system.spawn(TerritoryManager, config, kwargs={"ledger": ledger})
        repository = await system.spawn(Repository)
        guard(repository, [FILE])  # fencing at the repository's mailbox
        await manager.ask(AttachGuard(repository.path))  # ended leases are revoked there

        alice = await acquire(manager, FILE, "alice", ttl=0.2)
        print(f"alice leases {FILE} with token {alice.token}")
        print(await repository.ask(Write(FILE, alice.token, "alice", "v1")))

        ended = await next_event(seen, arrived, LeaseEnded)
        print(f"alice stalls; her lease {ended.how} (token {ended.token})")

        bob = await acquire(manager, FILE, "bob")
        print(f"bob leases {FILE} with token {bob.token}")
        print(await repository.ask(Write(FILE, bob.token, "bob", "v2")))

        try:
            await repository.ask(Write(FILE, alice.token, "alice", "v1-late"))
        except StaleFencingToken as refused:
            print(f"alice wakes up and writes: refused, {refused}")

        for agent in ("carol", "dave", "erin"):
            try:
                await acquire(manager, FILE, agent)
            except LeaseRefused as refused:
                print(f"{agent} wants {FILE}: refused, held by {refused.current_holder!r}")
        alert = await next_event(seen, arrived, HeatAlert)
        print(f"heat alert on {alert.territory}: heat {alert.heat:.1f} >= {alert.threshold}")

        await ledger.flush()
        replayed = await ledger.replay(lease_table_reducers())
        print(f"the ledger replays to the lease table: tokens {replayed.state['tokens']}")


if __name__ == "__main__":
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    anyio.run(main)
