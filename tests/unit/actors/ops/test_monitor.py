"""The monitor's sampling on virtual time: windows, history, listeners, configuration."""

from __future__ import annotations

from typing import Any

import pytest

from actors import Actor
from actors.ops import (
    Alert,
    AlertCleared,
    MonitorConfig,
    MonitorStatistics,
    StabilityMonitor,
    Threshold,
)
from actors.testing import Simulation, simulate
from protocol import Message


class Nudge(Message, tag="test.ops.monitor.nudge"):
    pass


class Busy(Actor[Nudge]):
    async def receive(self, message: Nudge) -> None:
        pass


def test_history_is_bounded_oldest_first_with_its_sample_times() -> None:
    async def scenario(sim: Simulation) -> tuple[Any, Any, int]:
        async with sim.system("h") as system:
            config = MonitorConfig(interval=0.5, history=4)
            async with StabilityMonitor(system, config=config) as monitor:
                await sim.sleep(10.0)
                return (
                    monitor.history("mailbox_amplitude"),
                    monitor.times("mailbox_amplitude"),
                    monitor.samples,
                )

    history, times, samples = simulate(scenario, seed=1).value
    assert samples == 21  # one at start, one per half second
    assert history == (0.0, 0.0, 0.0, 0.0)
    assert times == (8.5, 9.0, 9.5, 10.0)


def test_rate_variance_sees_one_actor_take_the_load_and_forgets_it_after_the_window() -> None:
    async def scenario(sim: Simulation) -> list[float]:
        async with sim.system("v") as system:
            actors = [await system.spawn(Busy) for _ in range(4)]
            config = MonitorConfig(interval=1.0, rate_window=5.0)
            values = []
            async with StabilityMonitor(system, config=config) as monitor:
                for second in range(20):
                    for index, ref in enumerate(actors):
                        hot = index == 0 and 5 <= second < 10
                        for _ in range(40 if hot else 4):
                            ref.tell(Nudge())
                    await sim.sleep(1.0)
                    values.append(monitor.snapshot()["message_rate_variance"])
            return values

    values = simulate(scenario, seed=2).value
    assert max(values[:5]) == pytest.approx(0.0)
    # one actor at 40/s, three at 4/s over a full window: mean 13, variance 243
    assert max(values[5:12]) == pytest.approx(243 / 169)
    assert values[-1] == pytest.approx(0.0)  # five seconds after: the window forgot it


def test_a_failing_listener_is_logged_and_the_others_still_hear() -> None:
    async def scenario(sim: Simulation) -> tuple[list[Any], MonitorStatistics]:
        heard: list[Any] = []
        async with sim.system("l") as system:
            ref = await system.spawn(Busy)
            config = MonitorConfig(
                queue_window=1.0,
                thresholds=(Threshold("mailbox_amplitude", raise_at=2.0, clear_at=0.5),),
            )
            async with StabilityMonitor(system, config=config) as monitor:

                def broken(event: Alert | AlertCleared) -> None:
                    raise RuntimeError("listener bug")

                monitor.subscribe(broken)
                unsubscribe = monitor.subscribe(heard.append)
                await sim.sleep(2.0)
                for _ in range(10):
                    ref.tell(Nudge())
                monitor.sample()
                unsubscribe()
                unsubscribe()  # twice: harmless
                await sim.sleep(3.0)  # the clear is not heard any more
            return heard, monitor.statistics()

    heard, stats = simulate(scenario, seed=3).value
    assert [type(e) for e in heard] == [Alert]
    assert (stats.alerts_raised, stats.alerts_cleared, stats.active) == (1, 1, 0)
    assert not stats.running


def test_a_monitor_stops_with_its_system() -> None:
    async def scenario(sim: Simulation) -> tuple[bool, int]:
        async with sim.system("s") as system:
            monitor = StabilityMonitor(system)
            monitor.start()
            monitor.start()  # idempotent
        taken = monitor.samples
        await sim.sleep(5.0)
        return monitor.running, monitor.samples - taken

    running, more = simulate(scenario, seed=4).value
    assert not running
    assert more == 0


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"interval": 0.0}, "interval"),
        ({"rate_window": -1.0}, "rate_window"),
        ({"history": 1}, "history"),
        ({"queue_noise": -1.0}, "queue_noise"),
        ({"thresholds": (Threshold("nope", 1.0, 0.0),)}, "unknown parameters"),
        (
            {
                "thresholds": (
                    Threshold("lease_churn", 2.0, 1.0),
                    Threshold("lease_churn", 3.0, 1.0),
                )
            },
            "at most one",
        ),
    ],
)
def test_a_bad_config_is_refused_by_name(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        MonitorConfig(**kwargs)


def test_a_remote_ref_cannot_be_monitored_as_a_supervisor() -> None:
    async def scenario(sim: Simulation) -> None:
        async with sim.system("r") as system:
            with pytest.raises(TypeError, match="local actor ref"):
                StabilityMonitor(system, supervisor=object())  # type: ignore[arg-type]

    simulate(scenario, seed=5)


# -- a supervisor and a territory manager found among the live actors ------------------


class SupervisorCounters:
    """What the monitor reads of a ``SupervisorStatistics``."""

    def __init__(self, completed: int, failed: int, queued: int, window: int) -> None:
        self.completed, self.failed, self.queued, self.window = completed, failed, queued, window


class ManagerCounters:
    """What the monitor reads of a ``ManagerStatistics``."""

    def __init__(self, granted: int) -> None:
        self.granted, self.expired, self.refused = granted, 0, 0


class FakeSupervisor(Actor[Nudge]):
    """Shaped like a ``JobSupervisor`` to the monitor: its statistics() counters."""

    def __init__(self) -> None:
        self.done = 0

    async def receive(self, message: Nudge) -> None:
        self.done += 1

    def statistics(self) -> SupervisorCounters:
        return SupervisorCounters(self.done, 0, 3, 8)


class FakeManager(Actor[Nudge]):
    """Shaped like a ``TerritoryManager``: leases granted, one per message."""

    def __init__(self) -> None:
        self.granted = 0

    async def receive(self, message: Nudge) -> None:
        self.granted += 1

    def statistics(self) -> ManagerCounters:
        return ManagerCounters(self.granted)


class Unready(Actor[Nudge]):
    """A statistics() that fails: classified again at each sample, never sampled."""

    async def receive(self, message: Nudge) -> None:
        pass

    def statistics(self) -> object:
        raise RuntimeError("not yet")


def test_a_supervisor_and_manager_spawned_after_the_monitor_are_discovered_and_sampled() -> None:
    async def scenario(sim: Simulation) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with sim.system("d") as system:
            await system.spawn(Unready)
            await system.spawn(Busy)
            config = MonitorConfig(interval=1.0, churn_window=4.0)
            async with StabilityMonitor(system, config=config) as monitor:
                await sim.sleep(2.0)
                seen["before"] = (set(monitor.snapshot()), monitor.supervisor)
                supervisor = await system.spawn(FakeSupervisor, name="jobs")
                manager = await system.spawn(FakeManager, name="territories")
                await system.spawn(FakeSupervisor, name="jobs-2")  # not the first: not sampled
                monitor.sample()  # found at once, with nothing granted yet
                for _ in range(8):
                    manager.tell(Nudge())
                    supervisor.tell(Nudge())
                await sim.sleep(2.0)
                seen["found"] = (monitor.supervisor, monitor.territories)
                seen["refs"] = (supervisor, manager)
                seen["during"] = dict(monitor.snapshot())
                seen["last"] = (monitor.last_supervisor, monitor.last_territories)
                await system.stop(supervisor)
                await sim.sleep(2.0)
                seen["after"] = (monitor.supervisor, set(monitor.snapshot()))
        return seen

    seen = simulate(scenario, seed=6).value
    basic = {"message_rate_variance", "mailbox_amplitude", "mailbox_reversals"}
    assert seen["before"] == (basic, None)
    assert seen["found"] == seen["refs"]
    during = seen["during"]
    assert during["concurrency_window"] == 8.0
    assert during["backlog_amplitude"] == 0.0  # 3 queued at every sample that had a supervisor
    assert during["success_rate"] == 1.0
    assert during["lease_churn"] == pytest.approx(8 / 2.0)  # 8 grants in the 2 s it was seen
    assert seen["last"][0].completed == 8
    assert seen["last"][1].granted == 8
    # The first supervisor stopped: the next one alive is found instead.
    assert seen["after"][0] is not None
    assert seen["after"][0].path.endswith("/jobs-2")


def test_watch_names_the_supervisor_to_sample_instead_of_discovering() -> None:
    async def scenario(sim: Simulation) -> tuple[Any, Any]:
        async with sim.system("w") as system:
            await system.spawn(FakeSupervisor, name="a")
            second = await system.spawn(FakeSupervisor, name="b")
            async with StabilityMonitor(system) as monitor:
                monitor.watch(supervisor=second)
                await sim.sleep(2.0)
                return monitor.supervisor, second

    sampled, second = simulate(scenario, seed=7).value
    assert sampled == second


def test_reconfigure_withdraws_an_alert_whose_threshold_changed_and_judges_afresh() -> None:
    async def scenario(sim: Simulation) -> tuple[list[Any], float, int]:
        heard: list[Any] = []
        async with sim.system("c") as system:
            ref = await system.spawn(Busy)
            first = Threshold("mailbox_amplitude", raise_at=2.0, clear_at=0.5)
            config = MonitorConfig(queue_window=1.0, thresholds=(first,))
            async with StabilityMonitor(system, config=config) as monitor:
                monitor.subscribe(heard.append)
                await sim.sleep(2.0)
                for _ in range(10):
                    ref.tell(Nudge())
                monitor.sample()  # amplitude 5: raised
                unchanged = MonitorConfig(queue_window=1.0, thresholds=(first,), history=10)
                monitor.reconfigure(unchanged)  # the same threshold: the alert stays
                active = len(monitor.active_alerts())
                higher = Threshold("mailbox_amplitude", raise_at=50.0, clear_at=20.0)
                monitor.reconfigure(MonitorConfig(interval=0.5, thresholds=(higher,)))
                await sim.sleep(2.0)
                return heard, monitor.config.interval, active

    heard, interval, active = simulate(scenario, seed=8).value
    assert active == 1
    assert [type(e) for e in heard] == [Alert, AlertCleared]
    assert "reconfigured" in heard[1].message
    assert interval == 0.5
