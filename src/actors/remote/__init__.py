"""Remote actors: refs that work across processes and machines.

A :class:`RemoteNode` puts an :class:`~actors.ActorSystem` on the network;
``node.ref("tadpole://beta@10.0.0.2:7350/user/worker")`` returns a
:class:`RemoteRef` whose ``tell``, ``send`` and ``ask`` behave as a local
ref's do. The wire format is the :mod:`protocol` package's; the network is a
:class:`Transport` (:class:`TcpTransport`, or :class:`MemoryTransport` in tests).
"""

from protocol._public import publish as _publish_names

from ._address import Address as Address
from ._address import parse_address as parse_address
from ._backoff import ReconnectBackoff as ReconnectBackoff
from ._connection import NoReply as NoReply
from ._errors import ConnectionLost as ConnectionLost
from ._errors import HandshakeTimeout as HandshakeTimeout
from ._errors import InvalidAddress as InvalidAddress
from ._errors import NodeNameConflict as NodeNameConflict
from ._errors import NodeUnreachable as NodeUnreachable
from ._errors import RemoteError as RemoteError
from ._errors import SendBufferFull as SendBufferFull
from ._memory import MemoryNetwork as MemoryNetwork
from ._memory import MemoryTransport as MemoryTransport
from ._node import RemoteConfig as RemoteConfig
from ._node import RemoteNode as RemoteNode
from ._node import RemoteStatistics as RemoteStatistics
from ._ref import RemoteRef as RemoteRef
from ._transport import TcpTransport as TcpTransport
from ._transport import Transport as Transport
from ._transport import TransportListener as TransportListener

__all__ = (
    "Address",
    "ConnectionLost",
    "HandshakeTimeout",
    "InvalidAddress",
    "MemoryNetwork",
    "MemoryTransport",
    "NoReply",
    "NodeNameConflict",
    "NodeUnreachable",
    "ReconnectBackoff",
    "RemoteConfig",
    "RemoteError",
    "RemoteNode",
    "RemoteRef",
    "RemoteStatistics",
    "SendBufferFull",
    "TcpTransport",
    "Transport",
    "TransportListener",
    "parse_address",
)

_publish_names(__name__, globals(), __all__)
