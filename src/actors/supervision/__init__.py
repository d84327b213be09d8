"""Supervision as data: child specs, supervisor flags, and the restart engine."""

from protocol._public import publish as _publish_names

from ._engine import RestartEngine as RestartEngine
from ._spec import Backoff as Backoff
from ._spec import ChildSpec as ChildSpec
from ._spec import Directive as Directive
from ._spec import Directives as Directives
from ._spec import Restart as Restart
from ._spec import Strategy as Strategy
from ._spec import SupervisorFlags as SupervisorFlags

__all__ = (
    "Backoff",
    "ChildSpec",
    "Directive",
    "Directives",
    "Restart",
    "RestartEngine",
    "Strategy",
    "SupervisorFlags",
)

_publish_names(__name__, globals(), __all__)
