"""Cluster membership: seeds, heartbeats, a phi-accrual failure detector, events.

A :class:`Cluster` runs on a :class:`~actors.remote.RemoteNode`::

    async with RemoteNode(system, name="alpha", secret=secret, port=7350) as node:
        async with Cluster(node, seeds=[("10.0.0.1", 7350)]) as cluster:
            cluster.subscribe(watcher_ref)   # MemberUp, MemberUnreachable, ...
"""

from protocol._public import publish as _publish_names

from ._cluster import Cluster as Cluster
from ._cluster import ClusterConfig as ClusterConfig
from ._cluster import ClusterStatistics as ClusterStatistics
from ._cluster import Member as Member
from ._detector import HeartbeatHistory as HeartbeatHistory
from ._detector import PhiAccrualFailureDetector as PhiAccrualFailureDetector
from ._errors import JoinRefused as JoinRefused
from ._events import MemberDown as MemberDown
from ._events import MemberEvent as MemberEvent
from ._events import MemberLeft as MemberLeft
from ._events import MemberReachable as MemberReachable
from ._events import MemberUnreachable as MemberUnreachable
from ._events import MemberUp as MemberUp

__all__ = (
    "Cluster",
    "ClusterConfig",
    "ClusterStatistics",
    "HeartbeatHistory",
    "JoinRefused",
    "Member",
    "MemberDown",
    "MemberEvent",
    "MemberLeft",
    "MemberReachable",
    "MemberUnreachable",
    "MemberUp",
    "PhiAccrualFailureDetector",
)

_publish_names(__name__, globals(), __all__)
