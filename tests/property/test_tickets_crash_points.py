"""Crashes at arbitrary points: acknowledged submits survive, lost claims stay fenced.

A history of claims (answered before their record commits) and submits
(answered after) is cut at a random point: the durable part is every event up
to the last one that was waited for. The restarted table (recovery applied)
keeps every acknowledged submit, holds no claim, and never hands out a token a
worker of the old process still holds.
"""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given, settings

from actors.roles.tickets import ClaimLost, Input, Pipeline, Stage, TicketTable
from actors.roles.tickets._model import Claimed, Event, Submitted

PIPELINE = Pipeline((Stage("a", next="b"), Stage("b")), lease_ttl=100.0, max_attempts=50)


@settings(max_examples=150, deadline=None)
@given(
    inputs=st.integers(1, 5),
    ops=st.lists(st.tuples(st.sampled_from(["claim", "submit"]), st.integers(0, 20)), max_size=40),
    cut=st.integers(0, 200),
)
def test_a_crash_anywhere_keeps_acknowledged_submits_and_fences_lost_claims(
    inputs: int, ops: list[tuple[str, int]], cut: int
) -> None:
    table = TicketTable()
    events: list[Event] = [table.plan_run(PIPELINE, [Input(str(i)) for i in range(inputs)], 0.0)]
    table.apply(events[0])
    waited = [0]  # indexes of events whose commit was awaited before answering
    held: list[tuple[str, int]] = []
    for op, pick in ops:
        if op == "claim":
            claimed = table.plan_claim("run-1", "a" if pick % 2 else "b", "w", 1.0)
            if claimed is not None:
                table.apply(claimed)
                events.append(claimed)
                held.append((claimed.ticket, claimed.token))
        elif held:
            tid, token = held.pop(pick % len(held))
            submitted = table.plan_submit(tid, token, "completed", {"t": token}, [], 1.0)
            table.apply(submitted)
            events.append(submitted)
            waited.append(len(events) - 1)
    crash = cut % (len(events) + 1)  # the first `crash` events were chained before the kill
    durable_upto = max(i for i in waited if i < max(crash, 1)) + 1
    # Chain order: a committed record implies every earlier one committed; a
    # claim chained later may or may not have made it. Take the worst case.
    durable = events[:durable_upto]
    restarted = TicketTable()
    for event in durable:
        restarted.apply(event)
    for event in restarted.plan_recovery():
        restarted.apply(event)
    assert all(t.status != "claimed" for t in restarted.tickets.values())
    for event in durable:
        if isinstance(event, Submitted):
            assert restarted.tickets[event.ticket].status == "completed"
            assert restarted.tickets[event.ticket].output == event.output
    # Every token the old process answered with, committed or not, is dead now.
    answered = [e for e in events[:crash] if isinstance(e, Claimed)]
    for claim in answered:
        ticket = restarted.tickets[claim.ticket]
        if ticket.status == "completed":
            continue
        again = restarted.plan_claim("run-1", ticket.worker_type, "new", 2.0)
        if again is not None:
            restarted.apply(again)  # someone new holds it now, if it is this ticket
            if again.ticket == claim.ticket:
                assert again.token > claim.token
        try:
            restarted.plan_submit(claim.ticket, claim.token, "completed", None, [], 2.0)
        except ClaimLost:
            pass
        else:
            raise AssertionError(f"a stale token {claim.token} on {claim.ticket} was accepted")
