"""``tadpole-ctl`` against a live ``python -m actors.node`` subprocess.

The node's ``--app`` runs a job supervisor (one job done and unread), a
territory manager (one lease, some heat) and a stand-in stability monitor, so
every command has something to show. Each command runs as its own process,
as an operator runs it: table output, then ``--json``; then the errors (a
wrong secret, a wrong cluster name, nothing listening, an unknown job, a
node without a ledger), each one line on stderr with its own exit status.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from actors.ctl import ADMIN_NAME, SPARKS
from tests.helpers import OTHER_SECRET, SECRET, a_job_done_and_a_lease_held

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from actors.node import NodeContext

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BOOT = 30.0
RUN = 30.0
JOB_ID = "job-ctl-1"
HISTORY = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8)


@dataclasses.dataclass(frozen=True)
class FakeAlert:
    parameter: str
    level: str
    value: float
    threshold: float
    message: str
    raised_at: float


class FakeMonitor:
    """Stands in for ``actors.ops.StabilityMonitor``: fixed order parameters and one alert."""

    def snapshot(self) -> Mapping[str, float]:
        return {"queue_oscillation": HISTORY[-1], "lease_churn": 0.5}

    def history(self, name: str) -> Sequence[float]:
        return HISTORY if name == "queue_oscillation" else (0.5,) * 4

    def active_alerts(self) -> Sequence[FakeAlert]:
        return (FakeAlert("queue_oscillation", "critical", 12.8, 10.0, "queues swing", 1.7e9),)


async def app(ctx: NodeContext) -> None:
    """The node's --app: a job done and unread, a lease and heat, a stability monitor."""
    from actors.roles.territories import Contention

    _, manager = await a_job_done_and_a_lease_held(ctx.system, JOB_ID, RUN)
    await manager.ask(Contention("repo/a", 2.5))
    assert ctx.admin is not None
    ctx.admin.stability = FakeMonitor()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TADPOLE_")}
    return environ | {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"} | extra


class Node:
    """One node subprocess; its log lines are drained by a thread so it never blocks."""

    def __init__(
        self, tmp: Path, *, data: bool = True, cluster: str = "ctl-test", extra: Sequence[str] = ()
    ) -> None:
        self.port = _free_port()
        self.ledger = tmp / "data" / "ledger.db"
        self.secret_file = tmp / "secret"
        self.secret_file.write_text(SECRET + "\n")
        self.secret_file.chmod(0o600)
        args = [
            sys.executable, "-m", "actors.node",
            "--name", "n1",
            "--listen", f"127.0.0.1:{self.port}",
            "--cluster", cluster,
            "--secret-file", str(self.secret_file),
            "--log-format", "json",
        ]  # fmt: skip
        if data:
            args += ["--data-dir", str(tmp / "data"), "--app", f"{__name__}:app"]
        args += extra
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self.started = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self.started.wait(BOOT):
            self.stop()
            raise AssertionError("the node did not start:\n" + "".join(self.lines[-30:]))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if '"node_started"' in line:
                self.started.set()
        self.started.set()  # exited: the waiter checks the log

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(RUN)
        self._reader.join(RUN)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    running = Node(tmp_path_factory.mktemp("ctl"))
    yield running
    running.stop()
    assert running.proc.returncode == 0


def ctl(
    node: Node, *args: str, secret_file: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m actors.ctl`` against ``node``."""
    secret = ["--secret-file", str(secret_file or node.secret_file)] if env is None else []
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "actors.ctl",
            "--node",
            f"127.0.0.1:{node.port}",
            "--cluster",
            "ctl-test",
            *secret,
            *args,
        ],
        cwd=ROOT,
        env=_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=RUN,
        check=False,
    )


def ok(node: Node, *args: str) -> str:
    done = ctl(node, *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    assert done.stderr == "", done.stderr
    return done.stdout


def ok_json(node: Node, *args: str) -> Any:
    return json.loads(ok(node, *args, "--json"))


def lines_of(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


# -- every command, as a table and as JSON -------------------------------------------


def test_status_shows_the_node_its_members_uptime_and_version(node: Node) -> None:
    text = ok(node, "status")
    assert ["node", "n1"] in lines_of(text)
    assert ["cluster", "ctl-test"] in lines_of(text)
    assert ["n1", "up", f"tadpole://n1@127.0.0.1:{node.port}"] in lines_of(text)
    assert any(line.startswith("uptime ") for line in text.splitlines())
    status = ok_json(node, "status")
    assert status["node"] == "n1"
    assert status["members"] == [
        {"node": "n1", "address": f"tadpole://n1@127.0.0.1:{node.port}", "state": "up"}
    ]
    assert status["uptime"] > 0
    assert status["version"]
    assert status["ledger_head"] >= 1


def test_actors_lists_the_tree_with_mailbox_depths(node: Node) -> None:
    rows = {row[0]: row for row in lines_of(ok(node, "actors"))[1:]}
    assert rows[f"/user/{ADMIN_NAME}"][1:3] == ["Admin", "running"]
    assert {"/user/jobs", "/user/territories"} <= set(rows)
    assert any(path.startswith("/user/jobs/") for path in rows)  # the supervisor's children
    actors = ok_json(node, "actors")["actors"]
    admin = next(a for a in actors if a["path"] == f"/user/{ADMIN_NAME}")
    assert admin["mailbox"] == 0
    assert admin["capacity"] >= 1
    assert admin["restarts"] == 0


def test_jobs_shows_the_unread_finished_job(node: Node) -> None:
    text = ok(node, "jobs")
    assert lines_of(text)[1][:4] == [JOB_ID, "completed", "1", "yes"]
    assert text.rstrip().endswith("1 jobs, 1 unread (supervisor /user/jobs)")
    jobs = ok_json(node, "jobs", "--unread")
    assert jobs["supervisor"] == "/user/jobs"
    assert [(j["job_id"], j["state"], j["unread"]) for j in jobs["jobs"]] == [
        (JOB_ID, "completed", True)
    ]
    # Times are wall-clock seconds, not the node's monotonic clock.
    assert abs(jobs["jobs"][0]["finished_at"] - time.time()) < 3600


def test_job_shows_one_job_and_its_trace_from_the_ledger(node: Node) -> None:
    assert ["state", "completed"] in lines_of(ok(node, "job", JOB_ID))
    assert ok_json(node, "job", JOB_ID)["job_id"] == JOB_ID
    trace = ok(node, "job", JOB_ID, "--trace")
    details = [line for line in trace.splitlines() if "roles.job" in line]
    assert "new -> queued" in details[0]
    assert details[-1].split()[-1] == "completed"
    traced = ok_json(node, "job", JOB_ID, "--trace")
    states = [e["payload"]["to"] for e in traced["events"] if e["kind"] == "roles.job"]
    assert states[0] == "queued"
    assert states[-1] == "completed"
    assert all(
        e["payload"]["job_id"] == JOB_ID for e in traced["events"] if "job_id" in e["payload"]
    )
    assert [e["seq"] for e in traced["events"]] == sorted(e["seq"] for e in traced["events"])


def test_leases_and_heat_show_the_territory_managers_table(node: Node) -> None:
    row = lines_of(ok(node, "leases"))[1]
    assert row[:3] == ["repo/a", "agent-1", "1"]
    leases = ok_json(node, "leases")["leases"]
    assert [(x["territory"], x["holder"], x["token"]) for x in leases] == [("repo/a", "agent-1", 1)]
    assert 0 < leases[0]["expires_in"] <= 600
    assert lines_of(ok(node, "heat"))[1][0] == "repo/a"
    heat = ok_json(node, "heat")["territories"]
    assert heat[0]["territory"] == "repo/a"
    assert heat[0]["heat"] > 0


def test_alerts_lists_the_monitors_active_alerts(node: Node) -> None:
    row = lines_of(ok(node, "alerts"))[1]
    assert row[:4] == ["queue_oscillation", "critical", "12.8", "10"]
    alerts = ok_json(node, "alerts")["alerts"]
    assert alerts == [
        {
            "parameter": "queue_oscillation",
            "level": "critical",
            "value": 12.8,
            "threshold": 10.0,
            "message": "queues swing",
            "raised_at": 1.7e9,
        }
    ]


def test_top_draws_sparklines_of_the_order_parameters_and_refreshes(node: Node) -> None:
    frame = ok(node, "top", "--once", "--width", "8")
    assert "queue_oscillation" in frame
    line = next(x for x in frame.splitlines() if x.startswith("queue_oscillation"))
    assert line.split()[-1] == sparkline_of(HISTORY)
    assert "ALERT critical queue_oscillation: queues swing" in frame
    assert "/user/admin" in frame
    two = ok(node, "top", "--iterations", "2", "--interval", "0")
    assert two.count("order parameters") + two.count("PARAMETER") == 2
    frames = [
        json.loads(x)
        for x in ok(node, "top", "--iterations", "2", "--interval", "0", "--json").splitlines()
    ]
    assert len(frames) == 2
    params = {p["name"]: p for p in frames[0]["order_parameters"]["parameters"]}
    assert params["queue_oscillation"]["history"] == list(HISTORY)
    assert frames[1]["status"]["node"] == "n1"


def sparkline_of(values: Sequence[float]) -> str:
    low, high = min(values), max(values)
    return "".join(SPARKS[int((v - low) / (high - low) * 7 + 0.5)] for v in values)


def test_ledger_verify_tail_and_replay_over_the_wire(node: Node) -> None:
    assert ok(node, "verify").startswith("ok: ")
    verified = ok_json(node, "verify")
    assert verified["ok"] is True
    assert verified["fault"] is None
    text = ok(node, "tail", "-n", "3")
    assert lines_of(text)[0] == ["SEQ", "EPOCH", "TIME", "KIND", "PAYLOAD"]
    assert len(text.splitlines()) == 4
    records = [json.loads(x) for x in ok(node, "tail", "-n", "3", "--json").splitlines()]
    assert len(records) == 3
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)
    assert set(records[0]) == {"seq", "epoch", "timestamp", "kind", "payload", "prev_hash", "hash"}
    assert records[1]["prev_hash"] == records[0]["hash"]
    digest = ok(node, "replay").strip()
    assert len(digest) == 64
    replayed = ok_json(node, "replay", "--from-start")
    assert replayed["records"] >= verified["records"] - 1
    assert ok_json(node, "replay", "--epoch", "0")["epoch"] == 0


def test_the_secret_may_come_from_the_environment(node: Node) -> None:
    done = ctl(node, "status", env={"TADPOLE_SECRET": SECRET})
    assert done.returncode == 0, done.stderr


def test_version_needs_no_node() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "actors.ctl", "--version"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=RUN,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("tadpole-ctl ")


# -- errors: one line on stderr, a distinct message and status -------------------------


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("tadpole-ctl: error: ")
    return lines[0]


def test_a_wrong_secret_is_named_and_exits_3(node: Node, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text(OTHER_SECRET)
    done = ctl(node, "status", secret_file=wrong)
    assert done.returncode == 3
    assert "wrong cluster secret" in _one_error_line(done)


def test_a_wrong_cluster_name_is_named_and_exits_3(node: Node) -> None:
    done = ctl(node, "status", "--cluster", "other")
    assert done.returncode == 3
    assert "wrong cluster name" in _one_error_line(done)


def test_nothing_listening_is_named_and_exits_3(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    port = _free_port()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "actors.ctl",
            "status",
            "--node",
            f"127.0.0.1:{port}",
            "--secret-file",
            str(secret),
        ],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=RUN,
        check=False,
    )
    assert done.returncode == 3
    assert "nothing listens there" in _one_error_line(done)


def test_an_unknown_job_is_named_and_exits_1(node: Node) -> None:
    done = ctl(node, "job", "no-such-job", "--trace")
    assert done.returncode == 1
    assert "knows no job 'no-such-job'" in _one_error_line(done)


def test_no_secret_and_a_bad_address_are_usage_errors(node: Node) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "actors.ctl", "status", "--node", f"127.0.0.1:{node.port}"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=RUN,
        check=False,
    )
    assert done.returncode == 2
    assert "no cluster secret" in _one_error_line(done)
    done = ctl(node, "status", "--node", "nowhere")
    assert done.returncode == 2
    assert "--node expects HOST:PORT" in _one_error_line(done)


def test_a_node_without_ledger_or_roles_says_what_it_lacks_but_monitors(tmp_path: Path) -> None:
    bare = Node(tmp_path, data=False)
    try:
        assert ["n1", "up", f"tadpole://n1@127.0.0.1:{bare.port}"] in lines_of(ok(bare, "status"))
        for command, missing in [
            ("jobs", "runs no job supervisor"),
            ("leases", "runs no territory manager"),
            ("heat", "runs no territory manager"),
            ("verify", "keeps no ledger"),
            ("tail", "keeps no ledger"),
            ("replay", "keeps no ledger"),
        ]:
            done = ctl(bare, command)
            assert done.returncode == 1, (command, done.stderr)
            assert missing in _one_error_line(done)
        # Every node runs the stability monitor (actors.ops), ledger or not.
        ok(bare, "alerts")
        assert "message_rate_variance" in ok(bare, "top", "--once")
    finally:
        bare.stop()


def test_a_tls_node_is_reached_with_its_certificate(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command-line tool is needed to generate a test certificate")
    cert, key = tmp_path / "node.pem", tmp_path / "node.key"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    tls = Node(tmp_path, data=False, extra=["--tls-cert", str(cert), "--tls-key", str(key)])
    try:
        status = json.loads(ok(tls, "status", "--json", "--tls-ca", str(cert)))
        assert status["node"] == "n1"
        done = ctl(tls, "status", env={"TADPOLE_TLS_CA": str(cert), "TADPOLE_SECRET": SECRET})
        assert done.returncode == 0, done.stderr
        plain = ctl(tls, "status", "--timeout", "2")
        assert plain.returncode == 3
        assert "no handshake with the node" in _one_error_line(plain)
        missing = ctl(tls, "status", "--tls-ca", str(tmp_path / "nope.pem"))
        assert missing.returncode == 2
        assert "cannot load the TLS files" in _one_error_line(missing)
    finally:
        tls.stop()


def test_tail_and_replay_print_what_the_ledgers_own_cli_prints_for_the_file(node: Node) -> None:
    ours = ok(node, "tail", "-n", "4", "--json")
    digest = ok(node, "replay")  # asked after the tail: the node flushed before reading

    def ledger_cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "actors.ledger", *args],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=RUN,
            check=True,
        )
        return done.stdout

    assert ledger_cli("tail", str(node.ledger), "-n", "4") == ours
    assert ledger_cli("replay", str(node.ledger)) == digest
