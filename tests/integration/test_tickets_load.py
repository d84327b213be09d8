"""Load: 3 stages, 20 async HTTP workers, a third of them killed or silenced at random.

At the end every ticket is completed or in needs_review, none is claimed, no
result was applied twice (one submit record per finished ticket in the
ledger), every late submit of a silenced worker was refused with 409, and the
ledger verifies and replays into the same table.

Time is virtual: leases lapse only when the test's clock moves, and it moves a
little each time a worker finds no work, so a silent worker's claim is
reclaimed once the others run dry, whatever the machine's speed. The default
size is small enough for CI on two cores; ``TADPOLE_FULL_LOAD=1`` runs the full
5,000 tickets.
"""

from __future__ import annotations

import os
import random
from collections import Counter

import anyio
import msgspec
import pytest

from actors.ledger import open_ledger
from actors.roles.tickets import replay_table
from actors.roles.tickets._model import Submitted
from tests.helpers import ManualClock
from tests.unit.actors.tickets.http_helpers import served

pytestmark = pytest.mark.anyio

WORKERS = 20
STAGES = ("parse", "translate", "curate")
PIPELINE = {
    "stages": [
        {"name": "parse", "next": "translate"},
        {"name": "translate", "next": "curate"},
        {"name": "curate"},
    ],
    "lease_ttl": 5.0,
    "max_attempts": 4,
}


async def run_load(tickets_total: int, seed: int) -> None:
    rng = random.Random(seed)
    clock = ManualClock()
    inputs = [{"source": f"doc-{i}", "data": i} for i in range(tickets_total // len(STAGES))]
    fates = ["kill"] * 3 + ["silence"] * 4 + ["work"] * (WORKERS - 7)
    rng.shuffle(fates)
    done = anyio.Event()
    late: list[int] = []
    lost = Counter[str]()
    async with open_ledger() as ledger, served(ledger=ledger, clock=clock) as (http, _):
        created = await http.post("/api/runs", json={"pipeline": PIPELINE, "inputs": inputs})
        run = created.json()["run"]

        async def worker(index: int, fate: str, fate_at: int) -> None:
            claims = 0
            name = f"w{index}"
            while not done.is_set():
                stage = STAGES[rng.randrange(len(STAGES))]
                body = {"worker_type": stage, "worker_id": name}
                grant = (await http.post(f"/api/runs/{run}/claim", json=body)).json()
                if grant["ticket"] is None:
                    clock.advance(0.25)  # the swarm runs dry: time passes
                    status = (await http.get(f"/api/runs/{run}/status")).json()
                    if status["done"]:
                        done.set()
                    continue
                claims += 1
                if fate != "work" and claims == fate_at:
                    if fate == "kill":
                        return  # gone, claim and all
                    await done.wait()  # silent until the run is over, then a late submit
                    reply = await http.post(
                        f"/api/runs/{run}/submit",
                        json={"ticket": grant["ticket"]["id"], "token": grant["token"]},
                    )
                    late.append(reply.status_code)
                    return
                out = {"stage": stage, "by": name, "input": grant["ticket"]["input"]}
                reply = await http.post(
                    f"/api/runs/{run}/submit",
                    json={"ticket": grant["ticket"]["id"], "token": grant["token"], "output": out},
                )
                if reply.status_code == 409:
                    lost[name] += 1  # its lease lapsed while the clock moved: fenced off
                else:
                    assert reply.status_code == 200, reply.text

        with anyio.fail_after(300):
            async with anyio.create_task_group() as tg:
                for i, fate in enumerate(fates):
                    tg.start_soon(worker, i, fate, rng.randint(1, 5))

        status = (await http.get(f"/api/runs/{run}/status")).json()
        assert status["stuck"] == 0
        total = 0
        for stage, counts in status["counts"].items():
            assert counts["pending"] == counts["claimed"] == 0, (stage, counts)
            total += counts["completed"] + counts["needs_review"]
        assert counts["completed"] > 0
        assert all(code == 409 for code in late), late
        assert len(late) == fates.count("silence")
        records = await ledger.records()
        assert Counter(r.kind for r in records)["tickets.claim"] >= total
        table = await replay_table(ledger)
        submitted = Counter(
            msgspec.msgpack.decode(r.payload, type=Submitted).ticket
            for r in records
            if r.kind == "tickets.submit"
        )
        assert max(submitted.values()) == 1  # no result applied twice
        finished = {t.id for t in table.tickets.values() if t.status == "completed"}
        assert set(submitted) == finished
        assert len(table.tickets) == total
        report = await ledger.verify()
        assert report.ok, report


async def test_load_small() -> None:
    await run_load(tickets_total=300, seed=16)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("TADPOLE_FULL_LOAD") != "1", reason="the full 5,000 tickets: TADPOLE_FULL_LOAD=1"
)
async def test_load_full() -> None:
    await run_load(tickets_total=5_000, seed=5000)
