"""The Tickets actor: runs, claims as fenced leases, cascades, expiry, ledger agreement."""

from __future__ import annotations

from typing import Any

import pytest

from actors import ActorSystem
from actors.ledger import open_ledger
from actors.roles.tickets import (
    Accepted,
    Checkpoint,
    Claim,
    ClaimGrant,
    ClaimLost,
    Concern,
    CreateRun,
    GetConcerns,
    GetStatus,
    GetTicket,
    Input,
    ListRuns,
    MemoryTicketStore,
    NoWork,
    Pipeline,
    Refusal,
    Renew,
    RunCreatedReply,
    RunStatus,
    SQLiteTicketStore,
    Stage,
    Submit,
    Sweep,
    Ticket,
    Tickets,
    TicketTable,
    replay_table,
)
from tests.helpers import WAIT, ManualClock, wait_until

pytestmark = pytest.mark.anyio

PIPELINE = Pipeline(
    (
        Stage("parse", next="translate", fan_out="parts"),
        Stage("translate", next="curate"),
        Stage("curate"),
    ),
    lease_ttl=10.0,
    max_attempts=2,
)


async def ask(ref: Any, message: Any) -> Any:
    return await ref.ask(message, timeout=WAIT)


async def test_three_stage_cascade_keeps_links_and_completes() -> None:
    clock = ManualClock()
    async with open_ledger() as ledger, ActorSystem("t", clock=clock, ledger=ledger) as system:
        store = MemoryTicketStore()
        tickets = await system.spawn(Tickets, ledger, store, name="tickets")
        created = await ask(tickets, CreateRun(PIPELINE, [Input("doc-1", "a b")]))
        assert isinstance(created, RunCreatedReply)
        run = created.run
        grant = await ask(tickets, Claim("parse", "w1", run))
        assert isinstance(grant, ClaimGrant)
        assert grant.ticket.input == "a b"
        assert grant.lease_ttl == 10.0
        accepted = await ask(
            tickets,
            Submit(
                grant.ticket.id,
                grant.token,
                output={"parts": ["a", "b"]},
                concerns=(Concern("info", "split on spaces"),),
            ),
        )
        assert isinstance(accepted, Accepted)
        assert len(accepted.downstream) == 2
        for _ in range(2):
            g = await ask(tickets, Claim("translate", "w2", run))
            assert isinstance(g, ClaimGrant)
            assert g.ticket.parents == [grant.ticket.id]
            assert g.ticket.sources == ["doc-1"]
            await ask(tickets, Submit(g.ticket.id, g.token, output=g.ticket.input.upper()))
        assert isinstance(await ask(tickets, Claim("translate", "w2", run)), NoWork)
        for _ in range(2):
            g = await ask(tickets, Claim("curate", "w3", run))
            assert g.ticket.sources == ["doc-1"]
            await ask(tickets, Submit(g.ticket.id, g.token, output="ok"))
        status = await ask(tickets, GetStatus(run))
        assert isinstance(status, RunStatus)
        assert status.done
        assert status.stuck == 0
        assert status.counts["translate"]["completed"] == 2
        assert status.concerns == {"info": 1, "review": 0, "error": 0}
        concerns = await ask(tickets, GetConcerns(run))
        assert [c.ticket for c in concerns] == [grant.ticket.id]
        runs = await ask(tickets, ListRuns())
        assert [(r.run, r.tickets, r.done) for r in runs] == [(run, 5, True)]
        replayed = await replay_table(ledger)
        await ask(tickets, Checkpoint())
        assert replayed.encode() == store.load()[0].encode()


async def test_oldest_pending_first_and_fair_across_runs() -> None:
    clock = ManualClock()
    async with ActorSystem("t", clock=clock) as system:
        tickets = await system.spawn(Tickets)
        one = Pipeline((Stage("s"),))
        a = await ask(tickets, CreateRun(one, [Input("a0"), Input("a1")]))
        b = await ask(tickets, CreateRun(one, [Input("b0")]))
        got = []
        for _ in range(3):
            g = await ask(tickets, Claim("s", "w"))
            got.append(g.ticket.sources[0])
        assert got == ["a0", "b0", "a1"]
        assert isinstance(await ask(tickets, Claim("s", "w")), NoWork)
        assert a.run != b.run


async def test_lapsed_claim_returns_to_pending_then_needs_review_and_late_submit_refused() -> None:
    clock = ManualClock()
    async with ActorSystem("t", clock=clock) as system:
        tickets = await system.spawn(Tickets, None, None, 1.0)
        run = (await ask(tickets, CreateRun(PIPELINE, [Input("d", "x")]))).run
        first = await ask(tickets, Claim("parse", "w1", run))
        clock.advance(5.0)
        renewed = await ask(tickets, Renew(first.ticket.id, first.token))
        assert isinstance(renewed, ClaimGrant)
        clock.advance(10.0)  # lease lapses: 15 > 5 + 10
        await ask(tickets, Sweep())
        t = await ask(tickets, GetTicket(run, first.ticket.id))
        assert isinstance(t, Ticket)
        assert (t.status, t.attempts) == ("pending", 1)
        late = await ask(tickets, Submit(first.ticket.id, first.token, output={"parts": []}))
        assert isinstance(late, Refusal)
        assert (late.code, late.status) == ("claim_lost", 409)
        second = await ask(tickets, Claim("parse", "w2", run))
        assert second.token > first.token
        stale_renew = await ask(tickets, Renew(first.ticket.id, first.token))
        assert isinstance(stale_renew, Refusal)
        assert stale_renew.code == "claim_lost"
        clock.advance(11.0)
        # The claim itself sweeps first: the second lapse spends max_attempts=2.
        assert isinstance(await ask(tickets, Claim("parse", "w3", run)), NoWork)
        t = await ask(tickets, GetTicket(run, first.ticket.id))
        assert (t.status, t.attempts) == ("needs_review", 2)
        status = await ask(tickets, GetStatus(run))
        assert status.done
        assert status.stuck == 0


async def test_bad_requests_are_refused_naming_the_field_and_change_nothing() -> None:
    async with ActorSystem("t") as system:
        tickets = await system.spawn(Tickets)
        bad = await ask(tickets, CreateRun(Pipeline((Stage("a", next="zzz"),)), [Input("s")]))
        assert isinstance(bad, Refusal)
        assert bad.field == "pipeline.stages[0].next"
        assert "zzz" in bad.message
        empty = await ask(tickets, CreateRun(PIPELINE, []))
        assert empty.field == "inputs"
        missing = await ask(tickets, GetStatus("run-9"))
        assert (missing.code, missing.status) == ("not_found", 404)
        run = (await ask(tickets, CreateRun(PIPELINE, [Input("d")]))).run
        g = await ask(tickets, Claim("parse", "w", run))
        no_list = await ask(tickets, Submit(g.ticket.id, g.token, output={"parts": 3}))
        assert no_list.field == "output.parts"
        # nothing was applied: the claim still holds and a good submit goes through
        ok = await ask(tickets, Submit(g.ticket.id, g.token, output={"parts": []}))
        assert isinstance(ok, Accepted)
        assert ok.downstream == []
        twice = await ask(tickets, Submit(g.ticket.id, g.token, output={"parts": []}))
        assert twice.code == "claim_lost"
        bad_level = await ask(tickets, GetConcerns(run, "loud"))
        assert bad_level.field == "level"
        assert (await ask(tickets, Claim("", "w", run))).field == "worker_type"


@pytest.mark.parametrize("durable", [False, True])
async def test_restart_loads_the_store_catches_up_from_the_ledger_and_ends_old_claims(
    durable: bool, tmp_path: Any
) -> None:
    store: Any = SQLiteTicketStore(tmp_path / "t.db") if durable else MemoryTicketStore()
    async with open_ledger(tmp_path / "l.db") as ledger:
        async with ActorSystem("t", ledger=ledger) as system:
            tickets = await system.spawn(Tickets, ledger, store)
            run = (await ask(tickets, CreateRun(PIPELINE, [Input("d"), Input("e")]))).run
            g = await ask(tickets, Claim("parse", "w", run))
            await ask(tickets, Submit(g.ticket.id, g.token, output={"parts": ["p"]}))
            await ask(tickets, Claim("parse", "w", run))
        # The store missed the last transitions (a crash between ledger and store):
        behind = MemoryTicketStore() if not durable else store
        async with ActorSystem("t2", ledger=ledger) as system:
            tickets = await system.spawn(Tickets, ledger, behind)
            status = await ask(tickets, GetStatus(run))
            assert status.counts["parse"] == {
                "pending": 1,
                "claimed": 0,
                "completed": 1,
                "failed": 0,
                "needs_review": 0,
            }
            assert status.counts["translate"]["pending"] == 1
        replayed = await replay_table(ledger)
        reloaded, applied = store.load() if durable else behind.load()
        assert reloaded.encode() == replayed.encode()
        assert applied > 0
    if durable:
        store.close()


async def test_a_claim_rides_with_its_submit_in_one_ledger_commit(tmp_path: Any) -> None:
    async with (
        open_ledger(tmp_path / "l.db") as ledger,
        ActorSystem("t", ledger=ledger) as system,
    ):
        tickets = await system.spawn(Tickets, ledger, MemoryTicketStore())
        run = (await ask(tickets, CreateRun(PIPELINE, [Input("d")]))).run
        before = ledger.statistics()
        grant = await ask(tickets, Claim("parse", "w", run))
        assert ledger.committed_seq == before.committed_seq  # not committed on its own
        await ask(tickets, Submit(grant.ticket.id, grant.token, output={"parts": ["p"]}))
        after = ledger.statistics()
        assert after.committed_seq == after.head_seq  # the answered submit is committed
        assert after.batches - before.batches == 1
        assert after.records_committed - before.records_committed == 2


def test_a_claim_lost_in_a_crash_is_never_handed_out_again() -> None:
    """A claim is answered before its record commits; a restart fences its token."""
    durable = TicketTable()
    durable.apply(durable.plan_run(PIPELINE, [Input("d")], 0.0))
    lost = durable.plan_claim("run-1", "parse", "old-worker", 0.0)  # answered, never committed
    assert lost is not None
    restarted = TicketTable.decode(durable.encode())
    for event in restarted.plan_recovery():
        restarted.apply(event)
    again = restarted.plan_claim("run-1", "parse", "new-worker", 1.0)
    assert again is not None
    assert again.token > lost.token
    restarted.apply(again)
    with pytest.raises(ClaimLost):
        restarted.plan_submit(lost.ticket, lost.token, "completed", {"parts": []}, [], 1.0)


async def test_the_maintenance_sweep_reclaims_a_silent_claim_on_virtual_time() -> None:
    clock = ManualClock()
    store = MemoryTicketStore()
    async with ActorSystem("t", clock=clock) as system:
        tickets = await system.spawn(Tickets, None, store, 1.0)
        run = (await ask(tickets, CreateRun(PIPELINE, [Input("d")]))).run
        grant = await ask(tickets, Claim("parse", "silent", run))
        await ask(tickets, Checkpoint())
        before = store.applied
        clock.advance(11.0)  # past the 10 s lease; the system's maintenance job ticks
        # The tick's Sweep travels pool -> loop -> mailbox; the sweep flushes the store.
        await wait_until(lambda: store.applied > before)
        ticket = await ask(tickets, GetTicket(run, grant.ticket.id))
        assert (ticket.status, ticket.attempts) == ("pending", 1)
        assert (await ask(tickets, GetStatus(run))).stuck == 0
