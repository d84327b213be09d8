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
from typing import TYPE_CHECKING, Any, Final, Self

import anyio
import msgspec
import structlog

from .. import ActorError, SystemNotRunning
from ..remote import parse_address
from ._detector import PhiAccrualFailureDetector
from ._events import (
    Heartbeat,
    Join,
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
    """Seconds between rounds of join attempts while no seed answers."""
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
        self._left = False
        self._counts = {"sent": 0, "received": 0, "downed": 0, "left": 0, "failures": 0}

    # -- lifetime --------------------------------------------------------------

    async def __aenter__(self) -> Self:
        node = self.node
        uid = self.system.random.getrandbits(63)
        self._me = MemberInfo(node.name, node.address, uid)
        node.register_service(SERVICE_PATH, self._on_message)
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
        me = self.me
        own = self.node.listen_address
        seeds = [
            s
            for s in self.seeds
            if s != own and not (s[1] == own[1] and _local(s[0]) and _local(own[0]))
        ]
        if not seeds:
            self.joined.set()
            logger.info("cluster_formed", node=me.name)
            return
        clock = self.system.clock
        while not self._left:
            for host, port in seeds:
                try:
                    if await self._join_through(host, port):
                        return
                except Exception as exc:  # supervised: log, try the next seed
                    self._task_failed("join", exc)
            await clock.sleep(self.config.join_retry)

    async def _join_through(self, host: str, port: int) -> bool:
        """One join attempt through one seed; whether it joined."""
        me = self.me
        try:
            with anyio.fail_after(self.config.join_timeout):
                name = await self.node.contact(host, port)
            if name == me.name:
                return False
            address = f"tadpole://{name}@{_host(host)}:{port}{SERVICE_PATH}"
            welcome = await self.node.ref(address).ask(Join(me), timeout=self.config.join_timeout)
        except (OSError, TimeoutError, ActorError, ValueError) as exc:
            logger.info("join_attempt_failed", node=me.name, seed=f"{host}:{port}", error=repr(exc))
            return False
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
        if self._left:
            return LeaveAck() if isinstance(message, Leave) else None
        if isinstance(message, Heartbeat):
            self._counts["received"] += 1
            self._add(message.member)
            tracked = self._members.get(message.member.name)
            if tracked is not None and tracked.info.uid == message.member.uid:
                tracked.detector.heartbeat(self.system.clock.now())
            self._merge(message.members)
            return None
        if isinstance(message, Join):
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


def _local(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::")


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
