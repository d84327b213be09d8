"""The stability monitor on a seeded simulation: a swarm driven toward instability.

A swarm of workers, a job supervisor and lease-holding agents runs on
virtual time under a steady load. Three faults come one after another, each
drawn from the seed in its details:

* **a burst**: one worker gets fifty times its share for ten seconds, so
  message rates across actors spread (``message_rate_variance``);
* **a slow worker**: one worker's messages take 50 times longer for thirty
  seconds, so its mailbox fills (``mailbox_amplitude``: first the trend
  warns, then the level);
* **a partition**: agents' lease requests are mostly lost and jobs fail, so
  leases expire and are granted again (``lease_churn``) and the supervisor's
  success rate falls (``success_rate``).

The right alerts fire in that order, each clears once its parameter falls
back, and a calm run with the same seed and no fault raises none.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from actors import Actor
from actors.ops import (
    ALERTS_TOPIC,
    CRITICAL,
    WARNING,
    Alert,
    AlertCleared,
    MonitorConfig,
    NodeMetrics,
    StabilityMonitor,
    Threshold,
)
from actors.roles import JobContext, JobSupervisor, SupervisorConfig, submit_job
from actors.roles.territories import (
    Acquire,
    Granted,
    MemoryLeaseStore,
    Renew,
    Renewed,
    TerritoryConfig,
    TerritoryManager,
)
from actors.testing import Probe, Simulation, seeds, simulate
from protocol import Message
from tests.unit.actors.roles.swarm_helpers import ListSink, job

WORKERS = 8
AGENTS = 10
BURST = (30.0, 40.0)
SLOW = (55.0, 85.0)
PARTITION = (130.0, 150.0)
END = 200.0

CONFIG = MonitorConfig(
    interval=1.0,
    rate_window=5.0,
    history=300,
    queue_window=20.0,
    churn_window=10.0,
    outcome_window=15.0,
    thresholds=(
        Threshold("message_rate_variance", raise_at=3.0, clear_at=1.5),
        Threshold("mailbox_amplitude", raise_at=60.0, clear_at=10.0, trend=2.0),
        Threshold("lease_churn", raise_at=1.5, clear_at=0.3),
        Threshold("success_rate", raise_at=0.6, clear_at=0.9, direction="below"),
    ),
)


class Work(Message, tag="test.ops.sim.work"):
    pass


class Worker(Actor[Work]):
    def __init__(self, costs: dict[int, float], index: int) -> None:
        self.costs = costs
        self.index = index

    async def receive(self, message: Work) -> None:
        await asyncio.sleep(self.costs[self.index])


async def swarm(sim: Simulation, faults: bool, config: MonitorConfig = CONFIG) -> dict[str, Any]:
    rng = sim.random_for("faults")
    burst_worker = rng.randrange(WORKERS)
    slow_worker = rng.randrange(WORKERS)
    costs = dict.fromkeys(range(WORKERS), 0.005)
    partitioned = False
    events: list[tuple[float, Alert | AlertCleared]] = []
    sink = ListSink()

    async def handler(ctx: JobContext) -> None:
        await asyncio.sleep(0.3)
        if partitioned:
            raise ConnectionError("partitioned from the job's data")

    async with sim.system("ops", maintenance_workers=0, ledger=sink) as system:
        workers = [await system.spawn(Worker, costs, i, name=f"w{i}") for i in range(WORKERS)]
        sup = await system.spawn(
            JobSupervisor,
            {"*": handler},
            SupervisorConfig(max_attempts=1, auto_acknowledge=True),
            name="sup",
        )
        leases = TerritoryConfig(default_ttl=2.5, maintenance_interval=0.25, max_ttl=5.0)
        manager = await system.spawn(
            lambda: TerritoryManager(leases, store=MemoryLeaseStore()), name="territories"
        )
        probe = await Probe.start(system)
        system.topics.subscribe(ALERTS_TOPIC, probe.ref)
        monitor = StabilityMonitor(system, config=config, supervisor=sup, territories=manager)
        monitor.subscribe(lambda event: events.append((sim.now(), event)))

        async def load() -> None:
            tick = 0
            while sim.now() < END:
                for i, worker in enumerate(workers):
                    times = 18 if faults and i == burst_worker and in_(sim, BURST) else 1
                    for _ in range(times):
                        worker.tell(Work())
                tick += 1
                if tick % 10 == 0:
                    await submit_job(sup, job(f"j{tick}"))
                costs[slow_worker] = 0.5 if faults and in_(sim, SLOW) else 0.005
                await sim.sleep(0.1)

        async def agent(index: int) -> None:
            agent_rng = sim.random_for(f"agent/{index}")
            territory, name = f"t{index}", f"a{index}"
            token: int | None = None
            while sim.now() < END:
                lost = faults and in_(sim, PARTITION) and agent_rng.random() < 0.9
                if lost:
                    pass  # the request never reaches the manager
                elif token is None:
                    reply = await manager.ask(Acquire(territory, name), timeout=1.0)
                    token = reply.lease.token if isinstance(reply, Granted) else None
                else:
                    reply = await manager.ask(Renew(territory, name, token), timeout=1.0)
                    token = reply.lease.token if isinstance(reply, Renewed) else None
                await sim.sleep(1.0)

        async def partition() -> None:
            nonlocal partitioned
            await sim.sleep(PARTITION[0] - sim.now())
            partitioned = faults
            await sim.sleep(PARTITION[1] - PARTITION[0])
            partitioned = False

        async def monitoring() -> None:
            await sim.sleep(1.0)  # the swarm has started: its first leases are granted
            monitor.start()

        await asyncio.gather(load(), partition(), monitoring(), *(agent(i) for i in range(AGENTS)))
        monitor.stop()
        metrics = scrape(NodeMetrics(system, monitor=monitor))
        await sim.sleep(0.1)  # the topic's last deliveries
        published = list(probe.received)
    return {
        "events": [(round(at, 3), event) for at, event in events],
        "published": published,
        "records": [kind for kind, _ in sink.records if kind.startswith("ops.")],
        "active": monitor.active_alerts(),
        "history": {name: list(monitor.history(name)) for name in monitor.snapshot()},
        "metrics": metrics,
        "heat": monitor.last_heat,
    }


def scrape(metrics: NodeMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def in_(sim: Simulation, window: tuple[float, float]) -> bool:
    return window[0] <= sim.now() < window[1]


def summary(events: list[tuple[float, Alert | AlertCleared]]) -> list[tuple[str, str, str]]:
    return [("raise" if isinstance(e, Alert) else "clear", e.parameter, e.level) for _, e in events]


async def faulty(sim: Simulation) -> dict[str, Any]:
    return await swarm(sim, faults=True)


async def calm(sim: Simulation) -> dict[str, Any]:
    return await swarm(sim, faults=False)


async def calm_with_defaults(sim: Simulation) -> dict[str, Any]:
    return await swarm(sim, faults=False, config=MonitorConfig(history=300))


def check_faulty_run(result: dict[str, Any]) -> None:
    events = result["events"]
    steps = summary(events)
    by_phase: dict[str, list[tuple[str, str, str]]] = {"burst": [], "slow": [], "partition": []}
    raised_when: dict[str, float] = {}
    for (at, event), step in zip(events, steps, strict=True):
        if isinstance(event, Alert):
            raised_when[event.parameter] = at
        raised = raised_when[event.parameter]
        phase = "burst" if raised < SLOW[0] else "slow" if raised < PARTITION[0] else "partition"
        by_phase[phase].append(step)
    assert by_phase["burst"] == [
        ("raise", "message_rate_variance", CRITICAL),
        ("clear", "message_rate_variance", CRITICAL),
    ], steps
    assert by_phase["slow"] == [
        ("raise", "mailbox_amplitude", WARNING),
        ("raise", "mailbox_amplitude", CRITICAL),
        ("clear", "mailbox_amplitude", CRITICAL),
    ], steps
    partition = by_phase["partition"]
    raises = [p for kind, p, _ in partition if kind == "raise"]
    clears = [p for kind, p, _ in partition if kind == "clear"]
    assert sorted(raises) == ["lease_churn", "success_rate"], steps
    assert sorted(clears) == ["lease_churn", "success_rate"], steps
    assert partition[:2] == [(k, p, lv) for k, p, lv in partition if k == "raise"], steps
    assert result["active"] == ()
    assert len(result["published"]) == len(events)
    assert result["records"] == [
        "ops.alert" if isinstance(e, Alert) else "ops.alert_cleared" for _, e in events
    ]


def test_a_burst_a_slow_worker_and_a_partition_raise_the_right_alerts_in_order() -> None:
    result = simulate(faulty, seed=1717, timeout=END + 60).value
    check_faulty_run(result)


def test_a_calm_swarm_raises_no_alert() -> None:
    result = simulate(calm, seed=1717, timeout=END + 60).value
    assert result["events"] == []
    assert result["records"] == []
    assert max(result["history"]["message_rate_variance"]) < 1.5
    metrics = result["metrics"]
    assert metrics[("tadpole_leases", ())] == AGENTS
    assert metrics[("tadpole_lease_events_total", (("event", "granted"),))] == AGENTS
    assert metrics[("tadpole_lease_events_total", (("event", "expired"),))] == 0
    assert metrics[("tadpole_jobs", (("state", "completed"),))] >= 15
    assert metrics[("tadpole_jobs", (("state", "failed"),))] == 0
    assert metrics[("tadpole_jobs_window", ())] == 10
    assert metrics[("tadpole_order_parameter", (("parameter", "success_rate"),))] == 1.0
    assert not any(name == "tadpole_alert_active" for name, _ in metrics)
    assert result["heat"] is not None  # read from the manager (no contention: no heat)


def test_the_default_thresholds_raise_nothing_in_a_calm_swarm() -> None:
    result = simulate(calm_with_defaults, seed=1717, timeout=END + 60).value
    assert result["events"] == []


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=seeds())
def test_the_alerts_follow_the_faults_whatever_the_seed(seed: int) -> None:
    check_faulty_run(simulate(faulty, seed=seed, timeout=END + 60).value)
