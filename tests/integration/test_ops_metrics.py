"""Metrics read back through prometheus-client's own parser, against known traffic."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from actors import Actor, ActorSystem, AskTimeout
from actors.cluster import ClusterStatistics
from actors.ledger import open_ledger
from actors.lowlevel import totals
from actors.ops import (
    ALERTS_TOPIC,
    Alert,
    AlertCleared,
    MonitorConfig,
    NodeMetrics,
    StabilityMonitor,
    Threshold,
    start_operations,
)
from actors.remote import RemoteStatistics
from actors.roles.territories import (
    Acquire,
    Granted,
    MemoryLeaseStore,
    TerritoryConfig,
    TerritoryManager,
)
from actors.roles.territories import Refused as TerritoryRefused
from actors.testing import Probe, Simulation, simulate
from protocol import Message
from tests.unit.actors.roles.swarm_helpers import ListSink


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


class HibernatingEcho(Echo):
    hibernate_after = 0.0


@pytest.mark.anyio
async def test_actor_loops_count_only_actors_holding_a_loop_task() -> None:
    async with ActorSystem("m") as system:
        await system.spawn(Echo, name="dormant")  # never messaged: no loop yet
        parked = await system.spawn(Echo, name="parked")
        hibernating = await system.spawn(HibernatingEcho, name="hibernating")
        assert await parked.ask(Ping()) == "pong"
        assert await hibernating.ask(Ping()) == "pong"
        seen = scrape(NodeMetrics(system))
        assert seen[("tadpole_actors", ())] == 3.0
        assert seen[("tadpole_actor_loops", ())] == 1.0


@pytest.mark.anyio
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


@pytest.mark.anyio
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


@pytest.mark.anyio
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


class Stub:
    def __init__(self, statistics: Any) -> None:
        self._statistics = statistics

    def statistics(self) -> Any:
        return self._statistics


@pytest.mark.anyio
async def test_remote_and_cluster_statistics_become_metrics() -> None:
    remote = RemoteStatistics(
        node="n1", address="127.0.0.1:1", peers=2, connections=2, connections_opened=3,
        connections_closed=1, connections_accepted=1, connect_failures=4, messages_sent=10,
        messages_received=11, bytes_sent=1000, bytes_received=2000, writes=5,
        send_buffered=0, asks_pending=0, asks_in_flight=1, asks_expired=2, late_answers=0,
        dropped=3, close_reasons={},
    )  # fmt: skip
    cluster = ClusterStatistics(
        node="n1", joined=True, members=3, unreachable=1, heartbeats_sent=7,
        heartbeats_received=6, downed=1, left=0,
    )  # fmt: skip
    async with ActorSystem("wired") as system:
        metrics = NodeMetrics(system, remote=Stub(remote), cluster=Stub(cluster))
        seen = scrape(metrics)
    assert seen[("tadpole_remote_bytes_sent_total", ())] == 1000
    assert seen[("tadpole_remote_bytes_received_total", ())] == 2000
    assert seen[("tadpole_remote_connections", ())] == 2
    assert seen[("tadpole_remote_ask_timeouts_total", ())] == 2
    assert seen[("tadpole_cluster_members", ())] == 3
    assert seen[("tadpole_cluster_unreachable", ())] == 1


def test_an_alert_is_logged_recorded_and_published_and_so_is_its_clear() -> None:
    config = MonitorConfig(
        queue_window=2.0,
        thresholds=(Threshold("mailbox_amplitude", raise_at=2.0, clear_at=0.5),),
    )

    async def scenario(sim: Simulation) -> tuple[list[Any], list[Any], list[str]]:
        sink = ListSink()
        async with sim.system("logged", ledger=sink) as system:
            probe = await Probe.start(system)
            system.topics.subscribe(ALERTS_TOPIC, probe.ref)
            echo = await system.spawn(Echo)
            with capture_logs() as logs:
                async with StabilityMonitor(system, config=config) as monitor:
                    await sim.sleep(3.0)
                    for _ in range(10):
                        echo.tell(Ping())
                    monitor.sample()  # 10 queued: amplitude 5
                    await sim.sleep(5.0)  # drained; the window moved past it
                    assert monitor.active_alerts() == ()
            kinds = [kind for kind, _ in sink.records]
            return logs, list(probe.received), kinds

    logs, published, kinds = simulate(scenario, seed=7).value
    events = [e for e in logs if e["event"].startswith("stability_alert")]
    assert [e["event"] for e in events] == ["stability_alert_raised", "stability_alert_cleared"]
    assert events[0]["parameter"] == "mailbox_amplitude"
    assert events[0]["value"] == 5.0
    assert events[0]["log_level"] == "warning"
    assert events[1]["threshold"] == 0.5
    assert [type(e) for e in published] == [Alert, AlertCleared]
    assert published[1].raised_at == published[0].raised_at
    assert kinds == ["ops.alert", "ops.alert_cleared"]


def test_leases_and_heat_of_a_territory_manager_are_scraped() -> None:
    async def scenario(sim: Simulation) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        async with sim.system("leases", maintenance_workers=0) as system:
            manager = await system.spawn(
                lambda: TerritoryManager(TerritoryConfig(), store=MemoryLeaseStore())
            )
            assert isinstance(await manager.ask(Acquire("north", "a")), Granted)
            for _ in range(3):  # contention: refused, and the territory heats up
                assert isinstance(await manager.ask(Acquire("north", "b")), TerritoryRefused)
            ops = start_operations(system, territories=manager)
            seen = scrape(ops.metrics)
            ops.stop()
            return seen

    seen = simulate(scenario, seed=11).value
    assert seen[("tadpole_leases", ())] == 1
    assert seen[("tadpole_lease_events_total", (("event", "granted"),))] == 1
    assert seen[("tadpole_lease_events_total", (("event", "refused"),))] == 3
    assert seen[("tadpole_heat", (("territory", "north"),))] == pytest.approx(3.0, rel=0.05)
    assert ("tadpole_order_parameter", (("parameter", "lease_churn"),)) in seen
