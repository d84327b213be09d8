"""Metrics read back through prometheus-client's own parser, against known traffic."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from actors import Actor, ActorSystem, AskTimeout
from actors.ledger import open_ledger
from actors.lowlevel import totals
from actors.ops import NodeMetrics, StabilityMonitor, Threshold, start_operations
from actors.ops._monitor import MonitorConfig
from protocol import Message

pytestmark = pytest.mark.anyio


class Ping(Message, tag="test.ops.metrics.ping"):
    reply: bool = True


class Echo(Actor[Ping]):
    async def receive(self, message: Ping) -> Any:
        if not message.reply:
            await self.context.system.clock.sleep(0.05)
        return "pong"


def scrape(metrics: NodeMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_the_scraped_counters_match_the_traffic_sent() -> None:
    async with open_ledger() as ledger, ActorSystem("m", ledger=ledger) as system:
        echo = await system.spawn(Echo, name="echo")
        other = await system.spawn(Echo, name="other")
        for _ in range(20):
            echo.tell(Ping())
        for _ in range(5):
            assert await other.ask(Ping()) == "pong"
        with pytest.raises(AskTimeout):
            await other.ask(Ping(reply=False), timeout=0.01)
        await other.ask(Ping())  # the slow one is handled too
        await echo.ask(Ping())  # everything told before is handled
        ledger.append_nowait("test.record", {"n": 1})
        await system.stop(echo)
        echo.tell(Ping())  # to a stopped actor: a dead letter
        metrics = NodeMetrics(system, ledger=ledger)
        seen = scrape(metrics)
        assert seen[("tadpole_actors", ())] == 1.0
        # echo handled 21 (20 tells, 1 ask) before it stopped: still counted
        assert seen[("tadpole_messages_processed_total", ())] == 21 + 7
        assert seen[("tadpole_asks_total", ())] == 8.0
        assert seen[("tadpole_ask_timeouts_total", ())] == 1.0
        assert seen[("tadpole_dead_letters_total", ())] >= 1.0
        assert seen[("tadpole_mailbox_depth", ())] >= 0.0
        assert seen[("tadpole_ledger_appends_total", ())] >= 1.0
        assert ("tadpole_scheduler_queue", ()) in seen
        assert totals(system).ask_timeouts == 1


async def test_each_node_has_its_own_registry_with_the_order_parameters_and_alerts() -> None:
    config = MonitorConfig(
        interval=1.0, thresholds=(Threshold("mailbox_amplitude", raise_at=2.0, clear_at=1.0),)
    )
    async with ActorSystem("a") as first, ActorSystem("b") as second:
        ops = start_operations(first, config=config)
        other = start_operations(second)
        assert ops.metrics.registry is not other.metrics.registry
        echo = await first.spawn(Echo, name="echo")
        seen = scrape(ops.metrics)
        assert seen[("tadpole_order_parameter", (("parameter", "mailbox_amplitude"),))] == 0.0
        monitor = ops.monitor
        monitor._started = -1e9  # the windows count as full: alerts may fire at once
        # a queue of 10 then 0: amplitude 5, past the level 2
        for _ in range(10):
            echo.tell(Ping())
        monitor.sample()
        await echo.ask(Ping())
        monitor.sample()
        assert [a.parameter for a in monitor.active_alerts()] == ["mailbox_amplitude"]
        seen = scrape(ops.metrics)
        labels = (("level", "critical"), ("parameter", "mailbox_amplitude"))
        assert seen[("tadpole_alert_active", labels)] == 1.0
        assert seen[("tadpole_alerts_raised_total", labels)] == 1.0
        assert seen[("tadpole_order_parameter", (("parameter", "mailbox_amplitude"),))] == 5.0
        ops.stop()
        other.stop()
        assert not monitor.running


async def test_a_monitor_with_no_sampling_yet_reports_nothing() -> None:
    async with ActorSystem("quiet") as system:
        monitor = StabilityMonitor(system)
        assert monitor.snapshot() == {}
        assert monitor.history("message_rate_variance") == ()
        assert monitor.active_alerts() == ()
        async with monitor:
            assert set(monitor.snapshot()) == {
                "message_rate_variance",
                "mailbox_amplitude",
                "mailbox_reversals",
            }
