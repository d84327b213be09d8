"""The node's HTTP listener: the tickets API, ``/metrics`` and a live dashboard.

One Starlette app (:func:`build_app`) served by uvicorn inside the node's
event loop (:class:`HttpServer`). Needs the ``http`` extra (starlette,
uvicorn); ``/metrics`` needs prometheus-client. The dashboard reads a
:class:`DashboardSource`; :class:`NodeSource` builds one from the node's
cluster, its stability monitor and a job listing.
"""

from __future__ import annotations

from ._app import SESSION_COOKIE as SESSION_COOKIE
from ._app import build_app as build_app
from ._dashboard import sparkline_path as sparkline_path
from ._server import HttpServer as HttpServer
from ._source import AlertRow as AlertRow
from ._source import DashboardSource as DashboardSource
from ._source import JobRow as JobRow
from ._source import MemberLike as MemberLike
from ._source import MemberRow as MemberRow
from ._source import NodeSource as NodeSource

__all__ = (
    "SESSION_COOKIE",
    "AlertRow",
    "DashboardSource",
    "HttpServer",
    "JobRow",
    "MemberLike",
    "MemberRow",
    "NodeSource",
    "build_app",
    "sparkline_path",
)

from protocol._public import publish as _publish_names

_publish_names(__name__, globals(), __all__)
