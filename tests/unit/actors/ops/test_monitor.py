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
