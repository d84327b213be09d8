"""The node's HTTP listener on 127.0.0.1: /metrics, the dashboard's events, stopping.

uvicorn's graceful shutdown waits for every response in flight; a dashboard's
event stream never finishes on its own, so the server's stop must end it (the
last test shows the hang this prevents).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from tests.helpers import SECRET

httpx = pytest.importorskip("httpx", reason="the HTTP tests need httpx (the dev extra)")
pytest.importorskip("uvicorn", reason="the HTTP listener needs the http extra")
prometheus_client = pytest.importorskip("prometheus_client", reason="/metrics needs it")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import StreamingResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from actors.web import AlertRow, HttpServer, build_app  # noqa: E402
from tests.unit.actors.web.fakes import ALERT, FakeSource, calm_source  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request
    from starlette.types import ASGIApp

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[HttpServer]:
    server = HttpServer(app, "127.0.0.1", 0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.run_until_stopped)
        with anyio.fail_after(10):
            await server.wait_started()
        try:
            yield server
        finally:
            with anyio.fail_after(10):
                await server.shutdown_and_wait()


async def events(response: Any) -> AsyncIterator[dict[str, Any]]:
    """The JSON states of an event stream, as they arrive."""
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            yield json.loads(line.removeprefix("data: "))


async def test_metrics_over_the_socket_parse_back() -> None:
    registry = prometheus_client.CollectorRegistry()
    asks = prometheus_client.Counter("tadpole_asks", "Asks", registry=registry)
    asks.inc(5)
    async with serving(build_app(registry=registry)) as server, httpx.AsyncClient() as c:
        first = await c.get(f"{server.url}/metrics")
        asks.inc()
        second = await c.get(f"{server.url}/metrics")
    values = [
        {s.name: s.value for f in text_string_to_metric_families(r.text) for s in f.samples}
        for r in (first, second)
    ]
    assert values[0]["tadpole_asks_total"] == 5
    assert values[1]["tadpole_asks_total"] == 6


async def test_the_event_stream_follows_the_source() -> None:
    source = calm_source()
    app = build_app(source=source, interval=0.02)
    async with (
        serving(app) as server,
        httpx.AsyncClient(timeout=10) as c,
        c.stream("GET", f"{server.url}/events") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = events(response)
        with anyio.fail_after(10):
            first = await anext(stream)
            by_name = {p["name"]: p for p in first["parameters"]}
            before = by_name["queue_oscillation"]["path"]
            assert first["alerts"] == []
            assert [m["node"] for m in first["members"]] == ["n1", "n2"]
            source.record("queue_oscillation", 9.5)
            source.alert_rows.append(ALERT)
            async for state in stream:  # bounded by fail_after
                if state["alerts"]:
                    break
        after = {p["name"]: p for p in state["parameters"]}["queue_oscillation"]
        assert after["path"] != before
        assert after["value"] == 9.5
        assert AlertRow(**state["alerts"][0]) == ALERT


async def test_stopping_the_server_ends_open_event_streams() -> None:
    app = build_app(source=FakeSource(), interval=60.0)  # nothing would end the waits but stop
    server = HttpServer(app, "127.0.0.1", 0)
    async with anyio.create_task_group() as tg, httpx.AsyncClient(timeout=10) as c:
        tg.start_soon(server.run_until_stopped)
        with anyio.fail_after(10):
            await server.wait_started()
        async with c.stream("GET", f"{server.url}/events") as response:
            lines = response.aiter_lines()
            with anyio.fail_after(10):
                async for line in lines:
                    if line.startswith("data: "):
                        break
                await server.shutdown_and_wait()
                rest = [line async for line in lines]  # the stream ends
        assert all(not line.startswith("data: ") for line in rest)


async def test_a_stream_that_ignores_the_stop_would_hold_the_shutdown() -> None:
    """The control: what the stopping event prevents."""
    forever = anyio.Event()

    async def endless(request: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"data: {}\n\n"
            await forever.wait()

        return StreamingResponse(body(), media_type="text/event-stream")

    server = HttpServer(Starlette(routes=[Route("/events", endless)]), "127.0.0.1", 0)
    async with anyio.create_task_group() as tg, httpx.AsyncClient(timeout=10) as c:
        tg.start_soon(server.run_until_stopped)
        with anyio.fail_after(10):
            await server.wait_started()
        async with c.stream("GET", f"{server.url}/events") as response:
            # Hold the iterator: a dropped one is finalized, and httpcore then closes the
            # connection, which would end the stream from the client's side.
            lines = response.aiter_lines()
            with anyio.fail_after(10):
                async for line in lines:
                    if line:
                        break
            with anyio.move_on_after(0.5) as waited:
                await server.shutdown_and_wait()
            assert waited.cancelled_caught, "uvicorn's shutdown did not wait for the stream"
            forever.set()
            with anyio.fail_after(10):
                await server.shutdown_and_wait()


def _node(tmp_path: Path) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TADPOLE_")}
    environ |= {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}", "TADPOLE_SECRET": SECRET}
    argv = ["--name", "web-node", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"]
    return subprocess.Popen(
        [sys.executable, "-m", "actors.node", *argv, "--log-format", "json"],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _url(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # bounded by the node's exit and pytest's timeout
        seen.append(line)
        with contextlib.suppress(ValueError):
            if json.loads(line).get("event") == "http_listening":
                return str(json.loads(line)["url"])
    raise AssertionError("the node exited before serving HTTP:\n" + "".join(seen))


@pytest.mark.slow
def test_a_node_serves_the_api_and_its_dashboard_and_stops_with_a_stream_open(
    tmp_path: Path,
) -> None:
    proc = _node(tmp_path)
    try:
        url = _url(proc)
        with httpx.Client(base_url=url, timeout=30) as c:
            page = c.get("/")
            assert page.status_code == 200
            assert "<title>web-node</title>" in page.text
            assert c.get("/api/openapi.json").status_code == 200
            assert c.get("/api/runs").status_code == 401  # the API keeps its bearer token
            # The node's own registry (actors.ops) at /metrics, the monitor on the dashboard.
            samples = {
                sample.name: sample.value
                for family in text_string_to_metric_families(c.get("/metrics").text)
                for sample in family.samples
            }
            assert samples["tadpole_actors"] >= 1
            assert samples["tadpole_cluster_members"] == 1
            assert 'data-parameter="message_rate_variance"' in c.get("/").text
            with c.stream("GET", "/events") as response:
                lines = response.iter_lines()  # held: the stream stays open (see above)
                for line in lines:  # bounded by the client's timeout
                    if line.startswith("data: "):
                        state = json.loads(line.removeprefix("data: "))
                        break
                assert [m["node"] for m in state["members"]] == ["web-node"]
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=30) == 0
                rest = list(lines)  # returns: the node ended the stream
                assert all(not line or line.startswith(("data: ", ":")) for line in rest)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()
