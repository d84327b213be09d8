"""Membership events (what subscribers receive) and the cluster's own wire messages.

Events are ordinary :class:`~protocol.Message` types, so an actor can match on
them and forward them anywhere, over the network too.
"""

from __future__ import annotations

import msgspec

from protocol import Message

__all__ = [
    "MemberDown",
    "MemberEvent",
    "MemberLeft",
    "MemberReachable",
    "MemberUnreachable",
    "MemberUp",
]


class MemberEvent(Message, tag="tadpole.cluster.event"):
    """Base of membership events: ``node`` is the member's name, ``address`` its node address."""

    node: str
    address: str


class MemberUp(MemberEvent, tag="tadpole.cluster.member_up"):
    """A node joined the cluster (or was already a member when you subscribed)."""


class MemberUnreachable(MemberEvent, tag="tadpole.cluster.member_unreachable"):
    """The failure detector suspects the member: heartbeats stopped arriving."""


class MemberReachable(MemberEvent, tag="tadpole.cluster.member_reachable"):
    """An unreachable member's heartbeats came back before it was declared down."""


class MemberDown(MemberEvent, tag="tadpole.cluster.member_down"):
    """The member stayed unreachable for ``down_after`` seconds and was removed."""


class MemberLeft(MemberEvent, tag="tadpole.cluster.member_left"):
    """The member left gracefully and was removed."""


# -- the cluster's own protocol (service path /system/cluster) -------------------


class MemberInfo(msgspec.Struct, frozen=True, array_like=True):
    name: str
    address: str
    uid: int


class Join(Message, tag="tadpole.cluster.join"):
    member: MemberInfo


class Welcome(Message, tag="tadpole.cluster.welcome"):
    members: tuple[MemberInfo, ...]


class JoinRefusal(Message, tag="tadpole.cluster.join_refusal"):
    """A seed's answer to a :class:`Join` it will not accept (``reason``: a short code)."""

    reason: str
    detail: str = ""


class Heartbeat(Message, tag="tadpole.cluster.heartbeat"):
    member: MemberInfo
    members: tuple[MemberInfo, ...] = ()


class Identify(Message, tag="tadpole.cluster.identify"):
    """Asked over an open connection: who answers there (a :class:`Heartbeat` of
    the answering member)."""


class Leave(Message, tag="tadpole.cluster.leave"):
    member: MemberInfo


class LeaveAck(Message, tag="tadpole.cluster.leave_ack"):
    pass
