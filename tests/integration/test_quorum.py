"""The quorum actor in an actor system: votes, outcomes, fallbacks, alerts, heat, ledger.

On virtual time (a silent voter's deadline passes at once). Ported cases:
etcd/Raft's majority of 3 and 5 with one and two voters lost (granted with
one down of three, failed with two), and Chubby's "the lock service, not the
vote, names the holder": a granted quorum still takes its lease (and fencing
token) from the store, which refuses while another lease is live.
"""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import msgspec
import pytest
from structlog.testing import capture_logs

from actors import Actor, ActorRef, ActorStopped, ActorSystem
from actors.ledger import open_ledger
from actors.roles.quorum import (
    QUORUM_ALERT,
    QUORUM_DECIDED,
    QUORUM_EVENTS,
    CastVote,
    Decision,
    GetDecision,
    GetQuorumStatistics,
    InvalidThreshold,
    NoVoters,
    ProposalRefused,
    Propose,
    Quorum,
    QuorumAlert,
    QuorumConfig,
    Registered,
    RegisterVoter,
    UnregisterVoter,
    Vote,
    Voter,
    VoteRejected,
    decision_history_reducers,
    propose,
)
from actors.roles.territories import (
    Acquire,
    GetHeat,
    HeatConfig,
    MemoryLeaseStore,
    Refused,
    TerritoryConfig,
    TerritoryManager,
    lease_table_reducers,
)
from actors.supervision import ChildSpec
from actors.testing import VirtualEventLoop

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    """Virtual time: deadlines and backoffs pass without waiting (standard asyncio only)."""
    return ("asyncio", {"loop_factory": VirtualEventLoop})


class Silent(Actor[Any]):
    async def receive(self, message: Any) -> Any:
        await anyio.sleep(3600)


class Broken(Actor[Any]):
    async def receive(self, message: Any) -> Any:
        raise RuntimeError("no opinion")


class Collector(Actor[Any]):
    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        self.seen.append(message)


async def _voters(system: ActorSystem, *policies: Any) -> dict[str, ActorRef[Any]]:
    voters: dict[str, ActorRef[Any]] = {}
    for i, policy in enumerate(policies):
        if policy is Silent or policy is Broken:
            voters[f"v{i}"] = await system.spawn(policy)
        else:
            voters[f"v{i}"] = await system.spawn(Voter, policy)
    return voters


def yes(ballot: Any) -> bool:
    return True


def no(ballot: Any) -> tuple[bool, str]:
    return False, "not now"


async def test_a_majority_grants_and_the_lease_comes_from_the_store() -> None:
    async with open_ledger() as ledger, ActorSystem("q") as system:
        store = MemoryLeaseStore()
        voters = await _voters(system, yes, yes, no)
        quorum = await system.spawn(
            Quorum, kwargs={"store": store, "ledger": ledger, "voters": {"": voters}}
        )
        decision = await propose(quorum, "docs/", "alice", ttl=30.0, reason="rewrite")
        assert (decision.outcome, decision.reason, decision.decided_by) == (
            "granted",
            "quorum",
            "quorum",
        )
        assert decision.required == 2
        assert decision.lease is not None
        assert decision.lease.token == 1
        assert store.lease("docs/") == decision.lease
        # The store, not the vote, decides who holds: a second unanimous grant is refused.
        second = await propose(quorum, "docs/", "bob")
        assert (second.outcome, second.reason, second.lease) == ("rejected", "held", None)
        assert await quorum.ask(GetDecision(decision.proposal)) == decision
        await ledger.flush()
        records = [r for r in await ledger.records() if r.kind == QUORUM_DECIDED]
        assert [r.value()["proposal"] for r in records] == [decision.proposal, second.proposal]
        first = records[0].value()
        assert first["why"] == "rewrite"
        assert [(v["voter"], v["answer"]) for v in first["votes"]][:2] == [
            ("v0", "yes"),
            ("v1", "yes"),
        ]
        assert first["lease"]["token"] == 1
        replayed = await ledger.replay(lease_table_reducers())
        assert replayed.state == store.snapshot()
        epoch = await ledger.replay_epoch(ledger.epoch, lease_table_reducers())
        assert epoch.state == store.snapshot()
        history = (await ledger.replay(decision_history_reducers())).state
        assert set(history["decisions"]) == {decision.proposal, second.proposal}
        assert history["duplicates"] == 0


async def test_no_votes_reject_as_soon_as_the_threshold_is_out_of_reach() -> None:
    async with ActorSystem("q") as system:
        voters = await _voters(system, no, no, Silent)
        quorum = await system.spawn(Quorum, kwargs={"voters": {"": voters}})
        start = anyio.current_time()
        decision = await propose(quorum, "t", "alice")
        assert (decision.outcome, decision.reason) == ("rejected", "votes")
        assert anyio.current_time() == start  # not a moment waited for the silent voter
        assert [v.answer for v in decision.votes] == ["no", "no"]


async def test_one_lost_voter_of_three_still_grants_two_lost_fail_at_the_deadline() -> None:
    async with open_ledger() as ledger, ActorSystem("q") as system:
        seen: list[Any] = []
        system.topics.subscribe(QUORUM_EVENTS, await system.spawn(Collector, seen))
        one_down = await _voters(system, yes, yes, Silent)
        two_down = await _voters(system, yes, Silent, Silent)
        config = QuorumConfig(timeout=2.0)
        quorum = await system.spawn(
            Quorum,
            config,
            kwargs={"ledger": ledger, "voters": {"": one_down, "pair": two_down}},
        )
        granted = await propose(quorum, "t", "alice")
        assert granted.outcome == "granted"
        start = anyio.current_time()
        with capture_logs() as logs:
            failed = await quorum.ask(Propose("u", "bob", group="pair"))
        assert isinstance(failed, Decision)
        assert (failed.outcome, failed.reason) == ("failed", "timeout")
        assert anyio.current_time() - start == pytest.approx(2.0)
        assert sorted(v.answer for v in failed.votes) == ["timeout", "timeout", "yes"]
        assert any(e["event"] == "quorum_failed" and e["reason"] == "timeout" for e in logs)
        await anyio.lowlevel.checkpoint()
        assert seen == [QuorumAlert(failed.proposal, "u", "timeout", 1, 1)]
        await ledger.flush()
        kinds = [r.kind for r in await ledger.records()]
        assert kinds == [QUORUM_DECIDED, QUORUM_ALERT, QUORUM_DECIDED]


async def test_a_voter_error_and_an_unreachable_voter_fail_the_round_with_their_reason() -> None:
    async with ActorSystem("q") as system:
        broken = await _voters(system, Broken, Broken, yes)
        gone = await _voters(system, yes, yes, yes)
        for ref in list(gone.values())[:2]:
            await system.stop(ref)
        quorum = await system.spawn(Quorum, kwargs={"voters": {"b": broken, "g": gone}})
        errored = await quorum.ask(Propose("t", "a", group="b"))
        assert isinstance(errored, Decision)
        assert (errored.outcome, errored.reason) == ("failed", "voter-error")
        unreachable = await quorum.ask(Propose("t", "a", group="g"))
        assert isinstance(unreachable, Decision)
        assert (unreachable.outcome, unreachable.reason) == ("failed", "unreachable")


async def test_retry_votes_again_after_a_backoff_and_can_then_grant() -> None:
    async def late_first_time(ballot: Any) -> bool:
        if ballot.round == 1:
            await anyio.sleep(1.5)  # the first round misses its deadline
        return True

    async with ActorSystem("q") as system:
        voters = {f"v{i}": await system.spawn(Voter, late_first_time) for i in range(3)}
        config = QuorumConfig(timeout=1.0, fallback="retry", retries=2, backoff=0.5)
        quorum = await system.spawn(Quorum, config, kwargs={"voters": {"": voters}})
        start = anyio.current_time()
        decision = await propose(quorum, "t", "alice")
        assert (decision.outcome, decision.rounds) == ("granted", 2)
        assert [v.answer for v in decision.votes] == ["timeout"] * 3 + ["yes"] * 2
        assert anyio.current_time() - start == pytest.approx(1.5)
        stats = await quorum.ask(GetQuorumStatistics())
        assert (stats.retries, stats.alerts, stats.granted, stats.failed) == (1, 1, 1, 0)


async def test_defer_lets_the_lease_store_decide_alone() -> None:
    async with ActorSystem("q") as system:
        store = MemoryLeaseStore()
        voters = await _voters(system, Silent, Silent, Silent)
        config = QuorumConfig(timeout=1.0, fallback="defer")
        quorum = await system.spawn(Quorum, config, kwargs={"store": store, "voters": {"": voters}})
        first = await propose(quorum, "t", "alice")
        assert (first.outcome, first.reason, first.decided_by) == ("granted", "store", "store")
        assert first.lease is not None
        second = await propose(quorum, "t", "bob")
        assert (second.outcome, second.reason, second.decided_by) == ("rejected", "held", "store")
        stats = await quorum.ask(GetQuorumStatistics())
        assert (stats.deferred, stats.alerts) == (2, 2)


async def test_repeated_failures_on_one_territory_raise_its_heat() -> None:
    async with ActorSystem("q") as system:
        manager = await system.spawn(
            TerritoryManager, TerritoryConfig(heat=HeatConfig(threshold=100.0))
        )
        voters = await _voters(system, Silent, Silent, Silent)
        config = QuorumConfig(timeout=0.5, heat_after=2, heat_amount=1.0)
        quorum = await system.spawn(
            Quorum, config, kwargs={"voters": {"": voters}, "heat": manager}
        )
        for _ in range(4):
            assert (await propose(quorum, "hot", "alice")).outcome == "failed"
        await propose(quorum, "cold", "alice")
        report = await manager.ask(GetHeat())
        assert report.heat.get("hot", 0.0) == pytest.approx(2.0, rel=0.01)  # failures 3 and 4
        assert "cold" not in report.heat


async def test_bad_votes_are_refused_counted_and_change_nothing_else() -> None:
    async with open_ledger() as ledger, ActorSystem("q") as system:
        voters = await _voters(system, yes, yes, no)
        quorum = await system.spawn(Quorum, kwargs={"ledger": ledger, "voters": {"": voters}})
        decision = await propose(quorum, "t", "alice")
        await ledger.flush()
        before = await quorum.ask(GetQuorumStatistics())
        records = ledger.head_seq
        cases = [
            (Vote("nope", "v0", True), "unknown-proposal"),
            (Vote(decision.proposal, "mallory", True), "unknown-voter"),
            (Vote(decision.proposal, "v0", False), "duplicate"),
            (Vote(decision.proposal, "v0", True, round=2), "stale-round"),
        ]
        with capture_logs() as logs:
            for vote, reason in cases:
                assert await quorum.ask(CastVote(vote)) == VoteRejected(
                    vote.proposal, vote.voter, reason
                )
            assert await quorum.ask(Vote("nope", "v1", True)) == VoteRejected(
                "nope", "v1", "unknown-proposal"
            )
        refused = [e for e in logs if e["event"] == "quorum_vote_refused"]
        assert [e["reason"] for e in refused] == [reason for _, reason in cases] + [
            "unknown-proposal"
        ]
        after = await quorum.ask(GetQuorumStatistics())
        assert after.refused_votes == before.refused_votes + 5
        assert msgspec.structs.replace(after, refused_votes=0) == msgspec.structs.replace(
            before, refused_votes=0
        )
        await ledger.flush()
        assert ledger.head_seq == records
        assert (await quorum.ask(GetDecision(decision.proposal))) == decision


async def test_a_vote_after_the_decision_from_a_voter_never_heard_is_refused_as_decided() -> None:
    async with ActorSystem("q") as system:
        voters = await _voters(system, yes, yes, Silent)
        quorum = await system.spawn(Quorum, kwargs={"voters": {"": voters}})
        decision = await propose(quorum, "t", "alice")
        late = Vote(decision.proposal, "v2", True)
        assert await quorum.ask(CastVote(late)) == VoteRejected(decision.proposal, "v2", "decided")


async def test_bad_proposals_are_refused_before_any_vote_and_nothing_is_recorded() -> None:
    async with open_ledger() as ledger, ActorSystem("q") as system:
        voters = await _voters(system, yes, yes, yes)
        config = QuorumConfig(threshold=4, max_ttl=60.0)
        quorum = await system.spawn(
            Quorum, config, kwargs={"ledger": ledger, "voters": {"": voters}}
        )
        with pytest.raises(InvalidThreshold, match="above the voter count") as caught:
            await propose(quorum, "t", "alice")
        assert (caught.value.threshold, caught.value.voters) == (4, 3)
        with pytest.raises(NoVoters):
            await propose(quorum, "t", "alice", group="nobody")
        too_long = await quorum.ask(Propose("t", "alice", ttl=3600.0))
        assert isinstance(too_long, ProposalRefused)
        assert too_long.reason == "invalid-ttl"
        stats = await quorum.ask(GetQuorumStatistics())
        assert (stats.proposals, stats.refused_proposals) == (0, 3)
        await ledger.flush()
        assert ledger.head_seq == 0


async def test_a_proposal_id_is_decided_once() -> None:
    async with ActorSystem("q") as system:
        voters = await _voters(system, yes)
        quorum = await system.spawn(Quorum, kwargs={"voters": {"": voters}})
        first = await quorum.ask(Propose("t", "alice", proposal="p-1"))
        assert isinstance(first, Decision)
        again = await quorum.ask(Propose("u", "bob", proposal="p-1"))
        assert isinstance(again, ProposalRefused)
        assert again.reason == "duplicate-id"


async def test_voters_register_by_address_and_one_actor_has_one_vote() -> None:
    async with ActorSystem("q") as system:
        voter = await system.spawn(Voter, name="alice-agent")
        quorum = await system.spawn(Quorum)
        assert await quorum.ask(RegisterVoter("alice", voter.path, "docs")) == Registered(
            "docs", ("alice",)
        )
        twice = await quorum.ask(RegisterVoter("alice-again", voter.address, "docs"))
        assert twice == VoteRejected("", "alice-again", "already-registered")
        nowhere = await quorum.ask(RegisterVoter("ghost", "/user/ghost", "docs"))
        assert nowhere == VoteRejected("", "ghost", "unresolvable-address")
        config_groups = await quorum.ask(Propose("docs/a", "h", group="docs"))
        assert isinstance(config_groups, Decision)
        assert config_groups.voters == 1
        assert await quorum.ask(UnregisterVoter("alice", "docs")) == Registered("docs", ())


async def test_territory_groups_pick_their_electorate() -> None:
    async with ActorSystem("q") as system:
        docs = await _voters(system, no)
        everyone = await _voters(system, yes)
        config = QuorumConfig(groups={"docs/": "docs"})
        quorum = await system.spawn(Quorum, config, kwargs={"voters": {"docs": docs, "": everyone}})
        assert (await propose(quorum, "docs/", "a")).outcome == "rejected"
        assert (await propose(quorum, "src/", "a")).outcome == "granted"


async def test_statistics_give_latency_percentiles_and_response_rates() -> None:
    async with ActorSystem("q") as system:
        voters = await _voters(system, yes, yes, Silent)
        quorum = await system.spawn(
            Quorum, QuorumConfig(timeout=1.0), kwargs={"voters": {"": voters}}
        )
        for territory in "abcd":
            await propose(quorum, territory, "h")
        stats = await quorum.ask(GetQuorumStatistics())
        assert (stats.proposals, stats.granted) == (4, 4)
        assert stats.voters["v0"].response_rate == 1.0
        assert stats.voters["v2"].asked == 4
        assert stats.voters["v2"].response_rate == 0.0
        assert 0.0 <= stats.latency_p50 <= stats.latency_p90 <= stats.latency_p99 < 1.0


async def test_a_manager_sharing_the_store_and_ledger_sees_quorum_leases() -> None:
    async with open_ledger() as ledger, ActorSystem("q") as system:
        store = MemoryLeaseStore()
        voters = await _voters(system, yes)
        quorum = await system.spawn(
            Quorum, kwargs={"store": store, "ledger": ledger, "voters": {"": voters}}
        )
        manager = await system.spawn(TerritoryManager, kwargs={"store": store, "ledger": ledger})
        granted = await propose(quorum, "t", "alice", ttl=5.0)
        refused = await manager.ask(Acquire("t", "bob"))
        assert isinstance(refused, Refused)
        assert refused.current_holder == "alice"
        # A manager rebuilt from the ledger alone knows the quorum's lease and token.
        rebuilt = await system.spawn(TerritoryManager, kwargs={"ledger": ledger})
        await ledger.flush()
        again = await rebuilt.ask(Acquire("t", "carol"))
        assert isinstance(again, Refused)
        assert granted.lease is not None
        assert again.current_token == granted.lease.token


async def test_a_quorum_killed_mid_vote_still_records_the_proposal_once() -> None:
    ballots_out = anyio.Event()
    held: list[Any] = []

    async def hold(ballot: Any) -> bool:
        held.append(ballot)
        if len(held) == 3:
            ballots_out.set()
        await anyio.sleep(3600)
        return True

    async with open_ledger() as ledger, ActorSystem("q") as system:
        voters = {f"v{i}": await system.spawn(Voter, hold) for i in range(3)}
        spec = ChildSpec(
            Quorum,
            args=(QuorumConfig(timeout=100.0),),
            kwargs={"store": MemoryLeaseStore(), "ledger": ledger, "voters": {"": voters}},
            shutdown=0.5,  # a stop waits this long for the current proposal, then kills it
        )
        quorum = await system.spawn_spec(spec)
        replies: list[Any] = []

        async def proposer() -> None:
            try:
                replies.append(await quorum.ask(Propose("t", "alice", proposal="p")))
            except ActorStopped as exc:
                replies.append(exc)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(proposer)
            with anyio.fail_after(10.0):
                await ballots_out.wait()
            await system.stop(quorum)
        assert isinstance(replies[0], ActorStopped)
        await ledger.flush()
        decided = [r.value() for r in await ledger.records() if r.kind == QUORUM_DECIDED]
        assert [(d["proposal"], d["outcome"], d["reason"]) for d in decided] == [
            ("p", "failed", "stopped")
        ]
        assert [v["answer"] for v in decided[0]["votes"]] == []
