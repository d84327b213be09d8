"""Leases and fencing as a state machine against a model.

Agents acquire, renew, release and write under what they *believe* they hold
(an agent never learns by itself that it lost a lease: its belief may be
stale); time moves forward, or jumps back; maintenance runs every ``PERIOD``
seconds of the manager's clock and reclaims expired leases; every ended lease
is revoked at the guard, as the manager does. Checked after every step:

* never two live holders of one territory (the store agrees with the model);
* tokens strictly increase per territory and never repeat;
* a write is accepted only under the territory's current lease: a holder that
  lost its lease never gets a write accepted;
* no lease outlives its TTL plus one maintenance period.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from actors.roles.territories import (
    FencingGuard,
    Lease,
    LeaseStore,
    MemoryLeaseStore,
    Refusal,
    SQLiteLeaseStore,
    StaleFencingToken,
)

PERIOD = 1.0
TERRITORIES = ("a", "b")
AGENTS = ("x", "y", "z")


class Write:
    def __init__(self, territory: str, fencing_token: int) -> None:
        self.territory = territory
        self.fencing_token = fencing_token


class LeaseMachine(RuleBasedStateMachine):
    store_kind = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.store: LeaseStore = (
            MemoryLeaseStore()
            if self.store_kind == "memory"
            else SQLiteLeaseStore(Path(self.folder.name) / "leases.db")
        )
        self.now = 1000.0
        self.next_tick = self.now + PERIOD
        # The model: the live (or not yet reclaimed) lease per territory, tokens issued.
        self.rows: dict[str, Lease] = {}
        self.issued: dict[str, list[int]] = {t: [] for t in TERRITORIES}
        # What each agent believes it holds (possibly stale).
        self.beliefs: dict[tuple[str, str], Lease] = {}
        self.guard = FencingGuard(TERRITORIES)

    def teardown(self) -> None:
        self.store.close()
        self.folder.cleanup()

    def _ended(self, lease: Lease) -> None:
        self.guard.revoke(lease.territory, lease.token)
        if self.rows.get(lease.territory) == lease:
            del self.rows[lease.territory]

    @rule(
        territory=st.sampled_from(TERRITORIES),
        agent=st.sampled_from(AGENTS),
        ttl=st.sampled_from([0.5, 1.5, 4.0]),
    )
    def acquire(self, territory: str, agent: str, ttl: float) -> None:
        row = self.rows.get(territory)
        result = self.store.acquire(territory, agent, ttl, self.now)
        if row is not None and self.now < row.expires:
            assert isinstance(result, Refusal)
            assert result.current == row
            return
        assert isinstance(result, Lease)
        assert self.store.take_reclaimed() == ([] if row is None else [row])
        if row is not None:
            self._ended(row)
        self.rows[territory] = result
        self.issued[territory].append(result.token)
        self.beliefs[territory, agent] = result

    @precondition(lambda self: bool(self.beliefs))
    @rule(data=st.data(), ttl=st.sampled_from([0.5, 1.5, 4.0]))
    def renew(self, data: st.DataObject, ttl: float) -> None:
        key = data.draw(st.sampled_from(sorted(self.beliefs)))
        belief = self.beliefs[key]
        row = self.rows.get(belief.territory)
        result = self.store.renew(belief.territory, belief.holder, belief.token, ttl, self.now)
        if row == belief and self.now < row.expires:
            assert isinstance(result, Lease)
            self.rows[belief.territory] = self.beliefs[key] = result
        elif row == belief:
            assert isinstance(result, Refusal)
            assert result.reason == "expired"
            assert self.store.take_reclaimed() == [row]
            self._ended(row)
        else:
            assert isinstance(result, Refusal)
            assert result.reason == "not-held"

    @precondition(lambda self: bool(self.beliefs))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.beliefs)))
        belief = self.beliefs.pop(key)
        row = self.rows.get(belief.territory)
        result = self.store.release(belief.territory, belief.holder, belief.token, self.now)
        if row == belief and self.now < row.expires:
            assert result == row
            self._ended(row)
        elif row == belief:
            assert isinstance(result, Refusal)
            assert result.reason == "expired"
            assert self.store.take_reclaimed() == [row]
            self._ended(row)
        else:
            assert isinstance(result, Refusal)

    @precondition(lambda self: bool(self.beliefs))
    @rule(data=st.data())
    def write(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.beliefs)))
        belief = self.beliefs[key]
        verdict = self.guard(Write(belief.territory, belief.token))
        row = self.rows.get(belief.territory)
        if verdict is None:
            # Accepted: only under the territory's current lease, by its holder.
            assert row is not None
            assert row.token == belief.token
            assert row.holder == belief.holder
        else:
            assert isinstance(verdict, StaleFencingToken)
            assert verdict.token == belief.token
            assert verdict.highest > belief.token

    @rule(step=st.sampled_from([0.2, 0.7, 1.3, 3.0]))
    def advance(self, step: float) -> None:
        target = self.now + step
        while self.next_tick <= target:  # maintenance on its schedule
            self.now = self.next_tick
            self.next_tick += PERIOD
            self._maintain()
        self.now = target

    @rule(back=st.sampled_from([0.5, 2.0]))
    def clock_jumps_back(self, back: float) -> None:
        self.now -= back
        self.next_tick = self.now + PERIOD

    def _maintain(self) -> None:
        gone = self.store.expire(self.now)
        expected = sorted(
            (row for row in self.rows.values() if self.now >= row.expires),
            key=lambda lease: lease.territory,
        )
        assert gone == expected
        for lease in gone:
            self._ended(lease)

    @invariant()
    def one_holder_per_territory_as_the_model_says(self) -> None:
        for territory in TERRITORIES:
            assert self.store.lease(territory) == self.rows.get(territory)

    @invariant()
    def tokens_strictly_increase_and_never_repeat(self) -> None:
        for territory, tokens in self.issued.items():
            assert tokens == sorted(set(tokens))
            assert self.store.last_token(territory) == (tokens[-1] if tokens else 0)

    @invariant()
    def no_lease_outlives_its_ttl_plus_one_period(self) -> None:
        for row in self.rows.values():
            assert self.now < row.expires + PERIOD


class SQLiteLeaseMachine(LeaseMachine):
    store_kind = "sqlite"


TestLeaseMachine = LeaseMachine.TestCase
TestLeaseMachine.settings = settings(max_examples=120, stateful_step_count=40, deadline=None)
TestSQLiteLeaseMachine = SQLiteLeaseMachine.TestCase
TestSQLiteLeaseMachine.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
