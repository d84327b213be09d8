"""Tickets: a three-stage pipeline worked by HTTP workers, one of which goes silent.

Starts a Tickets actor and its HTTP API on 127.0.0.1 (a free port) in this
process, creates a run (parse -> translate -> curate), and lets three worker
tasks speak plain HTTP to it (httpx). One worker claims a ticket and goes
silent: its lease lapses, the ticket returns to pending and another worker
finishes it; the silent worker's late submit is refused with 409. Prints the
run's status and checks the ledger agrees with the table.

    python examples/tickets_pipeline.py

Needs the http extra and httpx: pip install -e '.[http,dev]'.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from actors import ActorSystem
from actors.ledger import open_ledger
from actors.roles.tickets import Checkpoint, MemoryTicketStore, Tickets, replay_table
from actors.roles.tickets.http import HttpServer, build_app

TOKEN = "example-token-0123456789"
PIPELINE = {
    "stages": [
        {"name": "parse", "next": "translate", "fan_out": "sentences"},
        {"name": "translate", "next": "curate"},
        {"name": "curate"},
    ],
    "lease_ttl": 0.5,
    "max_attempts": 3,
}
DOCUMENTS = {"doc-1": "The frog sat. The frog jumped.", "doc-2": "Ponds are wet."}


def work(stage: str, data: Any) -> tuple[Any, list[dict[str, str]]]:
    if stage == "parse":
        return {"sentences": [s.strip() + "." for s in data.split(".") if s.strip()]}, []
    if stage == "translate":
        return {"fr": data.replace("frog", "grenouille"), "en": data}, []
    concerns = (
        []
        if "grenouille" in data["fr"]
        else [
            {"level": "review", "message": "nothing translated", "suggestion": "check the glossary"}
        ]
    )
    return data, concerns


async def worker(http: httpx.AsyncClient, run: str, name: str, stages: list[str]) -> int:
    done = 0
    while True:  # until the run is done (main bounds the whole example's time)
        for stage in stages:
            body = {"worker_type": stage, "worker_id": name}
            grant = (await http.post(f"/api/runs/{run}/claim", json=body)).json()
            if grant["ticket"] is None:
                continue
            output, concerns = work(stage, grant["ticket"]["input"])
            submit = {
                "ticket": grant["ticket"]["id"],
                "token": grant["token"],
                "output": output,
                "concerns": concerns,
            }
            reply = await http.post(f"/api/runs/{run}/submit", json=submit)
            reply.raise_for_status()
            done += 1
        status = (await http.get(f"/api/runs/{run}/status")).json()
        if status["done"]:
            break
        await asyncio.sleep(0.05)  # a polling worker's pause between rounds
    return done


async def silent_worker(http: httpx.AsyncClient, run: str) -> int:
    """Claims one ticket, says nothing past its lease, then tries to submit."""
    body = {"worker_type": "parse", "worker_id": "silent"}
    grant = (await http.post(f"/api/runs/{run}/claim", json=body)).json()
    await asyncio.sleep(1.0)  # past the 0.5 s lease: the claim is reclaimed
    late = {"ticket": grant["ticket"]["id"], "token": grant["token"], "output": {"sentences": []}}
    reply = await http.post(f"/api/runs/{run}/submit", json=late)
    print("late submit from the silent worker:", reply.status_code, reply.json()["error"]["code"])
    return reply.status_code


async def main() -> None:
    async with open_ledger() as ledger, ActorSystem("tickets-example", ledger=ledger) as system:
        store = MemoryTicketStore()
        tickets = await system.spawn(Tickets, ledger, store, 0.1, name="tickets")
        server = HttpServer(build_app(tickets, TOKEN))
        serving = asyncio.create_task(server.run_until_stopped())
        await server.wait_started()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
            inputs = [{"source": k, "data": v} for k, v in DOCUMENTS.items()]
            created = await http.post("/api/runs", json={"pipeline": PIPELINE, "inputs": inputs})
            run = created.json()["run"]
            late = asyncio.create_task(silent_worker(http, run))
            await asyncio.sleep(0.1)  # let the silent worker take the first ticket
            stages = ["parse", "translate", "curate"]
            async with asyncio.timeout(60):
                counts = await asyncio.gather(
                    *(worker(http, run, f"w{i}", stages) for i in range(3)), late
                )
            status = (await http.get(f"/api/runs/{run}/status")).json()
            concerns = (await http.get(f"/api/runs/{run}/concerns")).json()
        await server.shutdown_and_wait()
        await serving
        print("submits per worker:", counts[:3])
        print("status:", status)
        print("concerns:", concerns)
        assert counts[3] == 409
        assert status["done"]
        assert status["stuck"] == 0
        await tickets.ask(Checkpoint())  # the store's rows catch up with the ledger
        assert (await replay_table(ledger)).encode() == store.load()[0].encode()
        print("the ledger's replay equals the ticket table")


if __name__ == "__main__":
    asyncio.run(main())
