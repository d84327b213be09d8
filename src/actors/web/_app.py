"""The node's HTTP app: one Starlette app for the tickets API, /metrics and the dashboard.

Routes (each part only when given):

- ``/api/...`` the tickets API (``actors.roles.tickets.http.build_app``),
  mounted as it is: it keeps its own bearer token and error contract.
- ``GET /metrics`` the registry in Prometheus's text exposition (OpenMetrics
  when the scraper asks for it), written by prometheus-client itself.
- ``GET /`` the dashboard, ``GET /dashboard.js`` its script, ``GET /events``
  its Server-Sent Events, ``GET|POST /login`` its sign-in form.

Who may read /metrics and the dashboard (read-only views, no state changes):

- a client on a loopback address, with no credential (``open_to_loopback``,
  on by default): whoever is on the node's machine can already read its logs
  and, as the operator, its secret; a scraper or an SSH tunnel on the host
  needs no configuration. Behind a reverse proxy on the same host every client
  looks local: turn it off there.
- any other client presents the node's bearer token: as an
  ``Authorization: Bearer`` header (Prometheus's ``authorization`` scrape
  setting), or, for a browser, which cannot add headers to page loads or to
  ``EventSource``, through the ``/login`` form: it sets an HttpOnly,
  SameSite=Strict cookie (Secure over TLS) holding an HMAC of the token, not
  the token, so the cookie opens the views but never the API. A form, not a
  query parameter, keeps the token out of URLs, history and proxy logs.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import urllib.parse
from typing import TYPE_CHECKING, Final

import anyio
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route

from ._dashboard import SCRIPT, event_of, render_page, state_of

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from prometheus_client.registry import Collector
    from starlette.requests import Request
    from starlette.types import ASGIApp, Receive, Scope, Send

    from ._source import DashboardSource

__all__ = ("SESSION_COOKIE", "build_app")

SESSION_COOKIE: Final = "tadpole_session"
"""The dashboard's session cookie (an HMAC of the bearer token)."""

_MAX_LOGIN_BODY: Final = 4096
_KEEPALIVE: Final = 15.0  # seconds between SSE comments when nothing changes
_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; "
        "style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_LOGIN_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tadpole: sign in</title></head>
<body><form method="post" action="login">
<p>{message}</p>
<label>Node token <input type="password" name="token" autofocus></label>
<button type="submit">Sign in</button></form></body></html>
"""


def _session_value(token: str) -> str:
    return hmac.new(token.encode(), b"tadpole dashboard session", hashlib.sha256).hexdigest()


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class _Guard:
    """Who may read the views; see the module's docstring."""

    def __init__(self, token: str | None, open_to_loopback: bool) -> None:
        self.token = None if token is None else token.encode()
        self.session = None if token is None else _session_value(token)
        self.open_to_loopback = open_to_loopback

    def allows(self, request: Request) -> bool:
        client = request.client
        if self.open_to_loopback and client is not None and _is_loopback(client.host):
            return True
        if self.token is None:
            return False
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credential.strip().encode(), self.token
        ):
            return True
        cookie = request.cookies.get(SESSION_COOKIE, "")
        assert self.session is not None
        return hmac.compare_digest(cookie.encode(), self.session.encode())

    def check_token(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(given.encode(), self.token)


def _unauthorized(request: Request, *, page: bool) -> Response:
    if page:  # a browser: send it to the sign-in form
        return RedirectResponse("login", status_code=303, headers=_SECURITY_HEADERS)
    return Response(
        "a valid 'Authorization: Bearer <token>' is required (or a loopback client)\n",
        401,
        headers={"WWW-Authenticate": "Bearer", **_SECURITY_HEADERS},
        media_type="text/plain",
    )


def _as_mounted(app: ASGIApp) -> ASGIApp:
    """``app`` under ``Mount("/api")`` as if it were not mounted: the tickets app
    routes ``/api/...`` itself (its OpenAPI document names those paths), and
    Starlette's mount would hide the prefix from it."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        root: str = scope.get("root_path", "")
        await app({**scope, "root_path": root.removesuffix("/api")}, receive, send)

    return asgi


def _metrics_route(registry: Collector, guard: _Guard) -> Route:
    # Imported only when a registry is served: prometheus-client is the metrics extra.
    from prometheus_client.exposition import choose_encoder

    async def metrics(request: Request) -> Response:
        if not guard.allows(request):
            return _unauthorized(request, page=False)
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry), headers={"Content-Type": content_type})

    return Route("/metrics", metrics, methods=["GET"], name="metrics")


def _dashboard_routes(
    source: DashboardSource,
    guard: _Guard,
    stopping: anyio.Event,
    *,
    title: str,
    interval: float,
    points: int,
) -> list[BaseRoute]:
    async def page(request: Request) -> Response:
        if not guard.allows(request):
            return _unauthorized(request, page=True)
        return HTMLResponse(render_page(state_of(source, points), title), headers=_SECURITY_HEADERS)

    async def script(request: Request) -> Response:
        return Response(
            SCRIPT, media_type="text/javascript; charset=utf-8", headers=_SECURITY_HEADERS
        )

    async def stream() -> AsyncIterator[bytes]:
        last = b""
        quiet = 0.0
        yield f"retry: {max(1000, int(interval * 1000))}\n\n".encode()
        while not stopping.is_set():
            event = event_of(state_of(source, points))
            if event != last:
                yield event
                last, quiet = event, 0.0
            elif quiet >= _KEEPALIVE:
                yield b": keepalive\n\n"
                quiet = 0.0
            # The refresh pace of a socket stream, not actor logic: loop time, not the
            # injected clock. The server's stop ends the wait at once.
            with anyio.move_on_after(interval):
                await stopping.wait()
            quiet += interval

    async def events(request: Request) -> Response:
        if not guard.allows(request):
            return _unauthorized(request, page=False)
        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={**_SECURITY_HEADERS, "X-Accel-Buffering": "no"},
        )

    async def login(request: Request) -> Response:
        if request.method == "GET":
            message = "Sign in with the node's HTTP token."
            return HTMLResponse(_LOGIN_PAGE.format(message=message), headers=_SECURITY_HEADERS)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > _MAX_LOGIN_BODY:
                return Response("the form is too large\n", 413, media_type="text/plain")
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        given = form.get("token", [""])[0]
        if not guard.check_token(given):
            message = "Wrong token: try again."
            return HTMLResponse(_LOGIN_PAGE.format(message=message), 401, headers=_SECURITY_HEADERS)
        assert guard.session is not None
        response = RedirectResponse("./", status_code=303, headers=_SECURITY_HEADERS)
        response.set_cookie(
            SESSION_COOKIE,
            guard.session,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    return [
        Route("/", page, methods=["GET"], name="dashboard"),
        Route("/dashboard.js", script, methods=["GET"], name="dashboard_js"),
        Route("/events", events, methods=["GET"], name="events"),
        Route("/login", login, methods=["GET", "POST"], name="login"),
    ]


def build_app(
    *,
    api: ASGIApp | None = None,
    registry: Collector | None = None,
    source: DashboardSource | None = None,
    token: str | None = None,
    open_to_loopback: bool = True,
    title: str = "Tadpole",
    interval: float = 1.0,
    points: int = 60,
) -> Starlette:
    """The node's HTTP app: ``api`` under ``/api``, ``registry`` at ``/metrics``,
    the dashboard of ``source`` at ``/``.

    ``token`` opens /metrics and the dashboard to clients that are not on
    loopback (see the module's docstring); without it only loopback clients
    (when ``open_to_loopback``) can read them. ``interval`` is the seconds
    between the dashboard's updates, ``points`` the values per sparkline. The
    app's ``state.stopping`` event ends its event streams; :class:`HttpServer`
    sets it when it stops.
    """
    if interval <= 0:
        raise ValueError(f"interval must be > 0 seconds, not {interval!r}")
    if points < 2:
        raise ValueError(f"a sparkline needs at least 2 points, not {points!r}")
    if token is not None and not token:
        raise ValueError("the token must not be empty (give None for loopback only)")
    guard = _Guard(token, open_to_loopback)
    stopping = anyio.Event()
    routes: list[BaseRoute] = []
    if registry is not None:
        routes.append(_metrics_route(registry, guard))
    if source is not None:
        routes.extend(
            _dashboard_routes(
                source, guard, stopping, title=title, interval=interval, points=points
            )
        )
    if api is not None:
        routes.append(Mount("/api", app=_as_mounted(api), name="api"))
    app = Starlette(routes=routes)
    app.state.stopping = stopping
    return app
