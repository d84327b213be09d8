"""The tickets' HTTP API: every route, the error contract, the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.actors.tickets.http_helpers import _http, served

pytestmark = pytest.mark.anyio

PIPELINE: dict[str, Any] = {
    "stages": [
        {"name": "parse", "next": "translate", "fan_out": "sentences"},
        {"name": "translate", "next": "curate"},
        {"name": "curate"},
    ],
    "lease_ttl": 30,
}


async def test_three_stages_over_http() -> None:
    async with served() as (client, _):
        r = await client.post(
            "/api/runs",
            json={"pipeline": PIPELINE, "inputs": [{"source": "doc-1", "data": "Hi. Bye."}]},
        )
        assert r.status_code == 200, r.text
        run = r.json()["run"]
        claim = (
            await client.post(
                f"/api/runs/{run}/claim", json={"worker_type": "parse", "worker_id": "p1"}
            )
        ).json()
        assert claim["ticket"]["input"] == "Hi. Bye."
        r = await client.post(
            f"/api/runs/{run}/renew",
            json={"ticket": claim["ticket"]["id"], "token": claim["token"]},
        )
        assert r.status_code == 200
        r = await client.post(
            f"/api/runs/{run}/submit",
            json={
                "ticket": claim["ticket"]["id"],
                "token": claim["token"],
                "output": {"sentences": ["Hi.", "Bye."]},
                "concerns": [{"level": "review", "message": "short", "suggestion": "check"}],
            },
        )
        assert r.status_code == 200
        assert len(r.json()["downstream"]) == 2
        for stage in ("translate", "translate", "curate", "curate"):
            c = (
                await client.post(
                    f"/api/runs/{run}/claim", json={"worker_type": stage, "worker_id": "w"}
                )
            ).json()
            assert c["ticket"]["sources"] == ["doc-1"]
            s = await client.post(
                f"/api/runs/{run}/submit",
                json={"ticket": c["ticket"]["id"], "token": c["token"], "output": "x"},
            )
            assert s.status_code == 200
        idle = await client.post(
            f"/api/runs/{run}/claim", json={"worker_type": "curate", "worker_id": "w"}
        )
        assert idle.json() == {"ticket": None, "token": None, "lease_ttl": None}
        status = (await client.get(f"/api/runs/{run}/status")).json()
        assert status["done"] is True
        assert status["stuck"] == 0
        assert status["counts"]["curate"]["completed"] == 2
        concerns = (
            await client.get(f"/api/runs/{run}/concerns", params={"level": "review"})
        ).json()
        assert concerns == [
            {
                "ticket": claim["ticket"]["id"],
                "level": "review",
                "message": "short",
                "suggestion": "check",
            }
        ]
        runs = (await client.get("/api/runs")).json()
        assert runs == [
            {"run": run, "stages": ["parse", "translate", "curate"], "tickets": 5, "done": True}
        ]
        ticket = (await client.get(f"/api/runs/{run}/tickets/{claim['ticket']['id']}")).json()
        assert ticket["status"] == "completed"
        assert ticket["output"] == {"sentences": ["Hi.", "Bye."]}


async def test_error_contract() -> None:
    async with served(max_body=4096) as (client, _):

        def error(r: Any) -> dict[str, Any]:
            body: dict[str, Any] = r.json()["error"]
            assert set(body) == {"code", "message", "field"}
            return body

        r = await client.get("/api/runs", headers={"Authorization": "Bearer wrong"})
        assert (r.status_code, error(r)["code"]) == (401, "unauthorized")
        r = await client.get("/api/runs", headers={"Authorization": ""})
        assert r.status_code == 401
        r = await client.post("/api/runs", json={"pipeline": PIPELINE, "inputs": [{"source": 5}]})
        assert (r.status_code, error(r)["field"]) == (400, "inputs[0].source")
        r = await client.post("/api/runs", json={"inputs": []})
        assert r.status_code == 400
        assert error(r)["field"] == "pipeline"
        r = await client.post("/api/runs", json={"pipeline": PIPELINE, "inputs": [{"data": 1}]})
        assert error(r)["field"] == "inputs[0].source"
        r = await client.post("/api/runs", json={"pipeline": PIPELINE, "inputs": [], "x": 1})
        assert error(r)["field"] == "x"
        r = await client.post("/api/runs", content=b"{not json")
        assert (r.status_code, error(r)["code"]) == (400, "bad_request")
        r = await client.post("/api/runs", content=b'{"a": "\xff"}')
        assert r.status_code == 400
        assert "UTF-8" in error(r)["message"]
        r = await client.post("/api/runs", content=b"x" * 5000)
        assert (r.status_code, error(r)["code"]) == (413, "too_large")
        r = await client.get("/api/runs/run-404/status")
        assert (r.status_code, error(r)["code"]) == (404, "not_found")
        r = await client.get("/api/nowhere")
        assert (r.status_code, error(r)["code"]) == (404, "not_found")
        r = await client.delete("/api/runs")
        assert (r.status_code, error(r)["code"]) == (405, "method_not_allowed")
        run = (
            await client.post("/api/runs", json={"pipeline": PIPELINE, "inputs": [{"source": "s"}]})
        ).json()["run"]
        c = (
            await client.post(
                f"/api/runs/{run}/claim", json={"worker_type": "parse", "worker_id": "w"}
            )
        ).json()
        done = {"ticket": c["ticket"]["id"], "token": c["token"], "output": {"sentences": []}}
        assert (await client.post(f"/api/runs/{run}/submit", json=done)).status_code == 200
        r = await client.post(f"/api/runs/{run}/submit", json=done)
        assert (r.status_code, error(r)["code"]) == (409, "claim_lost")
        r = await client.post(
            f"/api/runs/{run}/renew", json={"ticket": c["ticket"]["id"], "token": 99}
        )
        assert r.status_code == 409
        r = await client.get(f"/api/runs/{run}/tickets/{run}.77")
        assert r.status_code == 404
        r = await client.get(f"/api/runs/{run}/concerns", params={"level": "loud"})
        assert (r.status_code, error(r)["field"]) == (400, "level")


async def test_openapi_document_matches_the_routes() -> None:
    async with served() as (client, _):
        r = await client.get("/api/openapi.json", headers={"Authorization": ""})
        assert r.status_code == 200
        doc = r.json()
    app = _http.build_app(object(), "t")  # type: ignore[arg-type]
    served_routes = {
        (path, method.lower())
        for route in app.routes
        if (path := getattr(route, "path", None)) != "/api/openapi.json"
        for method in (getattr(route, "methods", None) or ()) - {"HEAD"}
    }
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert documented == served_routes
    assert documented == {
        ("/api/runs", "post"),
        ("/api/runs", "get"),
        ("/api/runs/{run}/status", "get"),
        ("/api/runs/{run}/claim", "post"),
        ("/api/runs/{run}/renew", "post"),
        ("/api/runs/{run}/submit", "post"),
        ("/api/runs/{run}/concerns", "get"),
        ("/api/runs/{run}/tickets/{ticket}", "get"),
    }
    for path, ops in doc["paths"].items():
        for op in ops.values():
            params = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert params == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}
            assert "409" in op["responses"]
            assert "401" in op["responses"]
    refs = str(doc["paths"])
    for name in doc["components"]["schemas"]:
        assert name in refs or name in str(doc["components"]["schemas"])
