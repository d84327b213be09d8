"""A node serving tickets over HTTP, SIGKILLed mid-run, then restarted on its data dir.

No acknowledged submit is lost, no ticket stays claimed, the ledger verifies,
and the ticket table on disk equals the ledger's replay byte for byte.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import SECRET

httpx = pytest.importorskip("httpx", reason="the HTTP API tests need httpx (the dev extra)")
pytest.importorskip("uvicorn", reason="the HTTP API needs the http extra (starlette, uvicorn)")

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "crash-test-token-0123456789"


class Node:
    def __init__(self, data_dir: Path) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("TADPOLE_")}
        environ |= {
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}",
            "TADPOLE_SECRET": SECRET,
            "TADPOLE_HTTP_TOKEN": TOKEN,
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "actors.node",
                "--name",
                "tickets-node",
                "--listen",
                "127.0.0.1:0",
                "--http-listen",
                "127.0.0.1:0",
                "--data-dir",
                str(data_dir),
                "--log-format",
                "json",
            ],
            cwd=ROOT,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        assert self.proc.stdout is not None
        seen = []
        for line in self.proc.stdout:  # bounded by the node's exit and pytest's timeout
            seen.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "http_listening":
                return str(event["url"])
        raise AssertionError("the node exited before serving HTTP:\n" + "".join(seen))

    def client(self) -> Any:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        assert self.proc.stdout is not None
        self.proc.stdout.close()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=60) == 0
        assert self.proc.stdout is not None
        self.proc.stdout.close()


PIPELINE = {
    "stages": [{"name": "a", "next": "b"}, {"name": "b"}],
    "lease_ttl": 600,
    "max_attempts": 5,
}


@pytest.mark.slow
def test_sigkill_mid_run_loses_no_submit_and_leaves_no_claim(tmp_path: Path) -> None:
    node = Node(tmp_path)
    acknowledged: dict[str, Any] = {}
    held: dict[str, int] = {}
    try:
        with node.client() as http:
            inputs = [{"source": f"s{i}", "data": i} for i in range(40)]
            run = http.post("/api/runs", json={"pipeline": PIPELINE, "inputs": inputs}).json()[
                "run"
            ]
            for i in range(30):
                c = http.post(f"/api/runs/{run}/claim", json={"worker_type": "a", "worker_id": "w"})
                grant = c.json()
                if i % 3 == 2:  # keep a third claimed when the node dies
                    held[grant["ticket"]["id"]] = grant["token"]
                    continue
                out = {"n": grant["ticket"]["input"] * 10}
                r = http.post(
                    f"/api/runs/{run}/submit",
                    json={"ticket": grant["ticket"]["id"], "token": grant["token"], "output": out},
                )
                assert r.status_code == 200, r.text
                acknowledged[grant["ticket"]["id"]] = out
    finally:
        node.kill()  # right after the last acknowledged submit: no graceful anything

    node = Node(tmp_path)
    try:
        with node.client() as http:
            for tid, out in acknowledged.items():
                t = http.get(f"/api/runs/{run}/tickets/{tid}").json()
                assert (t["status"], t["output"]) == ("completed", out)
            for tid in held:
                t = http.get(f"/api/runs/{run}/tickets/{tid}").json()
                # A claim is answered before its record commits: if the kill came
                # first, the claim never happened (attempts 0), else it lapsed (1).
                assert t["status"] == "pending"
                assert t["attempts"] in (0, 1)
            status = http.get(f"/api/runs/{run}/status").json()
            assert status["stuck"] == 0
            assert sum(c["claimed"] for c in status["counts"].values()) == 0
            assert status["counts"]["a"]["completed"] == len(acknowledged)
            assert status["counts"]["b"]["pending"] == len(acknowledged)
            # The old node's workers are fenced off, even after their tickets are
            # claimed again (the restart moved every pending token past theirs).
            for tid, token in held.items():
                late = http.post(f"/api/runs/{run}/submit", json={"ticket": tid, "token": token})
                assert late.status_code == 409, late.text
            regrants = [
                http.post(f"/api/runs/{run}/claim", json={"worker_type": "a", "worker_id": "n"})
                for _ in range(len(held) + 10)
            ]
            for reply in regrants:
                grant = reply.json()
                if grant["ticket"] is not None and grant["ticket"]["id"] in held:
                    assert grant["token"] > held[grant["ticket"]["id"]]
                    old = {"ticket": grant["ticket"]["id"], "token": held[grant["ticket"]["id"]]}
                    assert http.post(f"/api/runs/{run}/submit", json=old).status_code == 409
    finally:
        node.stop()
    asyncio.run(_check_ledger_agrees(tmp_path))


async def _check_ledger_agrees(data_dir: Path) -> None:
    from actors.ledger import open_ledger
    from actors.roles.tickets import SQLiteTicketStore, replay_table

    async with open_ledger(data_dir / "ledger.db") as ledger:
        report = await ledger.verify()
        assert report.ok, report
        replayed = await replay_table(ledger)
    store = SQLiteTicketStore(data_dir / "tickets.db")
    try:
        table, _ = store.load()
    finally:
        store.close()
    assert table.encode() == replayed.encode()
