"""Tickets: claim + submit round trips per second, raw SQLite vs the Tickets actor vs HTTP.

Each round trip claims the oldest pending ticket of stage ``a`` and submits a
result that creates one downstream ticket of stage ``b``: the same transitions
in all three, each durable before it is answered.

1. **raw**: plain SQLite transactions (WAL, synchronous=NORMAL) on one file —
   no actors, no ledger, no HTTP: the baseline. One transaction per
   transition, each committed before the next step (the claim before the
   submit), so each is answered durable against a killed process, as ours
   are; neither fsyncs per transition (ours fsyncs within ``sync_interval``).
   Also measured, as a stronger baseline (``raw_one_commit``): the claim and
   the submit in one transaction, a single commit per round trip, as ours
   pays (a claim rides with its submit's commit).
2. **actors**: ``ask(Claim)`` then ``ask(Submit)`` to a Tickets actor whose
   ledger and ticket store are SQLite files (each transition one ledger record;
   a submit's committed before its answer, a claim's with the next commit;
   rows reach the store in batches).
3. **http**: the same over the JSON API (httpx, keep-alive, one client),
   served by uvicorn in the same loop.

Target: actors at least 0.5x raw. Run: ``python benchmarks/bench_tickets.py
[--tickets N] [--repeats N] [--workers N]`` (``--workers``: that many workers
claim and submit at once through the actor; the raw baseline stays one
connection doing one transition after another, as SQLite serializes writers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, paired_ratio, quiet_logging
from actors import ActorSystem
from actors.ledger import open_ledger
from actors.roles.tickets import (
    Claim,
    ClaimGrant,
    CreateRun,
    Input,
    Pipeline,
    SQLiteTicketStore,
    Stage,
    Submit,
    Tickets,
)

PIPELINE = Pipeline((Stage("a", next="b"), Stage("b")), lease_ttl=60.0)


def raw(tickets: int, folder: Path, *, one_commit: bool = False) -> float:
    conn = sqlite3.connect(folder / f"raw-{one_commit}.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, run TEXT, stage TEXT, status TEXT,"
        " token INTEGER, worker TEXT, expires REAL, input BLOB, output BLOB, parent INTEGER)"
    )
    conn.execute("CREATE INDEX q ON t (run, stage, status, id)")
    conn.executemany(
        "INSERT INTO t (run, stage, status, token, input) VALUES ('r', 'a', 'pending', 0, ?)",
        [(str(i),) for i in range(tickets)],
    )
    start = time.perf_counter()
    for _ in range(tickets):
        conn.execute("BEGIN IMMEDIATE")
        tid, token = conn.execute(
            "SELECT id, token FROM t WHERE run='r' AND stage='a' AND status='pending'"
            " ORDER BY id LIMIT 1"
        ).fetchone()
        conn.execute(
            "UPDATE t SET status='claimed', token=?, worker='w', expires=? WHERE id=?",
            (token + 1, time.monotonic() + 60, tid),
        )
        if not one_commit:
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
        status, current = conn.execute("SELECT status, token FROM t WHERE id=?", (tid,)).fetchone()
        assert status == "claimed"
        assert current == token + 1
        conn.execute("UPDATE t SET status='completed', output=? WHERE id=?", (b"out", tid))
        conn.execute(
            "INSERT INTO t (run, stage, status, token, input, parent)"
            " VALUES ('r', 'b', 'pending', 0, ?, ?)",
            (b"out", tid),
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return tickets / elapsed


async def actors(tickets: int, folder: Path, workers: int = 1) -> float:
    store = SQLiteTicketStore(folder / "tickets.db")
    async with open_ledger(folder / "ledger.db") as ledger, ActorSystem("bench") as system:
        ref = await system.spawn(Tickets, ledger, store, 60.0)
        inputs = [Input(str(i), str(i)) for i in range(tickets)]
        run = (await ref.ask(CreateRun(PIPELINE, inputs))).run
        share = tickets // workers

        async def worker(name: str) -> None:
            for _ in range(share):
                grant = await ref.ask(Claim("a", name, run))
                assert isinstance(grant, ClaimGrant)
                await ref.ask(Submit(grant.ticket.id, grant.token, output="out"))

        start = time.perf_counter()
        await asyncio.gather(*(worker(f"w{n}") for n in range(workers)))
        elapsed = time.perf_counter() - start
    store.close()
    return share * workers / elapsed


async def over_http(tickets: int, folder: Path) -> float:
    import httpx

    from actors.roles.tickets.http import HttpServer, build_app

    token = "bench-token-0123456789abcdef"
    store = SQLiteTicketStore(folder / "tickets-http.db")
    async with open_ledger(folder / "ledger-http.db") as ledger, ActorSystem("b") as system:
        ref = await system.spawn(Tickets, ledger, store, 60.0)
        server = HttpServer(build_app(ref, token))
        serving = asyncio.create_task(server.run_until_stopped())
        await server.wait_started()
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
            body: dict[str, Any] = {
                "pipeline": {"stages": [{"name": "a", "next": "b"}, {"name": "b"}]},
                "inputs": [{"source": str(i), "data": i} for i in range(tickets)],
            }
            run = (await http.post("/api/runs", json=body)).json()["run"]
            claim = {"worker_type": "a", "worker_id": "w"}
            start = time.perf_counter()
            for _ in range(tickets):
                grant = (await http.post(f"/api/runs/{run}/claim", json=claim)).json()
                done = {"ticket": grant["ticket"]["id"], "token": grant["token"], "output": "out"}
                reply = await http.post(f"/api/runs/{run}/submit", json=done)
                assert reply.status_code == 200
            elapsed = time.perf_counter() - start
        await server.shutdown_and_wait()
        await serving
    store.close()
    return tickets / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="workers asking the actor at once (the raw baseline is one connection either way)",
    )
    args = parser.parse_args()
    quiet_logging()
    raws: list[float] = []
    ones: list[float] = []
    ours: list[float] = []
    https: list[float] = []
    for rep in range(args.repeats):  # interleaved, so drift hits all alike
        with tempfile.TemporaryDirectory() as tmp:
            if rep % 2:  # every other time ours goes first
                ours.append(asyncio.run(actors(args.tickets, Path(tmp), args.workers)))
            raws.append(raw(args.tickets, Path(tmp)))
            ones.append(raw(args.tickets, Path(tmp), one_commit=True))
            if not rep % 2:
                ours.append(asyncio.run(actors(args.tickets, Path(tmp), args.workers)))
            with contextlib.suppress(ImportError):
                https.append(asyncio.run(over_http(args.tickets, Path(tmp))))
    base = statistics.median(raws)
    one = statistics.median(ones)
    ours_median = statistics.median(ours)
    emit(
        "tickets_actor_round_trips",
        ours_median,
        "claim+submit/s",
        baseline=base,
        baseline_name="raw sqlite transactions, one per transition",
        paired_ratio=paired_ratio(ours, raws),
        raw_one_commit=round(one, 3),
        ratio_to_raw_one_commit=round(ours_median / one, 3),
        paired_ratio_to_raw_one_commit=paired_ratio(ours, ones),
        repetitions=args.repeats,
        workers=args.workers,
        target_ratio=0.5,
    )
    if https:
        emit(
            "tickets_http_round_trips",
            sorted(https)[len(https) // 2],
            "claim+submit/s",
            baseline=base,
            baseline_name="raw sqlite transactions, one per transition",
        )


if __name__ == "__main__":
    main()
