"""Tadpole's actor runtime: actors, refs, mailboxes, supervision, systems."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

# First of all: ``protocol`` and ``scheduler`` must be Tadpole's, not packages of
# the same name from another distribution (importing _ours checks; see the README).
from . import _ours  # noqa: F401 - imported first, for its check
from ._actor import Actor as Actor
from ._actor import ActorContext as ActorContext
from ._clock import Cancellable as Cancellable
from ._clock import Clock as Clock
from ._clock import LoopClock as LoopClock
from ._deadletters import DeadLetter as DeadLetter
from ._deadletters import DeadLetters as DeadLetters
from ._errors import ActorError as ActorError
from ._errors import ActorFailed as ActorFailed
from ._errors import ActorNameTaken as ActorNameTaken
from ._errors import ActorNotFound as ActorNotFound
from ._errors import ActorStopped as ActorStopped
from ._errors import AskDeadlock as AskDeadlock
from ._errors import AskTimeout as AskTimeout
from ._errors import DeliveryRefused as DeliveryRefused
from ._errors import LinkedActorFailed as LinkedActorFailed
from ._errors import MailboxFull as MailboxFull
from ._errors import RemoteActorError as RemoteActorError
from ._errors import RestartIntensityExceeded as RestartIntensityExceeded
from ._errors import SystemNotRunning as SystemNotRunning
from ._errors import SystemShutdown as SystemShutdown
from ._mailbox import MailboxConfig as MailboxConfig
from ._mailbox import MailboxStatistics as MailboxStatistics
from ._mailbox import Overflow as Overflow
from ._maintenance import Maintenance as Maintenance
from ._maintenance import MaintenanceJob as MaintenanceJob
from ._maintenance import MaintenanceLane as MaintenanceLane
from ._maintenance import MaintenanceStatistics as MaintenanceStatistics
from ._ref import ActorRef as ActorRef
from ._ref import Request as Request
from ._system import ActorSystem as ActorSystem
from ._system import RecordSink as RecordSink
from ._system import SystemStatistics as SystemStatistics
from ._topics import Topics as Topics
from ._topics import TopicStatistics as TopicStatistics
from ._virtual import VirtualRef as VirtualRef
from ._virtual import VirtualStatistics as VirtualStatistics
from ._watch import LinkExited as LinkExited
from ._watch import Terminated as Terminated
from .supervision import Backoff as Backoff
from .supervision import ChildSpec as ChildSpec
from .supervision import Directive as Directive
from .supervision import Directives as Directives
from .supervision import Restart as Restart
from .supervision import Strategy as Strategy
from .supervision import SupervisorFlags as SupervisorFlags

T = TypeVar("T")


def run(main: Callable[..., Awaitable[T]], *args: Any, uvloop: bool = False) -> T:
    """Run ``main(*args)`` on asyncio (on uvloop when ``uvloop=True``)."""
    return anyio.run(main, *args, backend="asyncio", backend_options={"use_uvloop": uvloop})


__tadpole__ = "actors"
"""Marks this package as Tadpole's own (``import actors`` checks it: see README, Installing)."""

__all__ = (
    "Actor",
    "ActorContext",
    "ActorError",
    "ActorFailed",
    "ActorNameTaken",
    "ActorNotFound",
    "ActorRef",
    "ActorStopped",
    "ActorSystem",
    "AskDeadlock",
    "AskTimeout",
    "Backoff",
    "Cancellable",
    "ChildSpec",
    "Clock",
    "DeadLetter",
    "DeadLetters",
    "DeliveryRefused",
    "Directive",
    "Directives",
    "LinkExited",
    "LinkedActorFailed",
    "LoopClock",
    "MailboxConfig",
    "MailboxFull",
    "MailboxStatistics",
    "Maintenance",
    "MaintenanceJob",
    "MaintenanceLane",
    "MaintenanceStatistics",
    "Overflow",
    "RecordSink",
    "RemoteActorError",
    "Request",
    "Restart",
    "RestartIntensityExceeded",
    "Strategy",
    "SupervisorFlags",
    "SystemNotRunning",
    "SystemShutdown",
    "SystemStatistics",
    "Terminated",
    "TopicStatistics",
    "Topics",
    "VirtualRef",
    "VirtualStatistics",
    "run",
)

# After _ours's check, like every import of protocol here.
from protocol._public import publish as _publish_names  # noqa: E402

_publish_names(__name__, globals(), __all__)
