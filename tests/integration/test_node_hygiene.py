"""`python -m actors.node` tried as a new user would: every common mistake, a real process.

Each start-up mistake ends in exit status 2, one line on stderr, and no
traceback anywhere. Two nodes cannot share a data directory. A node that
cannot join (wrong secret, cluster name, a duplicate name) never reports
``node_started`` and exits 2; the seed warns about it once. SIGHUP stops a
node gracefully. Every CLI answers ``--version``. Per-actor lifecycle lines
are off unless asked for.

Tests wait on the processes' output with a timeout (a reader thread and a
condition), never by sleeping.
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

import pytest

from tests.helpers import OTHER_SECRET, SECRET

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from actors.node import NodeContext

ROOT = Path(__file__).resolve().parents[2]
BOOT = 30.0
"""Seconds a node may take to start or stop on a loaded machine; reaching it fails."""
ACTORS = 300
"""Actors the lifecycle app spawns and stops."""


def environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TADPOLE_")}
    return env | {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}", **extra}


def run(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=environ(TADPOLE_SECRET=SECRET),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def assert_one_line_exit_2(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 2, (result.stdout[-2000:], result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("python -m actors.node: error: "), lines[0]
    assert expected in lines[0], lines[0]


class Node:
    """A node subprocess whose JSON log lines a reader thread collects."""

    def __init__(self, *args: str, secret: str = SECRET) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "actors.node", "--log-format", "json", *args],
            cwd=ROOT,
            env=environ(TADPOLE_SECRET=secret),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[dict[str, Any]] = []
        self.lines = 0
        self.ended = False
        self._changed = threading.Condition()
        self.err: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._err_reader.start()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        self.err.extend(self.proc.stderr)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines += 1
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    self.events.append({"event": "<not json>", "line": line})
                self._changed.notify_all()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    def named(self, name: str) -> list[dict[str, Any]]:
        with self._changed:
            return [e for e in self.events if e.get("event") == name]

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], what: str, timeout: float = BOOT
    ) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((e for e in self.events if predicate(e)), None)

        with self._changed:
            self._changed.wait_for(lambda: found() is not None or self.ended, timeout)
            event = found()
        if event is None:
            raise AssertionError(f"no {what} within {timeout}s: {self.events[-10:]}")
        return event

    def started(self) -> dict[str, Any]:
        return self.wait_for(lambda e: e.get("event") == "node_started", "node_started")

    def finish(self, signum: int | None = signal.SIGTERM) -> tuple[int, str]:
        """Send ``signum`` (if any); the exit status and stderr once it ended."""
        if signum is not None and self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            status = self.proc.wait(BOOT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        self._reader.join(BOOT)
        self._err_reader.join(BOOT)
        return status, "".join(self.err)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(BOOT)


@pytest.fixture
def nodes() -> Iterator[list[Node]]:
    started: list[Node] = []
    yield started
    for node in started:
        node.kill()


# -- start-up mistakes: exit 2, one line, no traceback --------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_port_in_use_is_one_line(busy_port: int) -> None:
    result = run(["-m", "actors.node", "--name", "n", "--listen", f"127.0.0.1:{busy_port}"])
    assert_one_line_exit_2(result, f"cannot listen on 127.0.0.1:{busy_port}")


def test_an_unresolvable_listen_host_is_one_line() -> None:
    result = run(["-m", "actors.node", "--name", "n", "--listen", "no-such-host.invalid:7350"])
    assert_one_line_exit_2(result, "cannot listen on no-such-host.invalid:7350")


def test_a_listen_address_of_another_machine_is_one_line() -> None:
    # 203.0.113.7 is in TEST-NET-3 (RFC 5737): not an address of this machine.
    result = run(["-m", "actors.node", "--name", "n", "--listen", "203.0.113.7:7350"])
    assert_one_line_exit_2(result, "cannot listen on 203.0.113.7:7350")


def test_a_data_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("not a directory")
    result = run(["-m", "actors.node", "--name", "n", "--data-dir", str(file)])
    assert_one_line_exit_2(result, "exists and is not a directory")


def test_a_data_dir_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        target = "/proc/self/tadpole-data"  # not writable even by root
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = str(locked)
    result = run(
        ["-m", "actors.node", "--name", "n", "--listen", "127.0.0.1:0", "--data-dir", target]
    )
    assert_one_line_exit_2(result, "writable")


def test_a_corrupt_ledger_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "ledger.db").write_bytes(b"this is not a database, not even the start of one" * 20)
    result = run(
        ["-m", "actors.node", "--name", "n", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path)]
    )
    assert_one_line_exit_2(result, "is not a Tadpole ledger")


def test_a_wrong_type_in_the_toml_config_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('[node]\nname = "n"\nheartbeat_interval = [1, 2]\n')
    result = run(["-m", "actors.node", "--config", str(config)])
    assert_one_line_exit_2(result, "invalid heartbeat_interval [1, 2] from heartbeat_interval in")


def test_a_bad_node_name_is_one_line() -> None:
    result = run(["-m", "actors.node", "--name", "alpha@beta"])
    assert_one_line_exit_2(result, "invalid name 'alpha@beta' from --name")


def test_a_missing_tls_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "node.pem"
    result = run(
        ["-m", "actors.node", "--name", "n", "--tls-cert", str(missing), "--tls-key", str(missing)]
    )
    assert_one_line_exit_2(result, f"invalid tls_cert '{missing}' from --tls-cert: no such file")


# -- one data directory, one node --------------------------------------------------


def test_a_second_node_on_the_same_data_dir_refuses_to_start(
    tmp_path: Path, nodes: list[Node]
) -> None:
    data = str(tmp_path / "data")
    first = Node("--name", "one", "--listen", "127.0.0.1:0", "--data-dir", data)
    nodes.append(first)
    first.started()
    second = run(
        ["-m", "actors.node", "--name", "two", "--listen", "127.0.0.1:0", "--data-dir", data]
    )
    assert_one_line_exit_2(second, f"data_dir {data} is in use by another process")
    assert f"(pid {first.proc.pid})" in second.stderr
    assert first.proc.poll() is None  # the first one is not disturbed
    assert first.finish() == (0, "")
    # The lock went with the first node: the directory can be used again.
    again = Node("--name", "two", "--listen", "127.0.0.1:0", "--data-dir", data)
    nodes.append(again)
    again.started()
    assert again.finish() == (0, "")


# -- joining: started only as a member, refused for good in bounded time ------------


@pytest.mark.parametrize(
    ("joiner", "secret", "expected", "rejected_reason"),
    [
        (["--name", "b"], OTHER_SECRET, "(authentication, 3 attempts)", "Auth"),
        (["--name", "b", "--cluster", "other"], SECRET, "(cluster_mismatch, 3", "ClusterMismatch"),
        (["--name", "a"], SECRET, "(duplicate_name, 3 attempts)", "duplicate_name"),
    ],
    ids=["wrong-secret", "wrong-cluster", "duplicate-name"],
)
def test_a_node_that_cannot_join_never_starts_and_exits_2(
    nodes: list[Node], joiner: list[str], secret: str, expected: str, rejected_reason: str
) -> None:
    seed = Node("--name", "a", "--listen", "127.0.0.1:0")
    nodes.append(seed)
    address = seed.started()["address"]
    host_port = address.rsplit("@", 1)[1]
    other = Node(*joiner, "--listen", "127.0.0.1:0", "--seeds", host_port, secret=secret)
    nodes.append(other)
    status, err = other.finish(signum=None)
    assert status == 2, err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert expected in err
    assert other.named("node_started") == []
    assert len(other.named("join_refused")) == 3
    # The seed warned once for the three attempts (at most once a minute per peer).
    rejected = [
        e
        for e in seed.named("connection_rejected")
        if rejected_reason in str(e.get("reason")) and e.get("level") == "warning"
    ]
    assert len(rejected) == 1, seed.named("connection_rejected")
    assert seed.proc.poll() is None
    assert seed.finish() == (0, "")


def test_a_dead_seed_is_retried_at_warning_and_the_node_is_not_started(
    nodes: list[Node],
) -> None:
    node = Node(
        "--name", "lonely", "--listen", "127.0.0.1:0", "--seeds", f"127.0.0.1:{free_port()}"
    )
    nodes.append(node)
    node.wait_for(
        lambda e: e.get("event") == "join_retrying" and e.get("attempt") == 2, "a second retry"
    )
    retries = node.named("join_retrying")
    assert {e["level"] for e in retries} == {"warning"}
    assert retries[1]["retry_in"] > retries[0]["retry_in"]  # backoff (jitter is 20%)
    assert node.named("node_started") == []
    status, err = node.finish()
    assert (status, err) == (0, "")  # a stop while joining is still graceful
    assert node.named("node_stopping")[0]["signal"] == ["SIGTERM"]


# -- signals, versions, log volume --------------------------------------------------


def test_sighup_stops_the_node_gracefully(tmp_path: Path, nodes: list[Node]) -> None:
    node = Node("--name", "hup", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path))
    nodes.append(node)
    node.started()
    assert node.finish(signal.SIGHUP) == (0, "")
    assert node.named("node_stopping")[0]["signal"] == ["SIGHUP"]
    assert node.named("node_exited")


@pytest.mark.parametrize("module", ["actors.node", "actors.ledger", "actors.roles"])
def test_every_cli_prints_its_version(module: str) -> None:
    from actors.node._config import version

    result = run(["-m", module, "--version"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"python -m {module} {version()}\n"


async def lifecycle_app(ctx: NodeContext) -> None:
    """Spawns and stops ACTORS actors, then logs ``lifecycle_app_done``."""
    import structlog

    from actors import Actor

    class Idle(Actor[Any]):
        async def receive(self, message: Any) -> None:
            return None

    refs = [await ctx.system.spawn(Idle) for _ in range(ACTORS)]
    for ref in refs:
        await ctx.system.stop(ref)
    structlog.get_logger("test").warning("lifecycle_app_done", actors=len(refs))


@pytest.mark.parametrize(("flags", "per_kind"), [([], 0), (["--lifecycle-log"], ACTORS)])
def test_actor_lifecycle_lines_are_off_unless_asked_for(
    nodes: list[Node], flags: list[str], per_kind: int
) -> None:
    app = "tests.integration.test_node_hygiene:lifecycle_app"
    node = Node("--name", "busy", "--listen", "127.0.0.1:0", "--app", app, *flags)
    nodes.append(node)
    node.started()
    node.wait_for(lambda e: e.get("event") == "lifecycle_app_done", "the app")
    assert node.finish() == (0, "")
    # The app's actors: the node's own (its admin actor) log their lines too.
    user = [
        e
        for e in node.events
        if str(e.get("actor", "")).startswith("/user/") and e.get("actor") != "/user/admin"
    ]
    assert sum(e["event"] == "actor_started" for e in user) == per_kind
    assert sum(e["event"] == "actor_stopped" for e in user) == per_kind
    assert node.lines < 40 + 2 * per_kind  # the node's own lines stay few


def test_an_application_that_configured_no_logging_gets_no_lifecycle_lines() -> None:
    script = (
        "import anyio\n"
        "from actors import Actor, ActorSystem\n"
        "class Idle(Actor):\n"
        "    async def receive(self, message): pass\n"
        "async def main():\n"
        "    async with ActorSystem('quiet') as system:\n"
        f"        refs = [await system.spawn(Idle) for _ in range({ACTORS})]\n"
        "        for ref in refs: await system.stop(ref)\n"
        "anyio.run(main)\n"
    )
    result = run(["-c", script])
    assert result.returncode == 0, result.stderr
    assert "actor_started" not in result.stdout
    assert "actor_stopped" not in result.stdout
    assert len(result.stdout.splitlines()) <= 2  # system_started, system_stopped
