"""Crash safety: SIGKILL a process appending under ``always``; nothing acknowledged is lost.

Each round starts a fresh process that appends from several tasks and prints
``ack SEQ HASH`` after each append returns. The test reads acknowledgements
through the pipe, kills the process after a random number of them, and then
checks that every acknowledged record is in the file with the same hash and
that the whole chain verifies.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import anyio
import pytest
from structlog.testing import capture_logs

from actors.ledger import LedgerReader, open_ledger

if TYPE_CHECKING:
    from pathlib import Path

WAIT = 30.0
ROUNDS = 5

WORKER = r"""
import logging, sys
import anyio, structlog
structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
from actors.ledger import open_ledger

path, epoch = sys.argv[1], int(sys.argv[2])

async def main():
    async with open_ledger(path, durability="always") as ledger:
        ledger.start_epoch(epoch)
        print("ready", flush=True)

        async def appender(n):
            i = 0
            while True:
                record = await ledger.append("crash.test", {"epoch": epoch, "task": n, "i": i})
                sys.stdout.write(f"ack {record.seq} {record.hash.hex()}\n")
                sys.stdout.flush()
                i += 1

        async with anyio.create_task_group() as tg:
            for n in range(8):
                tg.start_soon(appender, n)

anyio.run(main)
"""


def _pump(stream: object, lines: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)
    lines.put(None)


def _record_ack(line: str, acked: dict[int, str]) -> None:
    """Count a complete ``ack SEQ HASH`` line; a line cut short by the kill is no ack."""
    if not line.endswith("\n"):
        return
    fields = line.split()
    if len(fields) == 3 and fields[0] == "ack":
        acked[int(fields[1])] = fields[2]


def _kill_after(path: Path, epoch: int, acks_wanted: int) -> dict[int, str]:
    """Run one worker, SIGKILL it after ``acks_wanted`` acks; return every ack it printed."""
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(path), str(epoch)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    pump = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True)
    pump.start()
    acked: dict[int, str] = {}
    try:
        while len(acked) < acks_wanted:
            line = lines.get(timeout=WAIT)
            if line is None:
                pytest.fail(
                    f"worker exited early: {process.stderr.read() if process.stderr else ''}"
                )
            _record_ack(line, acked)
        process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=WAIT)
    pump.join(timeout=WAIT)
    # Acks printed before the kill landed count too: those appends had returned.
    while (line := lines.get_nowait()) is not None:
        _record_ack(line, acked)
    assert process.returncode == -signal.SIGKILL
    return acked


@pytest.mark.slow
def test_acknowledged_records_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    acknowledged: dict[int, str] = {}
    for epoch in range(1, ROUNDS + 1):
        acknowledged.update(_kill_after(path, epoch, rng.randint(1, 120)))

        with LedgerReader(path) as reader:
            report = reader.verify()
            stored = {record.seq: record.hash.hex() for record in reader.records()}
        assert report.ok, f"seed {seed}, round {epoch}: {report.fault}"
        missing = {seq for seq in acknowledged if stored.get(seq) != acknowledged[seq]}
        assert not missing, f"seed {seed}, round {epoch}: acknowledged but lost: {sorted(missing)}"

    async def reopen() -> int:
        async with open_ledger(path) as ledger:
            return ledger.head_seq

    with capture_logs() as logs:
        head = anyio.run(reopen)
    assert head >= max(acknowledged)
    assert any(entry["event"] == "ledger_unclean_shutdown_detected" for entry in logs)
