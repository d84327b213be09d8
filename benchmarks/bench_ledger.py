"""Ledger throughput and replay speed, each against a raw baseline from the same run.

Figures (one JSON line each; medians of ``--repeat`` runs, with ``ratio`` as
the ratio of the medians and ``paired_ratio`` as the median of each run's
ratio to its own baseline):

- ``group_commit_appends_per_s``: many tasks awaiting ``ledger.append`` on a
  SQLite ledger (``group`` durability) vs raw ``sqlite3`` inserting the same
  rows in batches of the ledger's average batch size. Target ratio >= 0.5.
- ``group_commit_nowait_appends_per_s``: the same with tasks that call
  ``append_nowait`` and yield, as actors recording deliveries do, until all
  is committed.
- ``memory_appends_per_s``: the same on the in-memory store vs a bare loop
  that encodes, hashes and lists the same records. Target >= 100k/s.
- ``always_appends_per_s``: ``always`` durability (fsync per batch) vs raw
  ``sqlite3`` with ``synchronous=FULL`` and the same batches.
- ``replay_seconds``: replaying ``--replay-records`` records (default 1M)
  through the summary reducers, verifying every hash, vs raw ``sqlite3``
  reading the same rows. Target < 10 s for 1M.

The ledger's run and its raw baseline take turns going first, and the page
cache is synced before each (``os.sync``), so that neither pays for the
other's writeback: on this kind of machine the raw baseline alone otherwise
swings by 70% between repetitions.

Each group-commit line also carries what the run spent outside SQLite's own
work: ``gc_share`` (the share of the run the cyclic garbage collector took,
ours and raw) and the files' sizes and B-tree depth afterwards, so a ratio
that moves with the record count can be traced (``--large 1000000`` runs group
commit at 1M records as well; ``make bench`` passes it).

Run: ``python benchmarks/bench_ledger.py [--uvloop] [--replay-records N] [--large N]
[--only group,nowait]``
(``--only`` takes any of ``group``, ``nowait``, ``memory``, ``always``, ``replay``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING, Any

import anyio

from _common import quiet_logging
from actors import ActorSystem
from actors.ledger import Ledger, LedgerReader, MemoryStore, Record, SQLiteStore, summary_reducers
from actors.ledger._record import encode_payload, make_record

if TYPE_CHECKING:
    from collections.abc import Callable

_PAYLOAD = {"actor": "/user/pool/worker-17", "msg_type": "JobStarted", "job_id": 123456}
_SCHEMA = (
    "CREATE TABLE records (seq INTEGER PRIMARY KEY, epoch INTEGER NOT NULL, "
    "timestamp REAL NOT NULL, kind TEXT NOT NULL, payload BLOB NOT NULL, "
    "prev_hash BLOB NOT NULL, hash BLOB NOT NULL)"
)
_INSERT = "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)"
_FIGURES = ("group", "nowait", "memory", "always", "replay")


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


class _Emitter:
    def __init__(self, loop_name: str) -> None:
        self.common = {
            "python": platform.python_version(),
            "commit": _commit(),
            "loop": loop_name,
            "housekeeping": _HOUSEKEEPING["on"],
        }

    def emit(
        self,
        figure: str,
        values: list[float],
        unit: str,
        baselines: list[float],
        **extra: object,
    ) -> None:
        """One JSON line: medians of the repetitions, and their ratio two ways.

        ``ratio`` is the median of ours over the median of the baseline;
        ``paired_ratio`` the median of each repetition's own ratio, which
        drifts less when the machine's speed changes between repetitions.
        """
        value, baseline = statistics.median(values), statistics.median(baselines)
        pairs = [v / b for v, b in zip(values, baselines, strict=True) if b]
        line = {
            "figure": figure,
            "value": round(value, 3),
            "unit": unit,
            "baseline": round(baseline, 3),
            "ratio": round(value / baseline, 3) if baseline else None,
            "paired_ratio": round(statistics.median(pairs), 3) if pairs else None,
            "repetitions": len(values),
            **extra,
            **self.common,
        }
        print(json.dumps(line), flush=True)


def _run(main: Callable[[], Any], uvloop: bool) -> Any:
    return anyio.run(main, backend="asyncio", backend_options={"use_uvloop": uvloop})


async def _appenders(ledger: Ledger, total: int, tasks: int, nowait: bool) -> None:
    per_task = total // tasks

    async def awaiting() -> None:
        append = ledger.append
        for _ in range(per_task):
            await append("delivery", _PAYLOAD)

    async def fire_and_forget() -> None:
        # An actor recording deliveries: append, then yield to the loop.
        append_nowait, checkpoint = ledger.append_nowait, anyio.lowlevel.checkpoint
        for _ in range(per_task):
            append_nowait("delivery", _PAYLOAD)
            await checkpoint()

    async with anyio.create_task_group() as tg:
        for _ in range(tasks):
            tg.start_soon(fire_and_forget if nowait else awaiting)
    await ledger.flush()


class _GcTimer:
    """Seconds the cyclic garbage collector ran, and its collections per generation."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.collections[info["generation"]] += 1

    def __enter__(self) -> _GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def _file_facts(path: str) -> dict[str, float]:
    """The database and WAL sizes (MiB) and the records B-tree's depth, after a run."""
    wal = path + "-wal"
    facts = {
        "db_mib": round(os.path.getsize(path) / 2**20, 1),
        "wal_mib": round(os.path.getsize(wal) / 2**20, 1) if os.path.exists(wal) else 0.0,
    }
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT max(depth) FROM (SELECT length(path) - length(replace(path, '/', '')) AS depth"
            " FROM dbstat WHERE name = 'records')"
        ).fetchone()
        facts["btree_depth"] = rows[0] if rows else -1
    except sqlite3.DatabaseError:  # no dbstat in this sqlite build
        facts["btree_depth"] = -1
    finally:
        conn.close()
    return facts


def _ledger_appends(
    target: str | MemoryStore,
    total: int,
    tasks: int,
    durability: str,
    uvloop: bool,
    *,
    nowait: bool = False,
) -> tuple[float, list[Record], float]:
    """Appends/s (until all are committed), the records written, the average batch size."""
    result: dict[str, Any] = {}

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            ledger = await stack.enter_async_context(
                Ledger(target, durability=durability)  # type: ignore[arg-type]
            )
            if _HOUSEKEEPING["on"] == "pool":  # fsyncs and WAL copies on the system's pool
                await stack.enter_async_context(ActorSystem("bench", ledger=ledger))
            start = time.perf_counter()
            with _GcTimer() as gc_timer:
                await _appenders(ledger, total, tasks, nowait)
            elapsed = time.perf_counter() - start
            result["gc_share"] = gc_timer.seconds / elapsed
            result["gc_full"] = gc_timer.collections[2]
            stats = ledger.statistics()
            result["rate"] = stats.records_committed / elapsed
            result["batch"] = stats.records_committed / max(stats.batches, 1)
            result["records"] = await ledger.records()
            closing = time.perf_counter()
        # Closing copies what is left of the WAL back (untimed above): report it.
        result["close_s"] = time.perf_counter() - closing

    _run(main, uvloop)
    _LAST_RUN.update(
        gc_share=result["gc_share"], gc_full=result["gc_full"], close_s=result["close_s"]
    )
    return result["rate"], result["records"], result["batch"]


_HOUSEKEEPING = {"on": "thread"}
"""Where the ledger's fsyncs and WAL copies run: its own thread, or a system's pool."""

_LAST_RUN: dict[str, float] = {}
"""Diagnostics of the last ledger run (GC share of its time, full collections)."""


def _raw_sqlite(path: str, records: list[Record], batch: int, synchronous: str) -> float:
    rows = [(r.seq, r.epoch, r.timestamp, r.kind, r.payload, r.prev_hash, r.hash) for r in records]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute(_SCHEMA)
    start = time.perf_counter()
    with _GcTimer() as gc_timer:
        for i in range(0, len(rows), batch):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_INSERT, rows[i : i + batch])
            conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    _LAST_RAW.update(gc_share=gc_timer.seconds / elapsed, gc_full=gc_timer.collections[2])
    return len(rows) / elapsed


_LAST_RAW: dict[str, float] = {}


def _raw_chain(total: int) -> float:
    """Encode, hash and keep ``total`` records in a bare loop: the in-memory floor."""
    kept: list[Record] = []
    prev = bytes(32)
    start = time.perf_counter()
    for seq in range(1, total + 1):
        record = make_record(seq, 0, 1.0, "delivery", encode_payload(_PAYLOAD), prev)
        prev = record.hash
        kept.append(record)
    return total / (time.perf_counter() - start)


def _bench_sqlite(
    emit: _Emitter,
    workdir: str,
    args: argparse.Namespace,
    durability: str,
    total: int,
    *,
    nowait: bool = False,
) -> None:
    if durability == "always":
        figure, tasks = "always_appends_per_s", args.always_appenders
    else:
        figure = "group_commit_nowait_appends_per_s" if nowait else "group_commit_appends_per_s"
        tasks = args.appenders
    synchronous = "NORMAL" if durability == "group" else "FULL"
    values, baselines, batches = [], [], []
    ours_gc: list[float] = []
    closes: list[float] = []
    raw_gc: list[float] = []
    facts: dict[str, float] = {}
    raw_facts: dict[str, float] = {}
    last: tuple[list[Record], float] | None = None
    for i in range(args.repeat):
        path = os.path.join(workdir, f"{figure}-{i}.db")
        raw_path = os.path.join(workdir, f"{figure}-raw-{i}.db")

        def raw(records: list[Record], batch: float, raw_path: str = raw_path) -> float:
            os.sync()  # neither side pays for the other's writeback
            rate = _raw_sqlite(raw_path, records, max(round(batch), 1), synchronous)
            raw_gc.append(_LAST_RAW["gc_share"])
            raw_facts.update(_file_facts(raw_path))
            os.remove(raw_path)
            return rate

        if i % 2 and last is not None:  # every other time the baseline goes first
            baselines.append(raw(*last))
        os.sync()
        rate, records, batch = _ledger_appends(
            path, total, tasks, durability, args.uvloop, nowait=nowait
        )
        ours_gc.append(_LAST_RUN["gc_share"])
        closes.append(_LAST_RUN["close_s"])
        facts.update(_file_facts(path))
        os.remove(path)
        if not (i % 2 and last is not None):
            baselines.append(raw(records, batch))
        last = records, batch
        values.append(rate)
        batches.append(batch)
    emit.emit(
        figure,
        values,
        "appends/s",
        baselines,
        baseline_name=f"raw sqlite3 executemany, synchronous={synchronous}, same batches",
        records=total,
        appenders=tasks,
        mode="append_nowait + yield" if nowait else "await append",
        avg_batch=round(statistics.median(batches), 1),
        target="ratio >= 0.5" if durability == "group" else None,
        gc_share=round(statistics.median(ours_gc), 3),
        raw_gc_share=round(statistics.median(raw_gc), 3),
        close_s=round(statistics.median(closes), 3),
        files={"ours": facts, "raw": raw_facts},
    )


def _bench_memory(emit: _Emitter, args: argparse.Namespace) -> None:
    values, baselines = [], []
    for _ in range(args.repeat):
        rate, _, _ = _ledger_appends(
            MemoryStore(), args.records, args.appenders, "group", args.uvloop
        )
        values.append(rate)
        baselines.append(_raw_chain(args.records))
    emit.emit(
        "memory_appends_per_s",
        values,
        "appends/s",
        baselines,
        baseline_name="bare loop: encode + sha256 + list.append",
        records=args.records,
        appenders=args.appenders,
        target="value >= 100000",
    )


def _build_file(path: str, count: int) -> None:
    store = SQLiteStore(path)
    store.open()
    try:
        prev, chunk, seq = bytes(32), 50_000, 0
        payload = encode_payload(_PAYLOAD)
        kinds = ("delivery", "lease.granted", "job.started", "job.finished")
        while seq < count:
            batch = []
            for _ in range(min(chunk, count - seq)):
                seq += 1
                record = make_record(seq, seq // 100_000, float(seq), kinds[seq % 4], payload, prev)
                prev = record.hash
                batch.append(record)
            store.append(batch, batch[0].seq - 1)
    finally:
        store.close()


def _raw_read(path: str) -> float:
    conn = sqlite3.connect(path)
    start = time.perf_counter()
    for _ in conn.execute("SELECT * FROM records ORDER BY seq"):
        pass
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def _bench_replay(emit: _Emitter, workdir: str, args: argparse.Namespace) -> None:
    path = os.path.join(workdir, "replay.db")
    _build_file(path, args.replay_records)
    values, baselines = [], []
    digests = set()
    for _ in range(args.repeat):
        with LedgerReader(path) as reader:
            start = time.perf_counter()
            result = reader.replay(summary_reducers(), from_checkpoint=False)
            values.append(time.perf_counter() - start)
        digests.add(result.digest)
        baselines.append(_raw_read(path))
    assert len(digests) == 1, "replays disagree"
    emit.emit(
        "replay_seconds",
        values,
        "s",
        baselines,
        baseline_name="raw sqlite3 SELECT of the same rows",
        records=args.replay_records,
        records_per_s=round(args.replay_records / statistics.median(values)),
        target="value < 10 for 1M records",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="appends per run")
    parser.add_argument("--appenders", type=int, default=1_000, help="concurrent tasks")
    parser.add_argument("--always-records", type=int, default=20_000)
    parser.add_argument("--always-appenders", type=int, default=200)
    parser.add_argument("--replay-records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--large",
        type=int,
        default=0,
        metavar="N",
        help="also run group commit at N records (make bench: 1000000), two repetitions",
    )
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument(
        "--housekeeping",
        choices=("thread", "pool"),
        default="thread",
        help="run the ledger's fsyncs and WAL copies on its own thread (a ledger alone) "
        "or on an actor system's maintenance pool (a ledger given to a system)",
    )
    parser.add_argument(
        "--only",
        default=",".join(_FIGURES),
        help=f"comma-separated figures to run, of: {', '.join(_FIGURES)}",
    )
    args = parser.parse_args()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    if not only or not only <= set(_FIGURES):
        parser.error(f"--only takes a comma-separated list of: {', '.join(_FIGURES)}")
    quiet_logging()
    _HOUSEKEEPING["on"] = args.housekeeping
    emit = _Emitter("uvloop" if args.uvloop else "asyncio")
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as workdir:
        if "group" in only:
            _bench_sqlite(emit, workdir, args, "group", args.records)
            if args.large:
                large = argparse.Namespace(**{**vars(args), "repeat": 2})
                _bench_sqlite(emit, workdir, large, "group", args.large)
        if "nowait" in only:
            _bench_sqlite(emit, workdir, args, "group", args.records, nowait=True)
        if "memory" in only:
            _bench_memory(emit, args)
        if "always" in only:
            _bench_sqlite(emit, workdir, args, "always", args.always_records)
        if "replay" in only:
            _bench_replay(emit, workdir, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
