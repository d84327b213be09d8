"""Cluster membership: join through seeds, heartbeats, failure detection, leave.

Every member heartbeats every other member each ``heartbeat_interval``; each
heartbeat also carries the sender's member list, so membership spreads by
gossip. Each node runs a :class:`PhiAccrualFailureDetector` per member on its
own clock: phi over ``phi_threshold`` makes the member *unreachable*;
unreachable for ``down_after`` seconds makes it *down* (removed, never
readmitted under the same incarnation). A graceful :meth:`Cluster.leave`
tells every member, which removes the leaver at once (*left*).

Decisions are local to each node (no leader, no consensus): under a network
partition both sides eventually see the other side down. Nodes that must not
act on a split view need a quorum on top (see the roles).

Events go to subscribed actors as :mod:`actors.cluster` messages and are
logged as ``member_up``, ``member_unreachable``, ``member_reachable``,
``member_down`` and ``member_left``.

The background work (joining, each heartbeat round, handling an incoming
message) is supervised: an exception in one round is logged as
``membership_task_failed`` (with ``task`` and ``error``), counted in
:attr:`ClusterStatistics.task_failures`, and the next round runs as usual.
A bug there never silently ends membership.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Self

import anyio
import msgspec
import structlog

from protocol import AuthenticationFailed, ClusterMismatch, ProtocolVersionMismatch

from .. import ActorError, SystemNotRunning
from ..remote import NodeNameConflict, ReconnectBackoff, parse_address
from ._detector import PhiAccrualFailureDetector
from ._errors import JoinRefused
from ._events import (
    Heartbeat,
    Identify,
    Join,
    JoinRefusal,
    Leave,
    LeaveAck,
    MemberDown,
    MemberEvent,
    MemberInfo,
    MemberLeft,
    MemberReachable,
    MemberUnreachable,
    MemberUp,
    Welcome,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    from anyio.abc import TaskGroup

    from protocol import Message

    from .. import ActorRef
    from ..remote import RemoteNode

__all__ = ["Cluster", "ClusterConfig", "ClusterStatistics", "Member"]

logger = structlog.get_logger(__name__)

SERVICE_PATH: Final = "/system/cluster"
_WARN_PERIOD: Final = 60.0
"""Seconds between two warnings of one kind about one peer (a misconfigured
peer retries every few seconds; its log lines must not)."""
_FATAL: Final[dict[type[Exception], str]] = {
    AuthenticationFailed: "authentication",
    ClusterMismatch: "cluster_mismatch",
    ProtocolVersionMismatch: "protocol_version",
}
_ITSELF: Final = object()
"""A seed turned out to be this node itself (its address under another name)."""


class _Refusal(NamedTuple):
    reason: str
    detail: str


class ClusterConfig(msgspec.Struct, frozen=True):
    """Membership timing and failure-detector thresholds."""

    heartbeat_interval: float = 1.0
    """Seconds between heartbeats to each member (and between failure checks)."""
    phi_threshold: float = 8.0
    """Suspicion level over which a member is unreachable."""
    min_std_deviation: float = 0.1
    """Floor of the heartbeat-interval deviation the detector assumes (seconds)."""
    acceptable_pause: float = 0.0
    """Extra seconds of silence tolerated before suspicion rises."""
    down_after: float = 5.0
    """Seconds a member stays unreachable before it is declared down."""
    join_timeout: float = 2.0
    """Seconds to wait for a seed's answer to a join."""
    join_retry: float = 0.5
    """Seconds before the second round of join attempts while no seed answers; the
    wait doubles each round (with jitter) up to ``join_retry_max``."""
    join_retry_max: float = 10.0
    """The longest wait between two rounds of join attempts."""
    join_attempts: int = 3
    """Refusals in a row from one seed for a reason retrying cannot fix (wrong
    secret, cluster name or protocol version, a duplicate name) before the node
    gives up joining (:class:`~actors.cluster.JoinRefused`)."""
    leave_timeout: float = 2.0
    """Seconds to wait for members to acknowledge a graceful leave."""

    def __post_init__(self) -> None:
        # name -> whether 0 is allowed; every field is a finite number, never negative
        fields = {
            "heartbeat_interval": False,
            "phi_threshold": False,
            "min_std_deviation": False,
            "acceptable_pause": True,
            "down_after": True,
            "join_timeout": False,
            "join_retry": False,
            "join_retry_max": False,
            "leave_timeout": False,
        }
        for field, zero in fields.items():
            value = getattr(self, field)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or value < 0 or (value == 0 and not zero):
                bound = ">= 0" if zero else "> 0"
                raise ValueError(
                    f"invalid cluster config: ClusterConfig.{field} is {value!r}, "
                    f"expected a finite number {bound}"
                )

        attempts = self.join_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(
                f"invalid cluster config: ClusterConfig.join_attempts is {attempts!r}, "
                "expected an integer >= 1"
            )
        if self.join_retry_max < self.join_retry:
            raise ValueError(
                "invalid cluster config: ClusterConfig.join_retry_max "
                f"{self.join_retry_max!r} is less than join_retry {self.join_retry!r}"
            )

    def detection_time(self) -> float:
        """A rough upper bound of the seconds from a crash to ``member_down``."""
        return (
            self.heartbeat_interval
            + self.acceptable_pause
            + 6 * max(self.min_std_deviation, self.heartbeat_interval / 4)
            + self.down_after
            + self.heartbeat_interval
        )


class Member(msgspec.Struct, frozen=True):
    """One member as this node sees it."""

    node: str
    address: str
    reachable: bool = True


class ClusterStatistics(msgspec.Struct, frozen=True):
    node: str
    joined: bool
    members: int
    unreachable: int
    heartbeats_sent: int
    heartbeats_received: int
    downed: int
    left: int
    task_failures: int = 0
    """Rounds of background work (join, heartbeats, an incoming message) that raised."""


class _Tracked:
    __slots__ = ("detector", "info", "reachable", "unreachable_since")

    def __init__(self, info: MemberInfo, detector: PhiAccrualFailureDetector) -> None:
        self.info = info
        self.detector = detector
        self.reachable = True
        self.unreachable_since = 0.0


class Cluster:
    """This node's membership in a cluster; an async context manager.

    ``seeds`` are ``(host, port)`` pairs of nodes to join through (this node's
    own address among them is skipped). A node with no reachable seed keeps
    trying; a node whose only seed is itself forms the cluster alone.
    Leaving the context leaves the cluster gracefully.
    """

    def __init__(
        self,
        node: RemoteNode,
        *,
        seeds: Sequence[tuple[str, int]] = (),
        config: ClusterConfig | None = None,
    ) -> None:
        self.node = node
        self.system = node.system
        self.config = config if config is not None else ClusterConfig()
        self.seeds = tuple(seeds)
        self._members: dict[str, _Tracked] = {}
        self._removed: set[tuple[str, int]] = set()
        self._subscribers: list[ActorRef[Any]] = []
        self._tg: TaskGroup | None = None
        self._me: MemberInfo | None = None
        self.joined = anyio.Event()
        self.join_error: JoinRefused | None = None
        """Why joining was given up (see :meth:`wait_joined`); ``None`` otherwise."""
        self._settled = anyio.Event()
        self._warned: dict[tuple[str, str], float] = {}
        self._join_errors: dict[str, str] = {}  # seed -> why this round's attempt failed
        self._left = False
        self._counts = {"sent": 0, "received": 0, "downed": 0, "left": 0, "failures": 0}

    # -- lifetime --------------------------------------------------------------

    async def __aenter__(self) -> Self:
        node = self.node
        uid = self.system.random.getrandbits(63)
        self._me = MemberInfo(node.name, node.address, uid)
        node.register_service(SERVICE_PATH, self._on_message)
        node.set_admission(self._refuse_name)
        logger.info("member_up", node=node.name, member=node.name, address=node.address)
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        tg.start_soon(self._join)
        tg.start_soon(self._heartbeats)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        tg = self._tg
        if tg is None:
            return None
        try:
            if not self._left and exc_type is None:
                await self.leave()
        finally:
            self.node.set_admission(None)
            tg.cancel_scope.cancel()
            self._tg = None
            result = await tg.__aexit__(exc_type, exc, tb)
        return result

    @property
    def me(self) -> MemberInfo:
        if self._me is None:
            raise SystemNotRunning("the cluster is not started (use `async with`)")
        return self._me

    # -- public API ------------------------------------------------------------

    @property
    def members(self) -> tuple[Member, ...]:
        """Every current member, this node first."""
        me = self.me
        others = [Member(t.info.name, t.info.address, t.reachable) for t in self._members.values()]
        return (Member(me.name, me.address), *others)

    def subscribe(self, ref: ActorRef[Any]) -> None:
        """Send membership events to ``ref``, starting with a ``MemberUp`` per current member."""
        self._subscribers.append(ref)
        for member in self.members:
            _tell(ref, MemberUp(member.node, member.address))

    def unsubscribe(self, ref: ActorRef[Any]) -> None:
        if ref in self._subscribers:
            self._subscribers.remove(ref)

    async def leave(self) -> None:
        """Leave gracefully: tell every member (waiting up to ``leave_timeout`` for
        their acknowledgements), then stop heartbeating."""
        if self._left:
            return
        self._left = True
        me = self.me
        members = list(self._members.values())
        logger.info("cluster_leaving", node=me.name, members=len(members))

        async def tell_one(tracked: _Tracked) -> None:
            ref = self._service_ref(tracked.info)
            try:
                await ref.ask(Leave(me), timeout=self.config.leave_timeout)
            except (ActorError, OSError) as exc:
                logger.warning(
                    "leave_unacknowledged", node=me.name, member=tracked.info.name, error=repr(exc)
                )

        with anyio.move_on_after(self.config.leave_timeout + 1.0):
            async with anyio.create_task_group() as tg:
                for tracked in members:
                    tg.start_soon(tell_one, tracked)
        self._members.clear()
        logger.info("member_left", node=me.name, member=me.name, address=me.address)
        self._publish(MemberLeft(me.name, me.address))

    def statistics(self) -> ClusterStatistics:
        return ClusterStatistics(
            node=self.node.name,
            joined=self.joined.is_set(),
            members=1 + len(self._members),
            unreachable=sum(not t.reachable for t in self._members.values()),
            heartbeats_sent=self._counts["sent"],
            heartbeats_received=self._counts["received"],
            downed=self._counts["downed"],
            left=self._counts["left"],
            task_failures=self._counts["failures"],
        )

    # -- joining ---------------------------------------------------------------

    async def _join(self) -> None:
        try:
            await self._join_rounds()
        finally:
            self._settled.set()

    async def _join_rounds(self) -> None:
        me = self.me
        own = self.node.listen_address
        seeds = [s for s in self.seeds if not _same_endpoint(s, own)]
        first_seed = bool(self.seeds) and _same_endpoint(self.seeds[0], own)
        if not seeds:
            self._form()
            return
        config = self.config
        backoff = ReconnectBackoff(base=config.join_retry, cap=config.join_retry_max)
        clock = self.system.clock
        refusals: dict[tuple[str, int], int] = {}
        attempt = 0
        while not self._left:
            attempt += 1
            for seed in list(seeds):
                try:
                    outcome = await self._join_through(*seed)
                except Exception as exc:  # supervised: log, try the next seed
                    self._task_failed("join", exc)
                    continue
                if outcome is True:
                    return
                if outcome is _ITSELF:  # this node's own address under another name
                    seeds.remove(seed)
                    first_seed = first_seed or seed == self.seeds[0]
                elif isinstance(outcome, _Refusal):
                    count = refusals[seed] = refusals.get(seed, 0) + 1
                    logger.warning(
                        "join_refused",
                        node=me.name,
                        seed=_endpoint(seed),
                        reason=outcome.reason,
                        attempt=count,
                        error=outcome.detail,
                    )
                    if count >= config.join_attempts:
                        self._fail(JoinRefused(me.name, _endpoint(seed), *outcome, count))
                        return
                else:
                    refusals.pop(seed, None)  # unreachable: not a refusal
            if not seeds or (first_seed and not refusals):
                # Akka's rule: the first seed forms the cluster when no other seed answers.
                self._form()
                return
            delay = backoff.delay(attempt, self.system.random)
            logger.warning(
                "join_retrying",
                node=me.name,
                seeds=[_endpoint(s) for s in seeds],
                attempt=attempt,
                retry_in=round(delay, 3),
                **({"errors": dict(self._join_errors)} if self._join_errors else {}),
            )
            self._join_errors.clear()
            await clock.sleep(delay)

    def _form(self) -> None:
        self.joined.set()
        logger.info("cluster_formed", node=self.me.name)

    def _fail(self, error: JoinRefused) -> None:
        self.join_error = error
        logger.error(
            "join_failed",
            node=error.node,
            seed=error.seed,
            reason=error.reason,
            attempts=error.attempts,
            error=error.detail,
        )

    async def wait_joined(self) -> None:
        """Wait until this node has joined (or formed) the cluster.

        Raises :class:`~actors.cluster.JoinRefused` once a seed has refused it
        ``join_attempts`` times in a row for a reason retrying cannot fix (wrong
        secret, other cluster name or protocol version, a duplicate node
        name); :class:`~actors.SystemNotRunning` if the node left before it
        joined. While the seeds are merely unreachable it keeps waiting.
        """
        await self._settled.wait()
        if self.join_error is not None:
            raise self.join_error
        if not self.joined.is_set():
            raise SystemNotRunning(f"node {self.node.name!r} left the cluster before it joined")

    async def _join_through(self, host: str, port: int) -> bool | _Refusal | object:
        """One join attempt through one seed: ``True`` if it joined, a
        :class:`_Refusal` retrying cannot fix, ``_ITSELF``, else ``False``."""
        me = self.me
        seed = f"{host}:{port}"
        try:
            with anyio.fail_after(self.config.join_timeout):
                name = await self.node.contact(host, port)
            address = f"tadpole://{name}@{_host(host)}:{port}{SERVICE_PATH}"
            welcome = await self.node.ref(address).ask(Join(me), timeout=self.config.join_timeout)
        except NodeNameConflict as exc:
            if exc.itself:
                logger.debug("join_seed_is_itself", node=me.name, seed=seed)
                return _ITSELF
            detail = exc.detail or f"the seed {seed} has this node's name {me.name!r}"
            return _Refusal("duplicate_name", detail)
        except (AuthenticationFailed, ClusterMismatch, ProtocolVersionMismatch) as exc:
            return _Refusal(_FATAL[type(exc)], str(exc))
        except (OSError, TimeoutError, ActorError, ValueError) as exc:
            logger.info("join_attempt_failed", node=me.name, seed=seed, error=repr(exc))
            self._join_errors[seed] = repr(exc)
            return False
        if isinstance(welcome, JoinRefusal):
            return _Refusal(welcome.reason, welcome.detail)
        if not isinstance(welcome, Welcome):
            return False
        self._merge(welcome.members)
        self.joined.set()
        logger.info("cluster_joined", node=me.name, seed=name, members=1 + len(self._members))
        return True

    # -- heartbeats and failure detection --------------------------------------

    async def _heartbeats(self) -> None:
        clock = self.system.clock
        interval = self.config.heartbeat_interval
        while not self._left:
            # Sending and checking are supervised apart, so a fault in one
            # does not skip the other; either way the next round runs.
            try:
                self._heartbeat_round()
            except Exception as exc:  # supervised: log, run the next round
                self._task_failed("heartbeats", exc)
            try:
                self._check(clock.now())
            except Exception as exc:  # supervised: log, run the next round
                self._task_failed("heartbeats", exc)
            await clock.sleep(interval)

    def _heartbeat_round(self) -> None:
        me = self.me
        view = (me, *(t.info for t in self._members.values()))
        beat = Heartbeat(me, view)
        for tracked in list(self._members.values()):
            try:
                self._service_ref(tracked.info).tell(beat)
                self._counts["sent"] += 1
            except (ActorError, ValueError) as exc:
                logger.debug("heartbeat_not_sent", member=tracked.info.name, error=repr(exc))

    def _check(self, now: float) -> None:
        for tracked in list(self._members.values()):
            try:
                self._check_member(tracked, now)
            except Exception as exc:  # supervised: one member's fault spares the rest
                self._task_failed("heartbeats", exc, member=tracked.info.name)

    def _check_member(self, tracked: _Tracked, now: float) -> None:
        config = self.config
        phi = tracked.detector.phi(now)
        info = tracked.info
        if tracked.reachable:
            if phi >= config.phi_threshold:
                tracked.reachable = False
                tracked.unreachable_since = now
                self._event(
                    "member_unreachable",
                    MemberUnreachable(info.name, info.address),
                    phi=round(phi, 2),
                )
        elif phi < config.phi_threshold:
            tracked.reachable = True
            self._event("member_reachable", MemberReachable(info.name, info.address))
        elif now - tracked.unreachable_since >= config.down_after:
            self._remove(info)
            self._counts["downed"] += 1
            self._event("member_down", MemberDown(info.name, info.address))

    # -- incoming --------------------------------------------------------------

    def _on_message(self, message: Message, peer: str) -> Message | None:
        try:
            return self._handle(message, peer)
        except Exception as exc:  # supervised: log, keep the connection serving
            self._task_failed("message", exc, msg_type=type(message).__qualname__, peer=peer)
            return None

    def _handle(self, message: Message, peer: str) -> Message | None:
        if isinstance(message, Identify):
            return Heartbeat(self.me)
        if self._left:
            return LeaveAck() if isinstance(message, Leave) else None
        if isinstance(message, Heartbeat):
            self._counts["received"] += 1
            if self._taken(message.member) is not None:
                # A node under a live member's name, which a Join would not admit.
                logger.debug("heartbeat_ignored", node=self.node.name, peer=peer)
                return None
            self._add(message.member)
            tracked = self._members.get(message.member.name)
            if tracked is not None and tracked.info.uid == message.member.uid:
                tracked.detector.heartbeat(self.system.clock.now())
            self._merge(message.members)
            return None
        if isinstance(message, Join):
            refusal = self._refuse_join(message.member, peer)
            if refusal is not None:
                return refusal
            self._add(message.member)
            me = self.me
            return Welcome((me, *(t.info for t in self._members.values())))
        if isinstance(message, Leave):
            info = message.member
            tracked = self._members.get(info.name)
            if tracked is not None and tracked.info.uid == info.uid:
                self._remove(info)
                self._counts["left"] += 1
                self._event("member_left", MemberLeft(info.name, info.address))
            return LeaveAck()
        logger.warning("cluster_message_ignored", msg_type=type(message).__qualname__, peer=peer)
        return None

    def _refuse_join(self, info: MemberInfo, peer: str) -> JoinRefusal | None:
        """A refusal if a live member already has the joiner's name at another address.

        The same name at the same address is a restarted node (a new
        incarnation replaces the old); at another address while the failure
        detector still trusts the old one (phi under the threshold), it is a
        second node under a name already taken. A node restarted on another
        port is refused until the old incarnation's silence is noticed.
        """
        detail = self._taken(info)
        if detail is None:
            return None
        self._warn_once("join_refused", peer, reason="duplicate_name", error=detail)
        return JoinRefusal("duplicate_name", detail)

    def _taken(self, info: MemberInfo) -> str | None:
        """Why ``info``'s name is taken (see :meth:`_refuse_join`), or ``None``."""
        tracked = self._members.get(info.name)
        if tracked is None or tracked.info.address == info.address or not self._trusted(tracked):
            return None
        return _name_taken(tracked.info)

    def _trusted(self, tracked: _Tracked) -> bool:
        """Whether the failure detector still trusts ``tracked`` (phi under the threshold)."""
        if not tracked.reachable:
            return False
        return tracked.detector.phi(self.system.clock.now()) < self.config.phi_threshold

    async def _refuse_name(self, name: str) -> str | None:
        """The remote node's admission check: why a node dialling under ``name`` may
        not replace the name's open connection, or ``None``.

        A member the detector trusts is asked who it is over the open
        connection: if it answers as that member, it is alive and the newcomer
        is a second node under its name. If the ask fails or gets no answer
        within half the join timeout, the old connection is dead (a crash, a
        restart at the same address, a half-open connection); if another
        incarnation answers, the member may be the newcomer: either way the
        newcomer replaces the old connection.
        """
        tracked = self._members.get(name)
        if tracked is None or self._left or not self._trusted(tracked):
            return None
        try:
            answer = await self._service_ref(tracked.info).ask(
                Identify(), timeout=self.config.join_timeout / 2
            )
        except (ActorError, TimeoutError, OSError, ValueError):
            return None
        if isinstance(answer, Heartbeat) and answer.member.uid != tracked.info.uid:
            return None
        return _name_taken(tracked.info)

    def _warn_once(self, event: str, peer: str, **extra: Any) -> None:
        """``event`` at warning at most once a minute per peer, at debug in between."""
        now = self.system.clock.now()
        last = self._warned.get((event, peer))
        if last is not None and now - last < _WARN_PERIOD:
            logger.debug(event, node=self.node.name, peer=peer, **extra)
            return
        if len(self._warned) >= 1024:
            del self._warned[next(iter(self._warned))]
        self._warned[event, peer] = now
        logger.warning(event, node=self.node.name, peer=peer, **extra)

    def _merge(self, members: Sequence[MemberInfo]) -> None:
        for info in members:
            self._add(info)

    def _add(self, info: MemberInfo) -> None:
        me = self.me
        if info.name == me.name or (info.name, info.uid) in self._removed:
            return
        tracked = self._members.get(info.name)
        if tracked is not None:
            if tracked.info.uid == info.uid:
                return
            # The same name with a new incarnation: the old one is gone.
            self._remove(tracked.info)
            self._event("member_down", MemberDown(tracked.info.name, tracked.info.address))
        config = self.config
        detector = PhiAccrualFailureDetector(
            threshold=config.phi_threshold,
            min_std_deviation=config.min_std_deviation,
            acceptable_pause=config.acceptable_pause,
            first_heartbeat_estimate=config.heartbeat_interval,
        )
        detector.heartbeat(self.system.clock.now())  # count from when it was first seen
        self._members[info.name] = _Tracked(info, detector)
        self._event("member_up", MemberUp(info.name, info.address))

    def _remove(self, info: MemberInfo) -> None:
        self._removed.add((info.name, info.uid))
        self._members.pop(info.name, None)

    # -- helpers ---------------------------------------------------------------

    def _task_failed(self, task: str, exc: Exception, **extra: Any) -> None:
        self._counts["failures"] += 1
        logger.error(
            "membership_task_failed",
            node=self.node.name,
            task=task,
            error=repr(exc),
            exc_info=exc,
            **extra,
        )

    def _service_ref(self, info: MemberInfo) -> ActorRef[Any]:
        return self.node.ref(parse_address(info.address).with_path(SERVICE_PATH))

    def _event(self, name: str, event: MemberEvent, **extra: Any) -> None:
        log = logger.warning if name in ("member_unreachable", "member_down") else logger.info
        log(name, node=self.node.name, member=event.node, address=event.address, **extra)
        self._publish(event)

    def _publish(self, event: MemberEvent) -> None:
        for ref in list(self._subscribers):
            _tell(ref, event)


def _tell(ref: ActorRef[Any], event: MemberEvent) -> None:
    try:
        ref.tell(event)
    except ActorError as exc:
        logger.warning("member_event_not_delivered", subscriber=str(ref), error=repr(exc))


def _same_endpoint(seed: tuple[str, int], own: tuple[str, int]) -> bool:
    return seed == own or (seed[1] == own[1] and _local(seed[0]) and _local(own[0]))


def _endpoint(seed: tuple[str, int]) -> str:
    return f"{_host(seed[0])}:{seed[1]}"


def _local(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::")


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _name_taken(member: MemberInfo) -> str:
    """Why a second node may not have ``member``'s name (a join refusal's detail)."""
    return f"a node named {member.name!r} is already a member at {member.address}"
