"""The stability monitor, /metrics, ``tadpole-ctl`` and the dashboard on a REAL node.

A ``python -m actors.node --http-listen`` subprocess runs :func:`app`: a job
supervisor (one job done and unread) and a territory manager (one lease),
both spawned by the app *after* the node started its monitor, and a worker
whose traffic the test commands by signal: ``SIGUSR1`` jams it with a burst
of messages (its mailbox fills), ``SIGUSR2`` lets it drain. The app tunes
the node's monitor (short windows, a low ``mailbox_amplitude`` threshold)
with :meth:`~actors.ops.StabilityMonitor.reconfigure`, so the jam raises a
real alert within a second and the drain clears it.

Checked: the monitor found the supervisor and the manager (their order
parameters, ``tadpole_jobs`` and ``tadpole_leases`` on ``/metrics``,
``tadpole-ctl jobs``, ``leases`` and ``top``), the dashboard lists the job,
and, in headless chromium (skipped, saying why, where there is none), the
page loads, a sparkline follows the traffic and the monitor's alert appears
and clears. Every wait is on a log line or Playwright's own, with a timeout.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.helpers import SECRET, a_job_done_and_a_lease_held

if TYPE_CHECKING:
    from collections.abc import Iterator

    from actors.node import NodeContext

pytestmark = pytest.mark.slow
pytest.importorskip("uvicorn", reason="the HTTP listener needs the http extra")
pytest.importorskip("prometheus_client", reason="/metrics needs the metrics extra")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("TADPOLE_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOT = os.environ.get("TADPOLE_NODE_DASHBOARD_SCREENSHOT")
"""Where to keep a screenshot of the real node's dashboard with its alert."""
BOOT = 30.0
RUN = 30.0
WAIT_MS = 15_000
JOB_ID = "job-node-1"
BURST = 200
"""Messages the jam leaves waiting: the mailbox amplitude goes to 100, over the threshold."""
RAISE_AT = 50.0


async def app(ctx: NodeContext) -> None:
    """The node's --app: a supervisor, a manager, and a worker jammed and freed by signal."""
    import asyncio

    import anyio

    from actors import Actor
    from actors.ops import MonitorConfig, Threshold
    from protocol import Message

    assert ctx.operations is not None
    ctx.operations.monitor.reconfigure(
        MonitorConfig(
            interval=0.1,
            rate_window=1.0,
            queue_window=1.0,
            churn_window=1.0,
            outcome_window=1.0,
            history=40,
            thresholds=(Threshold("mailbox_amplitude", raise_at=RAISE_AT, clear_at=5.0),),
        )
    )

    class Work(Message, tag="test.ops_node.work"):
        pass

    gates = [anyio.Event()]

    class Worker(Actor[Work]):
        async def receive(self, message: Work) -> None:
            await gates[-1].wait()

    await a_job_done_and_a_lease_held(ctx.system, JOB_ID, RUN)
    worker = await ctx.system.spawn(Worker, name="worker")

    def jam() -> None:
        if gates[-1].is_set():
            gates.append(anyio.Event())
        for _ in range(BURST + 1):  # the first is taken and waits at the gate
            worker.tell(Work())

    # One sample now (the monitor finds them by itself): the test's first scrape,
    # right after the node started, needs no wait for the next tick.
    ctx.operations.monitor.sample()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, jam)
    loop.add_signal_handler(signal.SIGUSR2, lambda: gates[-1].set())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env() -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TADPOLE_")}
    return environ | {"PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"}


class Node:
    """The node subprocess; a thread reads its JSON log and sets an event per awaited line."""

    def __init__(self, tmp: Path) -> None:
        self.port = _free_port()
        self.secret_file = tmp / "secret"
        self.secret_file.write_text(SECRET + "\n")
        self.secret_file.chmod(0o600)
        self.url = ""
        self.events: list[dict[str, Any]] = []
        self._waiters: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        started = self.waiter("node_started")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "actors.node",
                "--name",
                "n1",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--http-listen",
                "127.0.0.1:0",
                "--secret-file",
                str(self.secret_file),
                "--data-dir",
                str(tmp / "data"),
                "--app",
                f"{__name__}:app",
                "--log-format",
                "json",
            ],
            cwd=ROOT,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not started.wait(BOOT) or self.proc.poll() is not None:
            self.stop()
            raise AssertionError(f"the node did not start: {self.events[-20:]}")

    def waiter(self, event: str) -> threading.Event:
        """An event set when the log has a line with this ``event`` (from now on)."""
        with self._lock:
            waiter = self._waiters[event] = threading.Event()
            return waiter

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "?", "line": line}
            self.events.append(event)
            if event.get("event") == "http_listening":
                self.url = event["url"]
            with self._lock:
                waiter = self._waiters.get(event.get("event", ""))
            if waiter is not None:
                waiter.set()
        with self._lock:  # exited: every waiter wakes (and finds the node gone)
            for waiter in self._waiters.values():
                waiter.set()

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=RUN) as response:  # loopback
            body: bytes = response.read()
            return body.decode()

    def ctl(self, *args: str) -> str:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "actors.ctl",
                "--node",
                f"127.0.0.1:{self.port}",
                "--secret-file",
                str(self.secret_file),
                *args,
            ],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=RUN,
            check=False,
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(RUN)
        self._reader.join(RUN)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    running = Node(tmp_path_factory.mktemp("ops-node"))
    yield running
    running.stop()
    assert running.proc.returncode == 0


def metrics(node: Node) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(node.get("/metrics"))
        for sample in family.samples
    }


def test_the_monitor_samples_the_supervisor_and_manager_the_app_spawned(node: Node) -> None:
    values = metrics(node)
    assert values[("tadpole_leases", ())] == 1
    assert values[("tadpole_jobs", (("state", "completed"),))] == 1
    assert values[("tadpole_jobs", (("state", "unread"),))] == 1
    assert values[("tadpole_lease_events_total", (("event", "granted"),))] == 1
    parameters = {
        labels[0][1] for name, labels in values if name == "tadpole_order_parameter" and labels
    }
    assert {"lease_churn", "success_rate", "concurrency_window", "backlog_amplitude"} <= parameters
    assert values[("tadpole_order_parameter", (("parameter", "success_rate"),))] == 1.0


def test_tadpole_ctl_shows_the_jobs_leases_and_their_order_parameters(node: Node) -> None:
    jobs = json.loads(node.ctl("jobs", "--json"))
    assert jobs["supervisor"] == "/user/jobs"
    assert [(j["job_id"], j["state"]) for j in jobs["jobs"]] == [(JOB_ID, "completed")]
    leases = json.loads(node.ctl("leases", "--json"))["leases"]
    assert [(x["territory"], x["holder"]) for x in leases] == [("repo/a", "agent-1")]
    frame = node.ctl("top", "--once")
    for name in ("lease_churn", "success_rate", "concurrency_window", "backlog_amplitude"):
        assert any(line.startswith(name) for line in frame.splitlines()), (name, frame)


def test_the_dashboard_lists_the_supervisors_jobs(node: Node) -> None:
    page = node.get("/")
    assert JOB_ID in page
    assert "attempt 1, unread" in page


def test_a_jam_raises_a_real_alert_that_ctl_and_metrics_show_and_the_drain_clears(
    node: Node,
) -> None:
    raised = node.waiter("stability_alert_raised")
    node.proc.send_signal(signal.SIGUSR1)
    assert raised.wait(RUN), node.events[-20:]
    alerts = json.loads(node.ctl("alerts", "--json"))["alerts"]
    assert [(a["parameter"], a["level"]) for a in alerts] == [("mailbox_amplitude", "critical")]
    assert alerts[0]["value"] >= RAISE_AT
    values = metrics(node)
    key = ("tadpole_alert_active", (("level", "critical"), ("parameter", "mailbox_amplitude")))
    assert values[key] == 1
    cleared = node.waiter("stability_alert_cleared")
    node.proc.send_signal(signal.SIGUSR2)
    assert cleared.wait(RUN), node.events[-20:]
    assert json.loads(node.ctl("alerts", "--json"))["alerts"] == []


@pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"no browser at {CHROMIUM}: `make browser` installs Debian's chromium (as root)",
)
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # Playwright's driver runs on asyncio
async def test_the_dashboard_of_a_real_node_follows_its_traffic_and_alerts(node: Node) -> None:
    from actors.web import sparkline_path

    api = pytest.importorskip(
        "playwright.async_api", reason="the browser test needs playwright (the dev extra)"
    )
    expect = api.expect
    async with api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 760})
            await page.goto(node.url + "/")
            await expect(page.locator("#live")).to_have_text("live", timeout=WAIT_MS)
            await expect(page.locator("#members tr")).to_have_count(1, timeout=WAIT_MS)
            await expect(page.locator("#jobs")).to_contain_text(JOB_ID, timeout=WAIT_MS)
            await expect(page.locator("#alerts")).to_contain_text("no alerts", timeout=WAIT_MS)
            amplitude = page.locator('[data-parameter="mailbox_amplitude"]')
            await expect(amplitude.locator(".value")).to_have_text("0", timeout=WAIT_MS)
            # Calm: a flat line across the middle, once the history forgot any earlier jam.
            mid = re.escape(sparkline_path([0.0, 0.0]).split()[0].split(",")[1])
            flat = re.compile(rf"M0\.0,{mid}( L[0-9.]+,{mid})*")
            spark = amplitude.locator("path")
            await expect(spark).to_have_attribute("d", flat, timeout=WAIT_MS)

            # Traffic: the worker jams; the sparkline rises and the monitor's alert appears.
            node.proc.send_signal(signal.SIGUSR1)
            await expect(amplitude.locator(".value")).not_to_have_text("0", timeout=WAIT_MS)
            await expect(spark).not_to_have_attribute("d", flat, timeout=WAIT_MS)
            alert = page.locator("#alerts tr.critical")
            await expect(alert).to_contain_text("mailbox_amplitude", timeout=WAIT_MS)
            await expect(alert).to_contain_text(f"its level {RAISE_AT:g}", timeout=WAIT_MS)
            assert len(heights(await spark.get_attribute("d"))) > 1
            if SCREENSHOT:
                await page.screenshot(path=SCREENSHOT, full_page=True)

            # It drains: the alert clears, on the page too.
            node.proc.send_signal(signal.SIGUSR2)
            await expect(page.locator("#alerts")).to_contain_text("no alerts", timeout=WAIT_MS)
        finally:
            await browser.close()


def heights(path: str | None) -> set[str]:
    """The distinct y coordinates of a sparkline's SVG path (``Mx,y Lx,y ...``)."""
    assert path, "no sparkline"
    return {point.split(",")[1] for point in path.split()}
