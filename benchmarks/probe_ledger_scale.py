"""Where group commit's time goes as a ledger grows (diagnostics for bench_ledger's 1M figure).

Appends ``--records`` records with ``--appenders`` tasks (``group`` durability),
timing the store's own calls from outside: ``SQLiteStore.append`` (the
transaction, on the writer thread) and ``SQLiteStore.maintain`` (the WAL
copy-back, on the background thread), and sampling the WAL's size. Prints one
JSON line per tenth of the run (rate, time in append and maintain per record,
WAL size), so a cost that grows with the file shows where.

Run: ``python benchmarks/probe_ledger_scale.py [--records N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from typing import Any

import anyio

from _common import quiet_logging
from actors.ledger import Ledger, SQLiteStore

_PAYLOAD = {"actor": "/user/pool/worker-17", "msg_type": "JobStarted", "job_id": 123456}


class Timed:
    """Wraps one SQLiteStore method, adding up its calls and seconds (any thread)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.original = getattr(SQLiteStore, name)
        self.seconds = 0.0
        self.calls = 0
        self.longest = 0.0
        self.lock = threading.Lock()
        timed = self

        def wrapper(store: SQLiteStore, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return timed.original(store, *args, **kwargs)
            finally:
                with timed.lock:
                    took = time.perf_counter() - start
                    timed.seconds += took
                    timed.calls += 1
                    timed.longest = max(timed.longest, took)

        setattr(SQLiteStore, name, wrapper)

    def take(self) -> tuple[float, int, float]:
        with self.lock:
            out = self.seconds, self.calls, self.longest
            self.seconds, self.calls, self.longest = 0.0, 0, 0.0
        return out


def size_of(path: str) -> int:
    """A file's size, 0 if absent (a stat: too quick to need a thread)."""
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def raw(path: str, total: int, batch: int, autocheckpoint: int) -> None:
    """Raw sqlite3 at the ledger's batch size, one line per tenth, with a given autocheckpoint."""
    import sqlite3

    from actors.ledger._record import encode_payload, make_record

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"PRAGMA wal_autocheckpoint = {autocheckpoint}")
    conn.execute(
        "CREATE TABLE records (seq INTEGER PRIMARY KEY, epoch INTEGER NOT NULL, "
        "timestamp REAL NOT NULL, kind TEXT NOT NULL, payload BLOB NOT NULL, "
        "prev_hash BLOB NOT NULL, hash BLOB NOT NULL)"
    )
    payload, prev, rows = encode_payload(_PAYLOAD), bytes(32), []
    for seq in range(1, total + 1):
        r = make_record(seq, 0, 1.0, "delivery", payload, prev)
        prev = r.hash
        rows.append((r.seq, r.epoch, r.timestamp, r.kind, r.payload, r.prev_hash, r.hash))
    start = last = time.perf_counter()
    longest = 0.0
    for i in range(0, total, batch):
        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)", rows[i : i + batch])
        conn.execute("COMMIT")
        longest = max(longest, time.perf_counter() - t)
        if (i + batch) % (total // 10) == 0:
            now = time.perf_counter()
            print(
                json.dumps(
                    {
                        "raw_autocheckpoint_pages": autocheckpoint,
                        "committed": i + batch,
                        "rate": round(total // 10 / (now - last)),
                        "commit_longest_ms": round(longest * 1e3, 1),
                        "wal_mib": round(os.path.getsize(path + "-wal") / 2**20, 1),
                    }
                ),
                flush=True,
            )
            last, longest = now, 0.0
    print(
        json.dumps(
            {
                "raw_autocheckpoint_pages": autocheckpoint,
                "overall_rate": round(total / (time.perf_counter() - start)),
            }
        ),
        flush=True,
    )
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--appenders", type=int, default=1_000)
    parser.add_argument(
        "--raw-autocheckpoint",
        type=int,
        default=0,
        metavar="PAGES",
        help="run raw sqlite3 instead, with this wal_autocheckpoint (1000 is SQLite's default)",
    )
    args = parser.parse_args()
    quiet_logging()
    if args.raw_autocheckpoint:
        with tempfile.TemporaryDirectory(prefix="probe-ledger-") as workdir:
            raw(os.path.join(workdir, "raw.db"), args.records, 1000, args.raw_autocheckpoint)
        return
    append, maintain = Timed("append"), Timed("maintain")
    tenth = args.records // 10

    async def run(path: str) -> None:
        async with Ledger(path, durability="group") as ledger:
            per_task = args.records // args.appenders
            marks: list[int] = []
            wal_peak = [0]

            async def appender() -> None:
                for _ in range(per_task):
                    await ledger.append("delivery", _PAYLOAD)

            async def monitor() -> None:
                last_t, last_n = time.perf_counter(), 0
                while last_n < args.records:
                    await anyio.sleep(0.05)
                    wal_peak[0] = max(wal_peak[0], size_of(path + "-wal"))
                    n = ledger.statistics().records_committed
                    if n - last_n >= tenth or n >= args.records:
                        now = time.perf_counter()
                        a_s, a_n, a_max = append.take()
                        m_s, m_n, _ = maintain.take()
                        done = n - last_n
                        print(
                            json.dumps(
                                {
                                    "committed": n,
                                    "rate": round(done / (now - last_t)),
                                    "append_us_per_record": round(a_s / done * 1e6, 2),
                                    "append_calls": a_n,
                                    "append_longest_ms": round(a_max * 1e3, 1),
                                    "maintain_us_per_record": round(m_s / done * 1e6, 2),
                                    "maintain_calls": m_n,
                                    "wal_peak_mib": round(wal_peak[0] / 2**20, 1),
                                    "db_mib": round(size_of(path) / 2**20, 1),
                                }
                            ),
                            flush=True,
                        )
                        wal_peak[0] = 0
                        last_t, last_n = now, n
                        marks.append(n)

            async with anyio.create_task_group() as tg:
                tg.start_soon(monitor)
                for _ in range(args.appenders):
                    tg.start_soon(appender)
            await ledger.flush()

    with tempfile.TemporaryDirectory(prefix="probe-ledger-") as workdir:
        anyio.run(run, os.path.join(workdir, "probe.db"))


if __name__ == "__main__":
    main()
