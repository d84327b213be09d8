"""Tadpole's wire level: messages, codec, envelopes, framing and the handshake.

This package depends on msgspec and the standard library only; the actor
runtime and its TCP transport build on it.
"""

from ._codec import Codec as Codec
from ._envelope import Envelope as Envelope
from ._envelope import EnvelopeCodec as EnvelopeCodec
from ._envelope import MessageKind as MessageKind
from ._envelope import RemoteFailure as RemoteFailure
from ._errors import AuthenticationFailed as AuthenticationFailed
from ._errors import ClusterMismatch as ClusterMismatch
from ._errors import DuplicateMessageTag as DuplicateMessageTag
from ._errors import FrameTooLarge as FrameTooLarge
from ._errors import FramingError as FramingError
from ._errors import HandshakeError as HandshakeError
from ._errors import HandshakeStateError as HandshakeStateError
from ._errors import InvalidMessage as InvalidMessage
from ._errors import MalformedEnvelope as MalformedEnvelope
from ._errors import MalformedHandshake as MalformedHandshake
from ._errors import MalformedMessage as MalformedMessage
from ._errors import MessageDefinitionError as MessageDefinitionError
from ._errors import MessageTooLarge as MessageTooLarge
from ._errors import ProtocolError as ProtocolError
from ._errors import ProtocolVersionMismatch as ProtocolVersionMismatch
from ._errors import RemoteProtocolError as RemoteProtocolError
from ._errors import TruncatedFrame as TruncatedFrame
from ._errors import UnexpectedHandshakeMessage as UnexpectedHandshakeMessage
from ._errors import UnknownMessageType as UnknownMessageType
from ._framing import DEFAULT_MAX_FRAME_SIZE as DEFAULT_MAX_FRAME_SIZE
from ._framing import FRAME_HEADER_SIZE as FRAME_HEADER_SIZE
from ._framing import FrameReader as FrameReader
from ._framing import FrameWriter as FrameWriter
from ._framing import encode_frame as encode_frame
from ._handshake import HANDSHAKE_MAX_FRAME_SIZE as HANDSHAKE_MAX_FRAME_SIZE
from ._handshake import MAX_NAME_LENGTH as MAX_NAME_LENGTH
from ._handshake import NONCE_SIZE as NONCE_SIZE
from ._handshake import PROTOCOL_VERSION as PROTOCOL_VERSION
from ._handshake import Handshake as Handshake
from ._handshake import HandshakeRole as HandshakeRole
from ._handshake import check_name as check_name
from ._message import Message as Message
from ._message import MessageRegistry as MessageRegistry
from ._message import registry as registry
from ._public import publish as _publish_names
from ._schema import SCHEMA_DIALECT as SCHEMA_DIALECT
from ._schema import export_schemas as export_schemas
from ._secret import MIN_SECRET_BITS as MIN_SECRET_BITS
from ._secret import WeakSecret as WeakSecret
from ._secret import cluster_key as cluster_key
from ._secret import generate_secret as generate_secret
from ._secret import secret_bits as secret_bits

__tadpole__ = "protocol"
"""Marks this package as Tadpole's own (``import actors`` checks it: see README, Installing)."""

__all__ = (
    "DEFAULT_MAX_FRAME_SIZE",
    "FRAME_HEADER_SIZE",
    "HANDSHAKE_MAX_FRAME_SIZE",
    "MAX_NAME_LENGTH",
    "MIN_SECRET_BITS",
    "NONCE_SIZE",
    "PROTOCOL_VERSION",
    "SCHEMA_DIALECT",
    "AuthenticationFailed",
    "ClusterMismatch",
    "Codec",
    "DuplicateMessageTag",
    "Envelope",
    "EnvelopeCodec",
    "FrameReader",
    "FrameTooLarge",
    "FrameWriter",
    "FramingError",
    "Handshake",
    "HandshakeError",
    "HandshakeRole",
    "HandshakeStateError",
    "InvalidMessage",
    "MalformedEnvelope",
    "MalformedHandshake",
    "MalformedMessage",
    "Message",
    "MessageDefinitionError",
    "MessageKind",
    "MessageRegistry",
    "MessageTooLarge",
    "ProtocolError",
    "ProtocolVersionMismatch",
    "RemoteFailure",
    "RemoteProtocolError",
    "TruncatedFrame",
    "UnexpectedHandshakeMessage",
    "UnknownMessageType",
    "WeakSecret",
    "check_name",
    "cluster_key",
    "encode_frame",
    "export_schemas",
    "generate_secret",
    "registry",
    "secret_bits",
)

_publish_names(__name__, globals(), __all__)
