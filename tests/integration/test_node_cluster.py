"""Three real nodes (`python -m actors.node` subprocesses) form a cluster on 127.0.0.1.

They see each other's member_up, answer asks from outside and from each
other, detect a SIGKILLed member as member_down within the configured
detection time, and leave cleanly (exit 0) on SIGTERM. Each keeps its ledger
in its data directory: afterwards every ledger verifies, and tells the node's
story (started, members seen, stopped; the killed one never stopped).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from actors import ActorSystem
from actors.cluster import MemberUp
from actors.ledger import LedgerReader
from actors.node import LEDGER_FILE
from actors.remote import RemoteNode
from tests.helpers import SECRET, Echo, Ping

if TYPE_CHECKING:
    from collections.abc import Callable

    from actors.node import NodeContext

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT = 0.2
DOWN_AFTER = 1.0
BOOT = 20.0


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, bool]]:
    """One backend is enough here: the nodes are subprocesses (they run on uvloop)."""
    return ("asyncio", {"use_uvloop": False})


async def app(ctx: NodeContext) -> None:
    """The --app of the test nodes: an echo actor, and a cross-node ask per member_up."""
    import structlog

    from actors import Actor

    log = structlog.get_logger("test_app")
    await ctx.system.spawn(Echo, name="echo")

    class Prober(Actor[Any]):
        async def receive(self, message: Any) -> Any:
            if isinstance(message, MemberUp) and message.node != ctx.config.name:
                echo = ctx.remote.ref(message.address + "/user/echo")
                try:
                    reply = await echo.ask(Ping(7), timeout=5.0)
                except Exception as exc:  # reported, the test fails on it
                    log.warning("peer_ask_failed", peer=message.node, error=repr(exc))
                else:
                    log.info("peer_ask_ok", peer=message.node, reply=reply.n)
            return None

    prober = await ctx.system.spawn(Prober, name="prober")
    ctx.cluster.subscribe(prober)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class NodeProcess:
    """One node subprocess with its JSON log lines collected by a reader thread."""

    def __init__(
        self,
        name: str,
        port: int,
        seeds: str,
        secret_file: Path,
        data: Path,
        app: str = "tests.integration.test_node_cluster:app",
    ) -> None:
        self.name = name
        self.port = port
        self.data = data
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"}
        env["TADPOLE_HEARTBEAT_INTERVAL"] = str(HEARTBEAT)  # an env setting, under the flags
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "actors.node",
                "--name", name,
                "--listen", f"127.0.0.1:{port}",
                "--seeds", seeds,
                "--cluster", "mp-test",
                "--secret-file", str(secret_file),
                "--data-dir", str(data),
                "--app", app,
                "--log-format", "json",
                "--down-after", str(DOWN_AFTER),
                "--drain-timeout", "2",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self.events: list[dict[str, Any]] = []
        self.bad_lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                self.bad_lines.append(line)
                continue
            with self._lock:
                self.events.append(event)

    def find(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        with self._lock:
            return next((e for e in self.events if predicate(e)), None)

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> dict[str, Any]:
        with anyio.move_on_after(timeout):
            while (found := self.find(predicate)) is None:
                if self.proc.poll() is not None:
                    break
                await anyio.sleep(0.02)  # polling a subprocess's log; bounded by the timeout
            else:
                return found
        raise AssertionError(
            f"{self.name}: no {what} within {timeout}s (exit={self.proc.poll()}); "
            f"last events: {[e.get('event') for e in self.events[-15:]]}; "
            f"stderr: {self.stderr_tail()}"
        )

    def stderr_tail(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return "<running>"
        return self.proc.stderr.read()[-2000:]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def event(name: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e.get("event") == name and all(e.get(k) == v for k, v in fields.items())


async def test_three_nodes_form_a_cluster_detect_a_kill_and_leave_cleanly(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    secret_file.chmod(0o600)
    ports = [free_port() for _ in range(3)]
    seeds = f"127.0.0.1:{ports[0]}"
    names = ["n1", "n2", "n3"]
    nodes = [
        NodeProcess(name, port, seeds, secret_file, tmp_path / name)
        for name, port in zip(names, ports, strict=True)
    ]
    try:
        # All three see all three member_up.
        for node in nodes:
            for other in names:
                await node.wait_for(event("member_up", member=other), BOOT, f"member_up {other}")
        # Asks across them: each node's app asked every other node's echo actor.
        for node in nodes:
            for other in names:
                if other != node.name:
                    await node.wait_for(event("peer_ask_ok", peer=other), BOOT, f"ask to {other}")
        # And from outside the cluster, through a client node with the same secret.
        async with (
            ActorSystem("client") as system,
            RemoteNode(system, name="client", cluster="mp-test", secret=SECRET) as cn,
        ):
            for name, port in zip(names, ports, strict=True):
                echo = cn.ref(f"tadpole://{name}@127.0.0.1:{port}/user/echo")
                assert await echo.ask(Ping(port), timeout=5.0) == Ping(port)

        # SIGKILL n3: the others see it down within the detection time.
        started = nodes[0].find(event("node_started"))
        assert started is not None
        detection = float(started["detection_time"])
        nodes[2].proc.send_signal(signal.SIGKILL)
        nodes[2].proc.wait(10)
        for node in nodes[:2]:
            await node.wait_for(event("member_down", member="n3"), detection + 3.0, "member_down")

        # SIGTERM the rest: a clean leave, exit code 0.
        nodes[1].proc.send_signal(signal.SIGTERM)
        await nodes[1].wait_for(event("node_exited"), 15.0, "node_exited")
        await nodes[0].wait_for(event("member_left", member="n2"), 5.0, "member_left n2")
        nodes[0].proc.send_signal(signal.SIGTERM)
        await nodes[0].wait_for(event("node_exited"), 15.0, "node_exited")
        for node in nodes[:2]:
            assert node.proc.wait(10) == 0, node.stderr_tail()
            assert node.find(event("node_drained", complete=True)) is not None
            assert node.find(event("member_left", member=node.name)) is not None
            assert not node.bad_lines, node.bad_lines[:3]
    finally:
        for node in nodes:
            node.kill()

    # Each node's ledger verifies and tells what it went through.
    stories = {node.name: ledger_story(node.data / LEDGER_FILE) for node in nodes}
    for name in ("n1", "n2"):
        clean, story = stories[name]
        assert clean
        assert story[0] == ("node.started", name)
        assert {("cluster.member_up", other) for other in names} <= set(story)
        assert ("cluster.member_down", "n3") in story
        stopping = story.index(("node.stopping", name))
        assert ("cluster.member_left", name) in story[stopping:]  # its own leave
        assert story[-1] == ("node.stopped", name)
    assert ("cluster.member_left", "n2") in stories["n1"][1]
    killed_clean, killed = stories["n3"]  # SIGKILLed: what it committed is intact
    assert not killed_clean
    assert killed[0] == ("node.started", "n3")
    assert all(kind != "node.stopped" for kind, _ in killed)


def ledger_story(path: Path) -> tuple[bool, list[tuple[str, str]]]:
    """Whether the ledger was closed cleanly, and (kind, node) of each record; it must verify."""
    with LedgerReader(path) as reader:
        report = reader.verify()
        assert report.fault is None, report.fault
        return reader.state().clean, [(r.kind, r.value()["node"]) for r in reader.records()]
