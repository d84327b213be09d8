"""Fuzz the tickets' HTTP API with bad bodies: always a 4xx with a clear message, never a 500.

The API runs in a thread of its own (its own event loop, a Tickets actor and
uvicorn, as on a node); hypothesis drives a synchronous client against it:
wrong types, missing and unknown fields, huge strings, invalid UTF-8, bytes
that are not JSON. After every request the node still serves.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import TYPE_CHECKING, Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from actors import ActorSystem
from actors.roles.tickets import Tickets

if TYPE_CHECKING:
    from collections.abc import Iterator

httpx = pytest.importorskip("httpx", reason="the HTTP API tests need httpx (the dev extra)")
http = pytest.importorskip("actors.roles.tickets.http", reason="needs the http extra")

TOKEN = "fuzz-token-0123456789abcdef"
MAX_BODY = 64 * 1024
PIPELINE = {"stages": [{"name": "a", "next": "b"}, {"name": "b"}]}


@pytest.fixture(scope="module")
def api() -> Iterator[Any]:
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        async with ActorSystem("fuzz") as system:
            tickets = await system.spawn(Tickets, name="tickets")
            server = http.HttpServer(http.build_app(tickets, TOKEN, max_body=MAX_BODY))
            task = asyncio.create_task(server.run_until_stopped())
            await server.wait_started()
            box["url"] = server.url
            box["stop"] = asyncio.Event()
            box["loop"] = asyncio.get_running_loop()
            ready.set()
            await box["stop"].wait()
            await server.shutdown_and_wait()
            await task

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(30), "the fuzz server did not start"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    with httpx.Client(base_url=box["url"], headers=headers, timeout=30) as client:
        run = client.post("/api/runs", json={"pipeline": PIPELINE, "inputs": [{"source": "s"}]})
        assert run.status_code == 200
        yield client
    box["loop"].call_soon_threadsafe(box["stop"].set)
    thread.join(30)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
FIELDS = {
    "/api/runs": ["pipeline", "inputs"],
    "/api/runs/run-1/claim": ["worker_type", "worker_id"],
    "/api/runs/run-1/renew": ["ticket", "token"],
    "/api/runs/run-1/submit": ["ticket", "token", "outcome", "output", "concerns"],
}


@st.composite
def bad_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    path = draw(st.sampled_from(sorted(FIELDS)))
    kind = draw(st.sampled_from(["typed", "bytes", "utf8", "huge", "shape"]))
    if kind == "typed":  # the route's own fields, some missing, each of a random type
        fields = draw(st.lists(st.sampled_from(FIELDS[path]), unique=True))
        body = {f: draw(json_values) for f in fields}
        return path, json.dumps(body).encode()
    if kind == "bytes":
        return path, draw(st.binary(max_size=64))
    if kind == "utf8":  # valid JSON around an invalid UTF-8 sequence
        bad = draw(
            st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])
        )
        return path, b'{"worker_type": "' + bad + b'", "worker_id": "w"}'
    if kind == "huge":
        size = draw(st.sampled_from([MAX_BODY - 100, MAX_BODY + 1, 4 * MAX_BODY]))
        return path, json.dumps({FIELDS[path][0]: "x" * size}).encode()
    return path, json.dumps(draw(json_values)).encode()


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=bad_bodies())
def test_bad_bodies_get_a_clear_4xx_and_the_node_keeps_serving(
    api: Any, case: tuple[str, bytes]
) -> None:
    path, body = case
    reply = api.post(path, content=body)
    assert reply.status_code != 500, reply.text
    if reply.status_code != 200:  # a random body can be a valid request (a claim, say)
        assert 400 <= reply.status_code < 500, reply.text
        error = reply.json()["error"]
        assert error["code"] in {"bad_request", "too_large", "not_found", "claim_lost"}
        assert error["message"]
        if error["code"] == "bad_request" and body[:1] == b"{" and b"\xff" not in body:
            assert error["field"], error
    assert api.get("/api/runs").status_code == 200
