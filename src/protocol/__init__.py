"""Tadpole's wire level: message types, their registry and the codec.

This package depends on msgspec only; the actor runtime builds on it.
"""

from ._codec import Codec as Codec
from ._errors import DuplicateMessageTag as DuplicateMessageTag
from ._errors import InvalidMessage as InvalidMessage
from ._errors import MalformedMessage as MalformedMessage
from ._errors import MessageDefinitionError as MessageDefinitionError
from ._errors import ProtocolError as ProtocolError
from ._errors import RemoteProtocolError as RemoteProtocolError
from ._errors import UnknownMessageType as UnknownMessageType
from ._message import Message as Message
from ._message import MessageRegistry as MessageRegistry
from ._message import registry as registry

__all__ = (
    "Codec",
    "DuplicateMessageTag",
    "InvalidMessage",
    "MalformedMessage",
    "Message",
    "MessageDefinitionError",
    "MessageRegistry",
    "ProtocolError",
    "RemoteProtocolError",
    "UnknownMessageType",
    "registry",
)
