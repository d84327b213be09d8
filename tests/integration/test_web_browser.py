"""The dashboard in a real headless browser: Debian's chromium driven by Playwright.

The page loads, a sparkline's path changes when the source's values change,
a new order parameter gets its own sparkline, an alert appears when one fires,
and a browser off loopback signs in with the token and keeps its live stream
(EventSource sends the session cookie). Every wait is Playwright's own
(auto-waiting assertions with a failing timeout), never a sleep.

``make browser`` installs Debian's chromium when it is missing and we are
root; the tests are skipped, saying so, only where no browser is there.
"""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

pytest.importorskip("uvicorn", reason="the HTTP listener needs the http extra")
playwright_api = pytest.importorskip(
    "playwright.async_api", reason="the browser tests need playwright (the dev extra)"
)

from actors.web import HttpServer, JobRow, MemberRow, build_app, sparkline_path  # noqa: E402
from tests.unit.actors.web.fakes import ALERT, FakeSource  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.types import ASGIApp

CHROMIUM = Path(os.environ.get("TADPOLE_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOT = os.environ.get("TADPOLE_DASHBOARD_SCREENSHOT")
"""Where to keep the screenshot (docs/_static/dashboard.png is made this way)."""
WAIT_MS = 10_000
TOKEN = "browser-token-0123456789"

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason=f"no browser at {CHROMIUM}: `make browser` installs Debian's chromium (as root)",
    ),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Playwright's driver runs on asyncio; one loop is enough here


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    server = HttpServer(app, "127.0.0.1", 0)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.run_until_stopped)
        with anyio.fail_after(10):
            await server.wait_started()
        try:
            yield server.url
        finally:
            with anyio.fail_after(10):
                await server.shutdown_and_wait()


@contextlib.asynccontextmanager
async def browser_page() -> AsyncIterator[Any]:  # Any: a Playwright Page
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 760})
            yield page
        finally:
            await browser.close()


def swarm() -> FakeSource:
    """A source that looks like a small swarm under load."""
    source = FakeSource(
        member_rows=[
            MemberRow("node-a", "tadpole://node-a@10.0.0.1:7001"),
            MemberRow("node-b", "tadpole://node-b@10.0.0.2:7001"),
            MemberRow("node-c", "tadpole://node-c@10.0.0.3:7001", "unreachable"),
        ],
        job_rows=[
            JobRow("job-17", "running", "42/100 tasks"),
            JobRow("job-18", "queued"),
            JobRow("job-12", "completed", "unread"),
        ],
    )
    for i in range(60):
        source.record("message_rate_variance", 0.2 + 0.1 * math.sin(i / 5) + i / 300)
        source.record("queue_oscillation", 1.0 + abs(math.sin(i / 3)) * (1 + i / 20))
        source.record("supervisor_success_rate", 0.99 - (i % 7) / 200)
    return source


async def test_the_dashboard_follows_the_source_live() -> None:
    expect = playwright_api.expect
    source = swarm()
    async with serving(build_app(source=source, interval=0.05)) as url, browser_page() as page:
        await page.goto(url + "/")
        await expect(page).to_have_title("Tadpole", timeout=WAIT_MS)
        await expect(page.locator("#live")).to_have_text("live", timeout=WAIT_MS)
        await expect(page.locator("#members tr")).to_have_count(3, timeout=WAIT_MS)
        await expect(page.locator("#alerts")).to_contain_text("no alerts", timeout=WAIT_MS)

        # Traffic changes: the sparkline's path follows.
        spark = page.locator('[data-parameter="queue_oscillation"] path')
        before = await spark.get_attribute("d")
        assert before
        source.record("queue_oscillation", 9.5)
        await expect(spark).not_to_have_attribute("d", before, timeout=WAIT_MS)
        value = page.locator('[data-parameter="queue_oscillation"] .value')
        await expect(value).to_have_text("9.5", timeout=WAIT_MS)

        # A parameter the page did not have gets its own sparkline.
        for churn in (0.5, 1.5, 1.0, 2.5):
            source.record("lease_churn", churn)
        await expect(page.locator('[data-parameter="lease_churn"] path')).to_have_attribute(
            "d", sparkline_path(source.history("lease_churn")), timeout=WAIT_MS
        )

        # An alert fires: it appears, marked by its level.
        source.alert_rows.append(ALERT)
        alert = page.locator("#alerts tr.critical")
        await expect(alert).to_contain_text("queue oscillation 9.5 is over 5", timeout=WAIT_MS)
        await expect(alert).to_contain_text("queue_oscillation", timeout=WAIT_MS)
        if SCREENSHOT:
            await page.screenshot(path=SCREENSHOT, full_page=True)

        # It clears: the table says so again.
        source.alert_rows.clear()
        await expect(page.locator("#alerts")).to_contain_text("no alerts", timeout=WAIT_MS)


async def test_a_browser_off_loopback_signs_in_and_stays_live() -> None:
    expect = playwright_api.expect
    source = swarm()
    app = build_app(source=source, token=TOKEN, open_to_loopback=False, interval=0.05)
    async with serving(app) as url, browser_page() as page:
        await page.goto(url + "/")
        await expect(page).to_have_url(url + "/login", timeout=WAIT_MS)
        await page.fill("input[name=token]", "wrong")
        await page.click("button[type=submit]")
        await expect(page.locator("body")).to_contain_text("Wrong token", timeout=WAIT_MS)
        await page.fill("input[name=token]", TOKEN)
        await page.click("button[type=submit]")
        await expect(page).to_have_url(url + "/", timeout=WAIT_MS)
        await expect(page.locator("#live")).to_have_text("live", timeout=WAIT_MS)
        cookies = await page.context.cookies()
        assert [c["httpOnly"] for c in cookies] == [True]
        assert TOKEN not in cookies[0]["value"]
        source.alert_rows.append(ALERT)
        await expect(page.locator("#alerts tr.critical")).to_have_count(1, timeout=WAIT_MS)
