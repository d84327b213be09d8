"""docs/operations.md's "Walk-through: a three-node cluster", run as written.

The section's ```sh blocks are parsed into commands: ``python -m actors.node
--name ... &`` lines start a node in the background (JSON logs, read until
``node_started``), ``export`` lines set the environment, ``kill -TERM %N``
stops the N-th node started, and every other command runs through bash, with
``tadpole-ctl`` run as ``python -m actors.ctl``. The page's fixed ports are
replaced by free ones and everything runs in a temporary directory. Each
command must exit 0 and print what the walk-through says it prints.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="the dashboard needs the http extra (starlette, uvicorn)")

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "operations.md"
SECTION = "## Walk-through: a three-node cluster"
PORTS = ("127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103", "127.0.0.1:8101")
START_TIMEOUT = 20.0
LEAVE_TIMEOUT = 15.0
COMMAND_TIMEOUT = 20.0


def section_commands() -> list[str]:
    """The section's sh blocks, one command per item (continuation lines joined)."""
    text = PAGE.read_text(encoding="utf-8")
    assert SECTION in text, f"docs/operations.md has no section {SECTION!r}"
    body = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```sh\n(.*?)\n```", body, re.S):
        joined = block.replace("\\\n", " ")
        commands += [" ".join(line.split()) for line in joined.splitlines() if line.strip()]
    return commands


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class Node:
    """A background node; a thread drains its JSON log lines into a queue."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.events: queue.Queue[dict[str, object] | None] = queue.Queue()
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                self.events.put(event)
        self.events.put(None)  # the node's output ended

    def wait_for(self, name: str, timeout: float) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no {name} within {timeout}s:\n{''.join(self.lines)}"
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            assert event is not None, f"the node exited before {name}:\n{''.join(self.lines)}"
            if event.get("event") == name:
                return event


def run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = re.sub(
        r"(^|\| *)tadpole-ctl ", rf"\1{shlex.quote(sys.executable)} -m actors.ctl ", command
    )
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def up_members(status: str) -> set[str]:
    return {
        line.split()[0] for line in status.splitlines() if re.match(r"\S+\s+up\s+tadpole://", line)
    }


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through needs curl")
@pytest.mark.slow
def test_three_node_walkthrough_runs_as_written(tmp_path: Path) -> None:
    commands = section_commands()
    text = " ".join(commands)
    for fixed in PORTS:
        assert fixed in text, f"the walk-through no longer uses {fixed}"
    ports = dict(zip(PORTS, (f"127.0.0.1:{p}" for p in free_ports(len(PORTS))), strict=True))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TADPOLE_")}
    environ |= {"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", "TADPOLE_LOG_FORMAT": "json"}
    nodes: list[Node] = []
    names: list[str] = []
    stopped: set[str] = set()
    seen: set[str] = set()
    ready = False
    try:
        for written in commands:
            command = written
            for fixed, port in ports.items():
                command = command.replace(fixed, port)
            argv = shlex.split(command)
            if argv[:3] == ["python", "-m", "actors.node"] and argv[-1] == "&":
                nodes.append(Node([sys.executable, *argv[1:-1]], tmp_path, environ))
                names.append(argv[argv.index("--name") + 1])
                continue
            if nodes and not ready:  # every node is a member before the first query
                for node in nodes:
                    node.wait_for("node_started", START_TIMEOUT)
                ready = True
            if argv[0] == "export":
                environ |= dict(a.split("=", 1) for a in argv[1:])
                continue
            if argv[:2] == ["kill", "-TERM"]:
                index = int(argv[2].removeprefix("%")) - 1
                nodes[index].process.send_signal(signal.SIGTERM)
                assert nodes[index].process.wait(timeout=COMMAND_TIMEOUT) == 0
                stopped.add(names[index])
                continue
            if argv[0] == "python":
                command = f"{shlex.quote(sys.executable)} {command.removeprefix('python ')}"
            result = run(command, tmp_path, environ)
            if argv[:2] == ["tadpole-ctl", "status"] and stopped:
                deadline = time.monotonic() + LEAVE_TIMEOUT
                while up_members(result.stdout) & stopped and time.monotonic() < deadline:
                    result = run(command, tmp_path, environ)  # the leave takes a moment
            assert result.returncode == 0, (written, result.stdout, result.stderr)
            check_output(written, result.stdout, names, stopped, tmp_path)
            seen.add(" ".join(argv[:2]) if argv[0] == "tadpole-ctl" else argv[0])
        assert {"tadpole-ctl status", "tadpole-ctl actors", "tadpole-ctl alerts"} <= seen
        assert {"tadpole-ctl top", "tadpole-ctl tail", "tadpole-ctl verify", "curl"} <= seen
        assert len(nodes) == 3
        assert stopped, "the walk-through stops no node"
    finally:
        for node in nodes:
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        for node in nodes:
            try:
                node.process.wait(timeout=COMMAND_TIMEOUT)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()
            if node.process.stdout is not None:
                node.process.stdout.close()


def check_output(written: str, out: str, names: list[str], stopped: set[str], cwd: Path) -> None:
    """What each command of the walk-through must print."""
    argv = shlex.split(written)
    if argv[:3] == ["python", "-m", "actors.node"] and argv[3] == "gen-secret":
        assert (cwd / argv[4]).stat().st_mode & 0o777 == 0o600
    elif argv[:2] == ["tadpole-ctl", "status"]:
        assert up_members(out) == set(names) - stopped, out
    elif argv[:2] == ["tadpole-ctl", "actors"]:
        assert "/user/admin" in out
    elif argv[:2] == ["tadpole-ctl", "alerts"]:
        assert out.strip()
    elif argv[:2] == ["tadpole-ctl", "top"]:
        assert f"members {len(names)}/{len(names)}" in out, out
    elif argv[:2] == ["tadpole-ctl", "tail"]:
        assert "node.started" in out
        assert all(f'"node":"{name}"' in out for name in names), out
    elif argv[:2] == ["tadpole-ctl", "verify"]:
        assert out.startswith("ok: ")
    elif argv[0] == "curl" and "/metrics" in written:
        assert re.search(r"^tadpole_actors \d", out, re.M), out
    elif argv[0] == "curl":
        assert out.strip() == "200"
