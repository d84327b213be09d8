"""The quorum actor as a state machine against a model of the decision rule.

A real :class:`Quorum` on virtual time, five scripted voters, one lease store
and a record list. Each proposal draws every voter's answer (yes, no, a
mismatched reply, silence) and its delay; the model folds the answers in
arrival order through the rule (granted at the threshold, rejected once the
no votes make it unreachable, failed once lost votes do, failed at the
deadline), applies the fallback, then the lease rules. Checked after every
step:

* the decision is the model's: outcome, reason, who decided, the token;
* votes were counted as they arrived and no further: the recorded votes are
  the model's arrival prefix up to the moment the outcome was certain;
* one record per proposal, the lease table replayed from the records is the
  store's, and never two holders (``tests/quorum_ledger.py``);
* bad votes (unknown proposal, duplicate, after the decision) are refused
  with their reason and change nothing else.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from tests.quorum_ledger import ListSink, check_records, fold

from actors import Actor, ActorSystem
from actors.roles.quorum import (
    Ballot,
    CastVote,
    Decision,
    GetQuorumStatistics,
    Propose,
    Quorum,
    QuorumConfig,
    Vote,
    VoteRejected,
    outcome,
    required,
)
from actors.roles.territories import MemoryLeaseStore, lease_table_reducers
from actors.testing import VirtualClock, VirtualEventLoop

VOTERS = ("v0", "v1", "v2", "v3", "v4")
TERRITORIES = ("a", "b")
TIMEOUT = 1.0
TTL = 12.0
ANSWERS = ("yes", "no", "mismatched", "silent")


class Busy(set[str]):
    """The voters still holding a ballot; ``idle`` is set when none is."""

    idle: asyncio.Event | None = None


class ScriptedVoter(Actor[Any]):
    def __init__(self, name: str, script: dict[str, tuple[str, float]], busy: Busy) -> None:
        self.name = name
        self.script = script
        self.busy = busy

    async def receive(self, message: Any) -> Any:
        if type(message) is not Ballot:
            return None
        answer, delay = self.script[self.name]
        self.busy.add(self.name)
        try:
            await asyncio.sleep(delay if answer != "silent" else TIMEOUT * 5)
        finally:
            self.busy.discard(self.name)
            if not self.busy and self.busy.idle is not None:
                self.busy.idle.set()
        if answer == "mismatched":
            return Vote("another-proposal", message.voter, True, message.round)
        return Vote(message.proposal, message.voter, answer == "yes", message.round)


def model_round(
    need: int, script: dict[str, tuple[str, float]]
) -> tuple[str, str, list[tuple[str, str]]]:
    """The rule folded over the answers in arrival order: (outcome, reason, votes counted)."""
    arrivals = sorted(
        (delay, index, name, answer)
        for index, (name, (answer, delay)) in enumerate(script.items())
        if answer != "silent" and delay < TIMEOUT
    )
    yes = no = lost = 0
    counted: list[tuple[str, str]] = []
    for _, _, name, answer in arrivals:
        if answer == "yes":
            yes += 1
        elif answer == "no":
            no += 1
        else:
            lost += 1
        counted.append((name, "error" if answer == "mismatched" else answer))
        result = outcome(need, len(script), yes, no, lost)
        if result is not None:
            reason = {"granted": "quorum", "rejected": "votes"}.get(result, "voter-error")
            return result, reason, counted
    done = {name for name, _ in counted}
    counted += [(name, "timeout") for name in script if name not in done]
    return "failed", "timeout", counted


class QuorumMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner(loop_factory=VirtualEventLoop)
        self.store = MemoryLeaseStore()
        self.sink = ListSink()
        self.script: dict[str, tuple[str, float]] = {}
        self.busy = Busy()
        self.leases: dict[str, tuple[str, float]] = {}  # territory -> (holder, expires)
        self.tokens: dict[str, int] = {}
        self.decisions: list[Decision] = []
        self.system: ActorSystem | None = None
        self.clock = VirtualClock()

    @initialize(
        threshold=st.sampled_from([None, 1, 3, 5, 0.4, 0.8, 1.0]),
        fallback=st.sampled_from(["deny", "retry", "defer"]),
    )
    def start(self, threshold: int | float | None, fallback: str) -> None:
        self.config = QuorumConfig(
            threshold=threshold,
            timeout=TIMEOUT,
            default_ttl=TTL,
            max_ttl=TTL,
            fallback=fallback,
            retries=1,
            backoff=0.25,
            after_retries="deny",
        )
        self.need = required(threshold, len(VOTERS))

        async def boot() -> None:
            system = ActorSystem("machine", clock=self.clock)
            await system.__aenter__()
            self.system = system
            voters = {
                name: await system.spawn(ScriptedVoter, name, self.script, self.busy)
                for name in VOTERS
            }
            self.quorum = await system.spawn(
                Quorum,
                self.config,
                kwargs={"store": self.store, "ledger": self.sink, "voters": {"": voters}},
            )

        self.runner.run(boot())

    def wall(self) -> float:
        async def read() -> float:
            return self.clock.wall()

        return self.runner.run(read())

    def teardown(self) -> None:
        system = self.system
        if system is not None:
            self.runner.run(system.__aexit__(None, None, None))
        self.runner.close()

    @rule(
        territory=st.sampled_from(TERRITORIES),
        holder=st.sampled_from(("x", "y", "z")),
        answers=st.lists(
            st.tuples(st.sampled_from(ANSWERS), st.integers(0, 9)),
            min_size=len(VOTERS),
            max_size=len(VOTERS),
        ),
    )
    def propose(self, territory: str, holder: str, answers: list[tuple[str, int]]) -> None:
        # Distinct delays (a tie's order would be the loop's, not the model's), all before
        # the deadline: only a silent voter times out.
        for index, (name, (answer, tenth)) in enumerate(zip(VOTERS, answers, strict=True)):
            self.script[name] = (answer, tenth / 10 + index / 1000)
        started = self.wall()
        decision = self.runner.run(self.quorum.ask(Propose(territory, holder)))
        assert isinstance(decision, Decision), decision
        result, reason, counted = model_round(self.need, self.script)
        rounds = 1
        decided_by = "quorum"
        if result == "failed":
            if self.config.fallback == "retry":
                rounds = 2
                counted = counted + [(n, a) for n, a in model_round(self.need, self.script)[2]]
            elif self.config.fallback == "defer":
                result, decided_by = "granted", "store"
        expected_votes = [(vote.voter, vote.answer) for vote in decision.votes]
        assert expected_votes == counted, (expected_votes, counted)
        assert decision.rounds == rounds
        assert decision.decided_by == decided_by
        if result == "granted":
            now = self.wall() if decision.lease is None else decision.lease.granted
            assert now >= started
            live = self.leases.get(territory)
            if live is not None and now < live[1]:
                result, reason = "rejected", "held"
            else:
                reason = "quorum" if decided_by == "quorum" else "store"
                self.tokens[territory] = self.tokens.get(territory, 0) + 1
                self.leases[territory] = (holder, now + TTL)
                assert decision.lease is not None
                assert decision.lease.token == self.tokens[territory]
        assert (decision.outcome, decision.reason) == (result, reason), decision
        assert (decision.lease is not None) == (result == "granted")
        self.decisions.append(decision)
        self.runner.run(self.settle())

    async def settle(self) -> None:
        """Let every voter finish the ballots it holds (the next proposal finds them idle)."""
        if self.busy.idle is None:
            self.busy.idle = asyncio.Event()
        if self.busy:
            self.busy.idle.clear()
            await self.busy.idle.wait()

    @rule(seconds=st.sampled_from([0.5, 2.0, 6.0, 15.0]))
    def wait(self, seconds: float) -> None:
        self.runner.run(asyncio.sleep(seconds))

    @rule(voter=st.sampled_from((*VOTERS, "stranger")))
    def vote_for_an_unknown_proposal(self, voter: str) -> None:
        self._refused(Vote("no-such-proposal", voter, True), "unknown-proposal")

    @precondition(lambda self: bool(self.decisions))
    @rule(data=st.data())
    def vote_after_the_decision(self, data: st.DataObject) -> None:
        decision = data.draw(st.sampled_from(self.decisions))
        voter = data.draw(st.sampled_from((*VOTERS, "stranger")))
        round_ = data.draw(st.sampled_from((decision.rounds, decision.rounds + 1)))
        answered = {
            v.voter for v in decision.votes if v.round == round_ and v.answer in ("yes", "no")
        }
        if voter == "stranger":
            reason = "unknown-voter"
        elif round_ != decision.rounds:
            reason = "stale-round"
        elif voter in answered:
            reason = "duplicate"
        else:
            reason = "decided"
        self._refused(Vote(decision.proposal, voter, True, round_), reason)

    def _refused(self, vote: Vote, reason: str) -> None:
        before = self.runner.run(self.quorum.ask(GetQuorumStatistics()))
        records, snapshot = len(self.sink.entries), self.store.snapshot()
        reply = self.runner.run(self.quorum.ask(CastVote(vote)))
        assert reply == VoteRejected(vote.proposal, vote.voter, reason)
        after = self.runner.run(self.quorum.ask(GetQuorumStatistics()))
        assert after.refused_votes == before.refused_votes + 1
        assert (after.proposals, after.granted) == (before.proposals, before.granted)
        assert (len(self.sink.entries), self.store.snapshot()) == (records, snapshot)

    @invariant()
    def the_ledger_tells_the_truth(self) -> None:
        entries = self.sink.entries
        assert check_records(entries) == []
        assert fold(lease_table_reducers(), entries) == self.store.snapshot()
        recorded = [p for kind, p in entries if kind == "quorum.decided"]
        assert [p["proposal"] for p in recorded] == [d.proposal for d in self.decisions]


QuorumMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_quorum_decides_as_the_model_does = QuorumMachine.TestCase
