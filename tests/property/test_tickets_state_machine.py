"""The ticket lifecycle against a model: claims as leases on virtual time, late submits.

The table is driven exactly as the Tickets actor drives it (plan, then apply
the event), with the clock a number the machine advances. A plain model says
what each step must do; every event is also kept, and replaying them into a
fresh table (and through the SQLite store) gives the same bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import hypothesis.strategies as st
import pytest
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from actors.roles.tickets import (
    BadRequest,
    ClaimLost,
    Input,
    MemoryTicketStore,
    Pipeline,
    Stage,
    TicketTable,
)

if TYPE_CHECKING:
    from actors.roles.tickets._model import Event

PIPELINE = Pipeline((Stage("a", next="b"), Stage("b")), lease_ttl=10.0, max_attempts=3)
TTL = PIPELINE.lease_ttl


class ModelTicket:
    def __init__(self, tid: str, stage: str, number: int) -> None:
        self.id = tid
        self.stage = stage
        self.number = number
        self.status = "pending"
        self.token = 0
        self.expires = 0.0
        self.attempts = 0
        self.submits = 0


class TicketLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.table = TicketTable()
        self.now = 0.0
        self.events: list[Event] = []
        self.model: dict[str, ModelTicket] = {}
        self.runs: list[str] = []
        self.tokens_seen: dict[str, list[int]] = {}
        self.grants: list[tuple[str, int]] = []  # every (ticket, token) ever granted

    def commit(self, events: list[Any]) -> None:
        for event in events:
            self.table.apply(event)
            self.events.append(event)

    def sweep_model(self) -> None:
        for t in sorted(self.model.values(), key=lambda t: t.number):
            if t.status == "claimed" and t.expires <= self.now:
                t.attempts += 1
                t.status = "needs_review" if t.attempts >= PIPELINE.max_attempts else "pending"

    @rule(n=st.integers(1, 4))
    def create_run(self, n: int) -> None:
        created = self.table.plan_run(PIPELINE, [Input(f"src{i}", i) for i in range(n)], self.now)
        self.commit([created])
        self.runs.append(created.run.id)
        for t in created.tickets:
            self.model[t.id] = ModelTicket(t.id, "a", t.number)

    @precondition(lambda self: self.runs)
    @rule(run=st.integers(0, 10), stage=st.sampled_from(["a", "b"]))
    def claim(self, run: int, stage: str) -> None:
        run_id = self.runs[run % len(self.runs)]
        self.commit(self.table.plan_expiries(self.now))
        self.sweep_model()
        claimed = self.table.plan_claim(run_id, stage, "w", self.now)
        pending = sorted(
            (
                t
                for t in self.model.values()
                if t.id.startswith(run_id + ".") and t.stage == stage and t.status == "pending"
            ),
            key=lambda t: t.number,
        )
        if not pending:
            assert claimed is None
            return
        assert claimed is not None
        want = pending[0]
        assert claimed.ticket == want.id  # oldest first
        assert claimed.token == want.token + 1
        self.commit([claimed])
        want.status, want.token, want.expires = "claimed", claimed.token, self.now + TTL
        self.tokens_seen.setdefault(want.id, []).append(claimed.token)
        self.grants.append((want.id, claimed.token))

    def _holds(self, tid: str, token: int) -> bool:
        t = self.model[tid]
        return t.status == "claimed" and t.token == token and t.expires > self.now

    @precondition(lambda self: self.grants)
    @rule(pick=st.integers(0, 1000), fail=st.booleans())
    def submit(self, pick: int, fail: bool) -> None:
        tid, token = self.grants[pick % len(self.grants)]
        holds = self._holds(tid, token)
        try:
            submitted = self.table.plan_submit(
                tid, token, "failed" if fail else "completed", {"by": token}, [], self.now
            )
        except ClaimLost:
            assert not holds
            return
        assert holds
        self.commit([submitted])
        t = self.model[tid]
        t.status = "failed" if fail else "completed"
        t.submits += 1
        if not fail and t.stage == "a":
            (new,) = submitted.downstream
            assert new.parents == [tid]
            self.model[new.id] = ModelTicket(new.id, "b", new.number)
        else:
            assert submitted.downstream == []

    def stale_grants(self) -> list[tuple[str, int]]:
        return [(t, k) for t, k in self.grants if k < self.model[t].token]

    @precondition(lambda self: self.stale_grants())
    @rule(pick=st.integers(0, 1000), renew=st.booleans())
    def late_worker(self, pick: int, renew: bool) -> None:
        """A worker whose claim lapsed and was claimed again comes back: fenced off."""
        stale = self.stale_grants()
        tid, token = stale[pick % len(stale)]
        before = self.table.encode()
        if renew:
            with pytest.raises(ClaimLost, match=tid):
                self.table.plan_renew(tid, token, self.now)
        else:
            with pytest.raises(ClaimLost, match=tid):
                self.table.plan_submit(tid, token, "completed", "late", [], self.now)
        assert self.table.encode() == before

    @rule(stage=st.sampled_from(["a", "b"]))
    def lapse_and_reclaim(self, stage: str) -> None:
        """Claim, let the lease lapse, claim again: the path late workers take."""
        if not self.runs:
            return
        self.claim(len(self.runs) - 1, stage)
        self.now += TTL
        self.claim(len(self.runs) - 1, stage)

    @precondition(lambda self: self.grants)
    @rule(pick=st.integers(0, 1000))
    def renew(self, pick: int) -> None:
        tid, token = self.grants[pick % len(self.grants)]
        holds = self._holds(tid, token)
        try:
            renewed = self.table.plan_renew(tid, token, self.now)
        except ClaimLost:
            assert not holds
            return
        assert holds
        self.commit([renewed])
        self.model[tid].expires = self.now + TTL

    @rule(dt=st.sampled_from([0.5, 3.0, 9.99, 10.0, 25.0]))
    def advance(self, dt: float) -> None:
        self.now += dt

    @rule()
    def sweep(self) -> None:
        self.commit(self.table.plan_expiries(self.now))
        self.sweep_model()
        for t in self.table.tickets.values():
            assert not (t.status == "claimed" and (t.lease_expires or 0) <= self.now)

    @rule()
    def bad_pipeline_changes_nothing(self) -> None:
        before = self.table.encode()
        with pytest.raises(BadRequest, match="nope") as caught:
            self.table.plan_run(Pipeline((Stage("x", next="nope"),)), [Input("s")], self.now)
        assert caught.value.field == "pipeline.stages[0].next"
        assert self.table.encode() == before

    @invariant()
    def agrees_with_the_model(self) -> None:
        assert set(self.table.tickets) == set(self.model)
        for tid, m in self.model.items():
            t = self.table.tickets[tid]
            assert (t.status, t.token, t.attempts) == (m.status, m.token, m.attempts)
            assert m.submits <= 1  # no result applied twice
        for tokens in self.tokens_seen.values():
            assert tokens == sorted(set(tokens))  # strictly increasing per ticket

    @invariant()
    def replay_is_byte_identical(self) -> None:
        fresh = TicketTable()
        store = MemoryTicketStore()
        for i, event in enumerate(self.events):
            changed = fresh.apply(event)
            tickets = [fresh.tickets[t] for t in changed]
            store.save([fresh.runs[t.run] for t in tickets], tickets, i + 1)
        assert fresh.encode() == self.table.encode()
        assert store.load()[0].encode() == self.table.encode()
        assert TicketTable.decode(self.table.encode()).encode() == self.table.encode()


TicketLifecycle.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_ticket_lifecycle = TicketLifecycle.TestCase
