"""The node's HTTP app in process (no socket): routes, the auth policy, /metrics, /api."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from actors.web import SESSION_COOKIE, build_app
from actors.web._app import _is_loopback
from tests.unit.actors.web.fakes import calm_source

if TYPE_CHECKING:
    from starlette.types import ASGIApp

httpx = pytest.importorskip("httpx", reason="the HTTP tests need httpx (the dev extra)")
prometheus_client = pytest.importorskip("prometheus_client", reason="/metrics needs it")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

pytestmark = pytest.mark.anyio

TOKEN = "node-token-0123456789"
LOOPBACK = ("127.0.0.1", 50000)
REMOTE = ("10.1.2.3", 50000)


def filled_registry() -> Any:  # Any: a prometheus CollectorRegistry
    registry = prometheus_client.CollectorRegistry()
    told = prometheus_client.Counter(
        "tadpole_messages", "Messages told", ["actor_type"], registry=registry
    )
    told.labels("Worker").inc(41)
    told.labels("Worker").inc()
    told.labels("Balancer").inc(7)
    depth = prometheus_client.Gauge("tadpole_mailbox_depth", "Mailbox depth", registry=registry)
    depth.set(3)
    return registry


def client(app: ASGIApp, peer: tuple[str, int] = LOOPBACK, **kwargs: Any) -> Any:
    transport = httpx.ASGITransport(app=app, client=peer)
    return httpx.AsyncClient(transport=transport, base_url="http://node", **kwargs)


@pytest.fixture
def tickets_api() -> ASGIApp:
    tickets_http = pytest.importorskip("actors.roles.tickets.http")
    app: ASGIApp = tickets_http.build_app(object(), TOKEN)
    return app


async def test_metrics_are_prometheus_text_that_prometheus_parses_back() -> None:
    app = build_app(registry=filled_registry())
    async with client(app) as c:
        r = await c.get("/metrics")
    assert r.status_code == 200
    # prometheus-client's own negotiation (choose_encoder): the classic text format.
    assert r.headers["content-type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert families["tadpole_messages"].type == "counter"
    assert samples[("tadpole_messages_total", (("actor_type", "Worker"),))] == 42
    assert samples[("tadpole_messages_total", (("actor_type", "Balancer"),))] == 7
    assert families["tadpole_mailbox_depth"].type == "gauge"
    assert samples[("tadpole_mailbox_depth", ())] == 3


async def test_a_scraper_asking_for_openmetrics_gets_openmetrics() -> None:
    from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS

    app = build_app(registry=filled_registry())
    async with client(app) as c:
        r = await c.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert r.headers["content-type"] == OPENMETRICS
    assert r.text.endswith("# EOF\n")


async def test_metrics_from_afar_need_the_bearer_token() -> None:
    app = build_app(registry=filled_registry(), token=TOKEN)
    async with client(app, REMOTE) as c:
        missing = await c.get("/metrics")
        wrong = await c.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert right.status_code == 200
    assert "tadpole_mailbox_depth 3.0" in right.text


async def test_without_a_token_only_loopback_reads_and_loopback_trust_can_be_turned_off() -> None:
    open_app = build_app(registry=filled_registry())
    async with client(open_app, REMOTE) as c:
        r = await c.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert r.status_code == 401
    closed = build_app(registry=filled_registry(), token=TOKEN, open_to_loopback=False)
    async with client(closed) as c:
        refused = await c.get("/metrics")
        allowed = await c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert refused.status_code == 401
    assert allowed.status_code == 200


async def test_the_dashboard_loads_for_loopback_with_its_script_and_a_strict_policy() -> None:
    app = build_app(source=calm_source())
    async with client(app) as c:
        page = await c.get("/")
        script = await c.get("/dashboard.js")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'data-parameter="message_rate_variance"' in page.text
    assert "tcp://127.0.0.1:7001" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert script.headers["content-type"].startswith("text/javascript")
    assert "new EventSource(" in script.text


async def test_a_browser_from_afar_signs_in_and_gets_a_cookie_not_the_token() -> None:
    app = build_app(source=calm_source(), token=TOKEN)
    async with client(app, REMOTE) as c:
        first = await c.get("/")
        assert first.status_code == 303
        assert first.headers["location"] == "login"
        assert (await c.get("/events")).status_code == 401
        form = await c.get("/login")
        assert 'type="password" name="token"' in form.text
        wrong = await c.post("/login", data={"token": "guess"})
        assert wrong.status_code == 401
        assert "Wrong token" in wrong.text
        assert SESSION_COOKIE not in c.cookies
        signed = await c.post("/login", data={"token": TOKEN})
        assert signed.status_code == 303
        set_cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in set_cookie
        assert "samesite=strict" in set_cookie
        cookie = c.cookies[SESSION_COOKIE]
        assert cookie
        assert TOKEN not in cookie
        page = await c.get("/")
    assert page.status_code == 200
    assert "queue_oscillation" in page.text


async def test_the_session_cookie_opens_the_views_but_never_the_api(tickets_api: ASGIApp) -> None:
    app = build_app(api=tickets_api, registry=filled_registry(), source=calm_source(), token=TOKEN)
    async with client(app, REMOTE) as c:
        await c.post("/login", data={"token": TOKEN})
        assert c.cookies[SESSION_COOKIE]
        metrics = await c.get("/metrics")
        api = await c.get("/api/runs")
    assert metrics.status_code == 200
    assert api.status_code == 401
    assert api.json()["error"]["code"] == "unauthorized"


async def test_an_oversized_login_form_is_refused() -> None:
    app = build_app(source=calm_source(), token=TOKEN)
    async with client(app, REMOTE) as c:
        r = await c.post("/login", data={"token": "x" * 10_000})
    assert r.status_code == 413


async def test_the_tickets_api_is_mounted_under_api_as_it_was(tickets_api: ASGIApp) -> None:
    app = build_app(api=tickets_api, source=calm_source())
    async with client(app, REMOTE) as c:
        spec = await c.get("/api/openapi.json")
        unknown = await c.get("/api/nowhere", headers={"Authorization": f"Bearer {TOKEN}"})
        unauthorized = await c.get("/api/runs")
    assert spec.status_code == 200
    assert "/api/runs" in spec.json()["paths"]
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert unauthorized.status_code == 401


async def test_only_the_parts_given_are_served() -> None:
    async with client(build_app()) as c:
        assert (await c.get("/metrics")).status_code == 404
        assert (await c.get("/")).status_code == 404
        assert (await c.get("/api/runs")).status_code == 404


def test_bad_settings_are_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match="interval must be > 0 seconds, not 0"):
        build_app(interval=0)
    with pytest.raises(ValueError, match="at least 2 points, not 1"):
        build_app(points=1)
    with pytest.raises(ValueError, match="must not be empty"):
        build_app(token="")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("2001:db8::1", False),
        ("localhost", False),  # a name, not an address: never trusted
        ("", False),
    ],
)
def test_loopback_means_a_loopback_address(host: str, loopback: bool) -> None:
    assert _is_loopback(host) is loopback
