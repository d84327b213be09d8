"""The quorum actor: ballots out to every voter at once, votes counted as they come, one decision.

A :class:`Propose` runs inside the quorum's ``receive`` from the first ballot
to the recorded decision, so the quorum holds one proposal at a time and
every decision is made by this one actor (run one quorum per territory group
for parallel electorates). A round asks every voter of the proposal's
electorate concurrently with one deadline, counts each answer the moment it
arrives and stops as soon as the rule (:mod:`._rule`) makes the outcome
certain; the unanswered asks are cancelled.

A round the electorate could not decide (deadline, unreachable voters, voter
errors) raises an alert (:class:`QuorumAlert` on :data:`QUORUM_EVENTS`, a
``quorum.alert`` record) and then the configured fallback applies: ``deny``,
``retry`` after a backoff (bounded), or ``defer`` to the lease store.

Safety does not rest on the votes. A granted decision still takes its lease
from the :class:`~actors.roles.territories.LeaseStore` (one transaction: the
row and the next fencing token), which refuses while another lease is live;
the decision is then ``rejected`` (reason ``held``). The store is the single
place where "who holds this territory" is decided, and its tokens keep a
stale holder's writes out at the :class:`~actors.roles.territories.FencingGuard`.
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections import OrderedDict, deque
from typing import TYPE_CHECKING, Any

import structlog

from ... import Actor, ActorNotFound, ActorRef, ActorStopped, DeliveryRefused, MailboxFull
from ...lowlevel import delivery_filters
from ..territories import (
    AttachGuard,
    Contention,
    FencingGuard,
    Lease,
    LeaseStore,
    MemoryLeaseStore,
    lease_table_reducers,
)
from ._config import DEFER, RETRY, QuorumConfig
from ._errors import InvalidQuorumConfig, InvalidThreshold, NoVoters
from ._messages import (
    QUORUM_EVENTS,
    Ballot,
    CastVote,
    Decision,
    GetDecision,
    GetQuorumStatistics,
    ProposalRefused,
    Propose,
    QuorumAlert,
    QuorumStatistics,
    Registered,
    RegisterVoter,
    UnregisterVoter,
    Vote,
    VoteRecord,
    VoteRejected,
    VoterStatistics,
)
from ._records import decision_payload, record_alert, record_decision
from ._rule import FAILED, GRANTED, REJECTED, outcome, required

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ... import Clock
    from ...ledger import Ledger
    from .._records import RecordSink

__all__ = ["Quorum", "Voter", "propose"]

logger = structlog.get_logger(__name__)

_EXPIRED_KIND = "lease.expired"


def _classify(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionError | ActorStopped | ActorNotFound | MailboxFull):
        return "unreachable"
    if isinstance(exc, DeliveryRefused):
        return "unreachable"
    return "error"


class _Round:
    """The counts of one round (votes of earlier rounds are kept, not counted)."""

    __slots__ = ("lost", "no", "reasons", "yes")

    def __init__(self) -> None:
        self.yes = 0
        self.no = 0
        self.lost = 0
        self.reasons: set[str] = set()


class Quorum(Actor[Any]):
    """Decides lease proposals by the votes of registered voters.

    :param config: threshold, deadline, fallback, heat.
    :param store: the lease store granted decisions take their lease (and token)
        from: share it with the :class:`~actors.roles.territories.TerritoryManager`
        of the same territories. Without one, a memory store is rebuilt from
        ``ledger`` at start (the lease table replays from the same records).
    :param ledger: where decisions, alerts and reclaimed leases are recorded.
    :param clock: the clock deadlines, backoff and lease times read (default: the system's).
    :param voters: electorates at start: ``{group: {name: ref}}`` (``""``: global).
    :param heat: a territory manager told :class:`Contention` when one territory's
        proposals keep failing.
    """

    def __init__(
        self,
        config: QuorumConfig | None = None,
        *,
        store: LeaseStore | None = None,
        ledger: Ledger | RecordSink | None = None,
        clock: Clock | None = None,
        voters: Mapping[str, Mapping[str, ActorRef[Any]]] | None = None,
        heat: ActorRef[Any] | None = None,
    ) -> None:
        self.config = config or QuorumConfig()
        self.store = store
        self.ledger = ledger
        self._clock = clock
        self.heat = heat
        self._electorates: dict[str, dict[str, ActorRef[Any]]] = {
            group: dict(members) for group, members in (voters or {}).items()
        }
        self._guards: list[FencingGuard] = []
        self._decided: OrderedDict[str, tuple[Decision, frozenset[str]]] = OrderedDict()
        self._open: str | None = None
        self._serial = 0
        self._failures: dict[str, int] = {}
        self._latencies: deque[float] = deque(maxlen=max(1, self.config.latency_window))
        self._asked: dict[str, int] = {}
        self._answered: dict[str, int] = {}
        self._counts = dict.fromkeys(
            (
                "proposals",
                "granted",
                "rejected",
                "failed",
                "deferred",
                "retries",
                "alerts",
                "refused_votes",
                "refused_proposals",
            ),
            0,
        )

    # -- lifetime -----------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self._clock if self._clock is not None else self.context.system.clock

    async def on_start(self) -> None:
        if self.store is None:
            state = None
            replay = getattr(self.ledger, "replay", None)
            if replay is not None:
                state = (await replay(lease_table_reducers())).state
            self.store = MemoryLeaseStore(state)

    # -- messages -------------------------------------------------------------------

    async def receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is Propose:
            return await self._propose(message)
        if kind is CastVote:
            return self._cast(message.vote)
        if kind is Vote:
            return self._cast(message)
        if kind is RegisterVoter:
            return self._register(message)
        if kind is UnregisterVoter:
            members = self._electorates.get(message.group, {})
            members.pop(message.name, None)
            return Registered(message.group, tuple(sorted(members)))
        if kind is AttachGuard:
            return self._attach(message.path)
        if kind is GetDecision:
            known = self._decided.get(message.proposal)
            return None if known is None else known[0]
        if kind is GetQuorumStatistics:
            return self.statistics()
        return None

    def _register(self, message: RegisterVoter) -> Registered | VoteRejected:
        members = self._electorates.setdefault(message.group, {})
        try:
            ref = self.context.system.ref(message.address)
        except (ActorNotFound, ValueError) as exc:
            self.context.log.warning(
                "quorum_voter_refused", voter=message.name, address=message.address, error=str(exc)
            )
            return VoteRejected("", message.name, "unresolvable-address")
        for name, known in members.items():
            if known == ref and name != message.name:
                # One actor, one vote: the same voter under two names would count twice.
                self.context.log.warning(
                    "quorum_voter_refused", voter=message.name, address=message.address
                )
                return VoteRejected("", message.name, "already-registered")
        members[message.name] = ref
        return Registered(message.group, tuple(sorted(members)))

    def attach_guard(self, guard: FencingGuard) -> None:
        """Revoke at ``guard`` (a local fencing guard) every token older than each grant.

        The grant and the revocation happen in one step of this actor, so from
        the moment a new lease exists the guarded actor refuses the old
        holder's writes, even before the new holder's first write shows it the
        new token. (A guard this quorum is not attached to learns new tokens as
        it sees them: the usual fencing.)
        """
        if guard not in self._guards:
            self._guards.append(guard)

    def _attach(self, path: str) -> bool:
        try:
            filters = delivery_filters(self.context.system.lookup(path))
        except (ActorNotFound, LookupError, TypeError, ValueError):
            return False
        for installed in filters:
            if isinstance(installed, FencingGuard):
                self.attach_guard(installed)
                return True
        return False

    def register(self, name: str, ref: ActorRef[Any], group: str = "") -> None:
        """Register ``ref`` as voter ``name`` of ``group`` (from the quorum's own code)."""
        self._electorates.setdefault(group, {})[name] = ref

    # -- votes told directly ---------------------------------------------------------

    def _cast(self, vote: Vote) -> VoteRejected:
        """A vote outside a ballot's reply. Every ballot has been decided by the time
        the quorum reads one (a proposal holds the quorum until its decision), so it is
        refused with the first rule it breaks, counted and logged; nothing else changes."""
        known = self._decided.get(vote.proposal)
        if known is None:
            return self._refuse_vote(vote, "unknown-proposal")
        decision, electorate = known
        if vote.voter not in electorate:
            return self._refuse_vote(vote, "unknown-voter")
        if vote.round != decision.rounds:
            return self._refuse_vote(vote, "stale-round")
        for record in decision.votes:
            if (
                record.voter == vote.voter
                and record.round == vote.round
                and record.answer in ("yes", "no")
            ):
                return self._refuse_vote(vote, "duplicate")
        return self._refuse_vote(vote, "decided")

    def _refuse_vote(self, vote: Vote, reason: str) -> VoteRejected:
        self._counts["refused_votes"] += 1
        logger.info("quorum_vote_refused", proposal=vote.proposal, voter=vote.voter, reason=reason)
        return VoteRejected(vote.proposal, vote.voter, reason)

    # -- proposals --------------------------------------------------------------------

    def _refuse_proposal(self, message: Propose, reason: str, error: str) -> ProposalRefused:
        self._counts["refused_proposals"] += 1
        logger.info(
            "quorum_proposal_refused",
            territory=message.territory,
            holder=message.holder,
            reason=reason,
            error=error,
        )
        return ProposalRefused(message.territory, message.holder, reason, error)

    async def _propose(self, message: Propose) -> Decision | ProposalRefused:
        config = self.config
        clock = self.clock
        started = clock.now()
        ttl = message.ttl if message.ttl is not None else float(config.default_ttl)
        if isinstance(ttl, bool) or not (
            isinstance(ttl, int | float) and math.isfinite(ttl) and 0 < ttl <= config.max_ttl
        ):
            return self._refuse_proposal(
                message, "invalid-ttl", f"ttl must lie in (0, {config.max_ttl}], got {ttl!r}"
            )
        group = message.group or config.groups.get(message.territory, "")
        electorate = self._electorates.get(group)
        if not electorate:
            refused = self._refuse_proposal(
                message, "no-voters", f"no voter registered for electorate {group!r}"
            )
            return ProposalRefused(
                refused.territory, refused.holder, refused.reason, refused.error, group=group
            )
        try:
            need = required(config.threshold, len(electorate))
        except InvalidThreshold as exc:
            refused = self._refuse_proposal(message, "invalid-threshold", exc.problem)
            return ProposalRefused(
                refused.territory,
                refused.holder,
                refused.reason,
                refused.error,
                group=group,
                threshold=exc.threshold,  # type: ignore[arg-type]
                voters=exc.voters,
            )
        pid = message.proposal
        if not pid:
            self._serial += 1
            pid = f"{self.context.path}#{self._serial}"
        elif pid in self._decided or pid == self._open:
            return self._refuse_proposal(message, "duplicate-id", f"proposal {pid!r} exists")
        self._open = pid
        self._counts["proposals"] += 1
        members = tuple(electorate.items())
        votes: list[VoteRecord] = []
        territory = message.territory
        round_ = 0
        decided_by = "quorum"
        result, reason = FAILED, "timeout"
        try:
            while True:
                round_ += 1
                result, reason = await self._round(pid, round_, message, ttl, members, need, votes)
                if result != FAILED:
                    self._failures.pop(territory, None)
                    break
                self._alert(pid, territory, reason, round_)
                if config.fallback == RETRY and round_ <= config.retries:
                    self._counts["retries"] += 1
                    delay = config.backoff * config.backoff_factor ** (round_ - 1)
                    await clock.sleep(min(delay, config.max_backoff))
                    continue
                mode = config.after_retries if config.fallback == RETRY else config.fallback
                if mode == DEFER:
                    decided_by = "store"
                    self._counts["deferred"] += 1
                    result = GRANTED  # the store alone decides below
                break
        except asyncio.CancelledError:
            # Stopped mid-vote: the proposal still ends in one recorded outcome.
            self._finish(
                pid,
                message,
                ttl,
                FAILED,
                "stopped",
                "quorum",
                need,
                members,
                votes,
                round_,
                started,
                None,
            )
            raise
        finally:
            self._open = None
        lease: Lease | None = None
        if result == GRANTED:
            store = self.store
            assert store is not None
            now = clock.wall()
            got = store.acquire(territory, message.holder, ttl, now)
            for old in store.take_reclaimed():
                self._expired(old)
            if isinstance(got, Lease):
                lease = got
                for fence in self._guards:
                    fence.revoke(territory, got.token - 1)
                reason = "quorum" if decided_by == "quorum" else "store"
            else:
                result, reason = REJECTED, got.reason
        return self._finish(
            pid,
            message,
            ttl,
            result,
            reason,
            decided_by,
            need,
            members,
            votes,
            round_,
            started,
            lease,
        )

    def _finish(
        self,
        pid: str,
        message: Propose,
        ttl: float,
        result: str,
        reason: str,
        decided_by: str,
        need: int,
        members: tuple[tuple[str, ActorRef[Any]], ...],
        votes: list[VoteRecord],
        rounds: int,
        started: float,
        lease: Lease | None,
    ) -> Decision:
        latency = self.clock.now() - started
        decision = Decision(
            pid,
            message.territory,
            message.holder,
            result,
            reason,
            decided_by,
            need,
            len(members),
            tuple(votes),
            rounds,
            lease,
            latency,
        )
        record_decision(self.ledger, decision_payload(decision, ttl, message.reason))
        self._counts[result] += 1
        self._latencies.append(latency)
        decided = self._decided
        decided[pid] = (decision, frozenset(name for name, _ in members))
        while len(decided) > max(1, self.config.keep_decided):
            decided.popitem(last=False)
        logger.debug(
            "quorum_decided",
            proposal=pid,
            territory=message.territory,
            outcome=result,
            reason=reason,
            lease_id=None if lease is None else lease.token,
        )
        return decision

    def _expired(self, lease: Lease) -> None:
        sink = self.ledger
        if sink is None:
            return
        payload = {
            "territory": lease.territory,
            "holder": lease.holder,
            "token": lease.token,
            "expires": lease.expires,
        }
        try:
            sink.append_nowait(_EXPIRED_KIND, payload)
        except Exception as exc:
            logger.warning("role_record_failed", kind=_EXPIRED_KIND, error=repr(exc))

    def _alert(self, pid: str, territory: str, reason: str, round_: int) -> None:
        failures = self._failures[territory] = self._failures.get(territory, 0) + 1
        self._counts["alerts"] += 1
        record_alert(self.ledger, pid, territory, reason, round_, failures)
        self.context.system.topics.publish(
            QUORUM_EVENTS, QuorumAlert(pid, territory, reason, round_, failures)
        )
        logger.warning(
            "quorum_failed", proposal=pid, territory=territory, reason=reason, round=round_
        )
        if self.heat is not None and failures > self.config.heat_after:
            self.heat.tell(Contention(territory, self.config.heat_amount))

    async def _round(
        self,
        pid: str,
        round_: int,
        message: Propose,
        ttl: float,
        members: tuple[tuple[str, ActorRef[Any]], ...],
        need: int,
        votes: list[VoteRecord],
    ) -> tuple[str, str]:
        """Ask every voter at once; return ``(outcome, reason)`` as soon as it is certain.

        Each ballot is asked by a task of this round; the task counts its vote the
        moment the reply comes (the quorum's ``receive`` is suspended on the round's
        decision meanwhile, so the state changes on this actor's behalf, one step at a
        time on its event loop) and settles the decision once the rule makes it
        certain. The round's one deadline settles it as ``failed`` (``timeout``); the
        asks still out are then cancelled (a cancelled ask still queued is never
        delivered).
        """
        clock = self.clock
        loop = asyncio.get_running_loop()
        decided: asyncio.Future[tuple[str, str]] = loop.create_future()
        tally = _Round()
        voters = len(members)
        counted: set[str] = set()
        asked = self._asked

        async def ask(name: str, ref: ActorRef[Any], ballot: Ballot) -> None:
            try:
                answer: Any = await ref.ask(ballot)  # Any: a voter's reply, whatever it is
            except Exception as exc:  # the vote is lost: counted as such, never raised
                answer = exc
            if decided.done():
                return
            counted.add(name)
            self._count(pid, round_, name, answer, tally, votes)
            result = outcome(need, voters, tally.yes, tally.no, tally.lost)
            if result is not None:
                decided.set_result((result, _reason(result, tally)))

        tasks = []
        for name, ref in members:
            asked[name] = asked.get(name, 0) + 1
            ballot = Ballot(
                pid, round_, message.territory, message.holder, ttl, message.reason, name
            )
            tasks.append(loop.create_task(ask(name, ref, ballot)))

        expired: list[bool] = []

        def deadline() -> None:
            if not decided.done():
                expired.append(True)
                decided.set_result((FAILED, "timeout"))

        guard = clock.call_later(float(self.config.timeout), deadline)  # the one deadline
        try:
            result, reason = await decided
        finally:
            guard.cancel()
            for task in tasks:
                if not task.done():
                    task.cancel()
        if expired:
            now = clock.wall()
            for name, _ in members:
                if name not in counted:
                    votes.append(VoteRecord(name, "timeout", now, round_))
        return result, reason

    def _count(
        self,
        pid: str,
        round_: int,
        name: str,
        answer: Any,  # Any: a voter's reply, or the exception its ask raised
        tally: _Round,
        votes: list[VoteRecord],
    ) -> None:
        now = self.clock.wall()
        if isinstance(answer, BaseException):
            how = _classify(answer)
            tally.lost += 1
            tally.reasons.add(how)
            votes.append(VoteRecord(name, how, now, round_, type(answer).__name__))
            return
        if (
            type(answer) is not Vote
            or answer.proposal != pid
            or answer.voter != name
            or answer.round != round_
        ):
            # A reply that is not this voter's vote on this ballot: counted as an error.
            self._counts["refused_votes"] += 1
            logger.info("quorum_vote_refused", proposal=pid, voter=name, reason="mismatched")
            tally.lost += 1
            tally.reasons.add("error")
            votes.append(VoteRecord(name, "error", now, round_, "mismatched reply"))
            return
        self._answered[name] = self._answered.get(name, 0) + 1
        if answer.accept:
            tally.yes += 1
            votes.append(VoteRecord(name, "yes", now, round_, answer.reason))
        else:
            tally.no += 1
            votes.append(VoteRecord(name, "no", now, round_, answer.reason))

    # -- statistics -------------------------------------------------------------------

    def statistics(self) -> QuorumStatistics:
        c = self._counts
        ordered = sorted(self._latencies)

        def pct(q: float) -> float:
            if not ordered:
                return 0.0
            return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

        voters = {
            name: VoterStatistics(
                asked, self._answered.get(name, 0), self._answered.get(name, 0) / asked
            )
            for name, asked in sorted(self._asked.items())
        }
        return QuorumStatistics(
            proposals=c["proposals"],
            granted=c["granted"],
            rejected=c["rejected"],
            failed=c["failed"],
            deferred=c["deferred"],
            retries=c["retries"],
            alerts=c["alerts"],
            open=0 if self._open is None else 1,
            refused_votes=c["refused_votes"],
            refused_proposals=c["refused_proposals"],
            latency_p50=pct(0.5),
            latency_p90=pct(0.9),
            latency_p99=pct(0.99),
            voters=voters,
        )


def _reason(result: str, tally: _Round) -> str:
    if result == GRANTED:
        return "quorum"
    if result == REJECTED:
        return "votes"
    reasons = tally.reasons
    if "error" in reasons:
        return "voter-error"
    if "timeout" in reasons:
        return "timeout"
    return "unreachable"


# -- voters ------------------------------------------------------------------------------------

Policy = Any  # Any: a callable (Ballot) -> bool | (bool, str), plain or async


class Voter(Actor[Any]):
    """An agent's vote: answers each :class:`Ballot` with ``policy(ballot)``.

    ``policy`` returns ``True``/``False``, or ``(accept, reason)``; it may be
    async. The default accepts every ballot.
    """

    def __init__(self, policy: Policy = None) -> None:
        self.policy = policy
        self.ballots = 0

    async def receive(self, message: Any) -> Any:
        if type(message) is not Ballot:
            return None
        self.ballots += 1
        answer: Any = True if self.policy is None else self.policy(message)
        if inspect.isawaitable(answer):
            answer = await answer
        reason = ""
        if isinstance(answer, tuple):
            answer, reason = answer
        return Vote(message.proposal, message.voter, bool(answer), message.round, reason)


async def propose(
    quorum: ActorRef[Any],
    territory: str,
    holder: str,
    ttl: float | None = None,
    reason: str = "",
    *,
    group: str = "",
    timeout: float | None = None,
) -> Decision:
    """Ask ``quorum`` to decide a proposal; the :class:`Decision`, or the error of a bad one.

    Raises :class:`~actors.roles.quorum.InvalidThreshold` or
    :class:`~actors.roles.quorum.NoVoters` when the proposal was refused
    before any vote (nothing recorded).
    """
    reply = await quorum.ask(Propose(territory, holder, ttl, reason, group), timeout=timeout)
    if isinstance(reply, Decision):
        return reply
    if isinstance(reply, ProposalRefused):
        if reply.reason == "invalid-threshold":
            raise InvalidThreshold(reply.threshold, reply.voters, reply.error)
        if reply.reason == "no-voters":
            raise NoVoters(reply.group)
        raise InvalidQuorumConfig("proposal", reply.reason, reply.error)
    raise TypeError(f"unexpected reply from a quorum: {reply!r}")
