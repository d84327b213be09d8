"""simulate(): seeded runs on virtual time, a trace digest, and failures that name their seed."""

from __future__ import annotations

import asyncio
import random
import re
from typing import Any

import pytest
import structlog
from hypothesis import given, settings

from actors import Actor, ActorSystem
from actors.testing import (
    Delivery,
    Simulation,
    SimulationDeadlock,
    SimulationError,
    SimulationTimeout,
    VirtualClock,
    seeds,
    simulate,
)
from actors.testing._trace import canonical_text
from protocol import Message
from tests.helpers import Echo, Ping


class Add(Message, tag="test.sim.add"):
    n: int


class Adder(Actor[Any]):
    def __init__(self) -> None:
        self.total = 0

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Add):
            self.total += message.n
        return self.total


async def add_random_numbers(sim: Simulation) -> int:
    async with sim.system("calc") as system:
        adder = await system.spawn(Adder, name="adder")
        for _ in range(5):
            await sim.sleep(sim.random.uniform(0.1, 2.0))
            adder.tell(Add(sim.random.randint(1, 100)))
        total: int = await adder.ask("total", timeout=1.0)
        return total


def test_the_result_carries_the_value_seed_digest_and_virtual_time() -> None:
    result = simulate(add_random_numbers, seed=7, keep_trace=True)
    rng = random.Random(7)
    expected_total, expected_time = 0, 0.0
    for _ in range(5):
        expected_time += rng.uniform(0.1, 2.0)
        expected_total += rng.randint(1, 100)
    assert result.value == expected_total
    assert result.seed == 7
    assert result.virtual_time == pytest.approx(expected_time, abs=1e-9)
    assert re.fullmatch(r"[0-9a-f]{64}", result.digest)
    assert result.deliveries == 6 == len(result.trace)
    first, last = result.trace[0], result.trace[-1]
    assert first.system == "calc"
    assert first.actor == "/user/adder"
    assert first.msg_type == "Add"
    assert first.correlation_id is None
    assert last.message == '"total"'
    assert last.correlation_id == 1
    assert last.time == result.virtual_time


def test_the_same_seed_replays_the_same_trace_and_another_seed_need_not() -> None:
    one = simulate(add_random_numbers, seed=11, keep_trace=True)
    again = simulate(add_random_numbers, seed=11, keep_trace=True)
    other = simulate(add_random_numbers, seed=12, keep_trace=True)
    assert again.digest == one.digest
    assert again.trace == one.trace
    assert other.digest != one.digest


def test_without_a_seed_a_fresh_one_is_chosen_and_reported() -> None:
    result = simulate(add_random_numbers)
    assert simulate(add_random_numbers, seed=result.seed).digest == result.digest


def test_a_failing_scenario_keeps_its_error_and_names_the_seed_to_replay() -> None:
    async def scenario(sim: Simulation) -> None:
        await sim.sleep(2.5)
        raise KeyError("lost")

    with pytest.raises(KeyError) as caught:
        simulate(scenario, seed=4242)
    (note,) = caught.value.__notes__
    assert "seed=4242" in note
    assert "2.500000s" in note
    assert "simulate(" in note
    assert "scenario, seed=4242)" in note


def test_a_deadlock_is_reported_with_its_seed() -> None:
    async def scenario(sim: Simulation) -> None:
        await asyncio.get_running_loop().create_future()

    with pytest.raises(SimulationDeadlock, match="seed=5") as caught:
        simulate(scenario, seed=5, stall_timeout=0.05)
    assert caught.value.seed == 5


def test_a_scenario_past_its_virtual_time_limit_times_out() -> None:
    async def scenario(sim: Simulation) -> None:
        while True:
            await sim.sleep(1.0)

    with pytest.raises(SimulationTimeout, match="seed=9") as caught:
        simulate(scenario, seed=9, timeout=600.0)
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, SimulationError)
    assert caught.value.virtual_time == 600.0


def test_an_ask_timeout_inside_the_scenario_is_not_the_simulation_timing_out() -> None:
    class Mute(Actor[Any]):
        async def receive(self, message: Any) -> Any:
            await asyncio.get_running_loop().create_future()

    async def scenario(sim: Simulation) -> float:
        async with sim.system() as system:
            mute = await system.spawn(Mute, shutdown=1.0)
            with pytest.raises(TimeoutError):
                await mute.ask("?", timeout=30.0)
            return sim.now()

    assert simulate(scenario, seed=1, timeout=100.0).value == 30.0


def test_simulate_refuses_to_run_inside_a_running_loop() -> None:
    async def inside() -> None:
        with pytest.raises(RuntimeError, match="synchronous"):
            simulate(add_random_numbers, seed=1)

    asyncio.run(inside())


def test_random_streams_derive_from_the_seed_and_label_only() -> None:
    async def scenario(sim: Simulation) -> list[float]:
        a = sim.random_for("network")
        a.random()  # drawing from one stream shifts no other
        return [sim.random_for("network").random(), sim.random_for("disk").random()]

    first = simulate(scenario, seed=3).value
    assert first == simulate(scenario, seed=3).value
    assert first[0] == random.Random("3/network").random()
    assert first[0] != first[1]


def test_systems_get_the_virtual_clock_and_a_stream_per_incarnation() -> None:
    async def scenario(sim: Simulation) -> tuple[float, float, float, float]:
        first = sim.system("node")
        second = sim.system("node")
        seeded = sim.system("other", seed=99)
        assert isinstance(first.clock, VirtualClock)
        await sim.sleep(10.0)
        return (
            first.random.random(),
            second.random.random(),
            seeded.random.random(),
            first.clock.wall() - first.clock.epoch,
        )

    a, b, seeded, wall = simulate(scenario, seed=8).value
    assert a == random.Random("8/system/node/1").random()
    assert b == random.Random("8/system/node/2").random()
    assert seeded == random.Random(99).random()
    assert wall == 10.0


def test_a_system_built_elsewhere_can_be_traced_before_it_spawns() -> None:
    async def scenario(sim: Simulation) -> int:
        async with sim.trace(ActorSystem("mine")) as system:
            adder = await system.spawn(Adder)
            await adder.ask(Add(1), timeout=1.0)
            with pytest.raises(RuntimeError, match="before it spawns"):
                sim.trace(system)
        return sim.deliveries

    assert simulate(scenario, seed=1).value == 1


def test_the_runtime_debug_log_is_kept_only_when_asked() -> None:
    async def scenario(sim: Simulation) -> None:
        for log in (False, True):
            async with sim.system(f"log-{log}", trace_messages=log) as system:
                adder = await system.spawn(Adder, name="adder")
                await adder.ask(Add(1), timeout=1.0)

    with structlog.testing.capture_logs() as logs:
        simulate(scenario, seed=1)
    received = [e["actor"] for e in logs if e["event"] == "message_received"]
    assert received == ["/user/adder"]


def test_tracing_keeps_the_delivery_hook_a_system_already_had() -> None:
    seen: list[str] = []

    async def scenario(sim: Simulation) -> int:
        hooked = ActorSystem("hooked", clock=sim.clock, on_deliver=lambda p, m, c: seen.append(p))
        async with sim.trace(hooked) as system:
            ref = await system.spawn(Echo, name="echo")
            await ref.ask(Ping(1), timeout=1.0)
        return sim.deliveries

    result = simulate(scenario, seed=1)
    assert result.value == 1
    assert seen == ["/user/echo"]


def test_canonical_text_is_json_when_possible_and_never_an_address() -> None:
    assert canonical_text(Add(3)) == '["test.sim.add",3]'
    assert canonical_text({"b": 1, "a": 2}) == '{"a":2,"b":1}'
    text = canonical_text(object())
    assert text == "<object object at 0x?>"
    assert isinstance(Delivery(0.0, "s", "/user/a", "int", "1"), Delivery)


@settings(max_examples=20, deadline=None)
@given(seed=seeds(max_value=1000))
def test_seeds_draws_seeds_in_range(seed: int) -> None:
    assert 0 <= seed <= 1000
