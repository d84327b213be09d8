"""Probe: records what it receives; waits for messages on the loop's (here virtual) clock."""

from __future__ import annotations

import pytest

from actors.testing import Probe, ProbeTimeout, Simulation, simulate


def test_a_probe_hands_out_messages_in_order_and_answers_asks() -> None:
    async def scenario(sim: Simulation) -> list[object]:
        async with sim.system() as system:
            probe = await Probe.start(system, name="probe")
            probe.reply = "ack"
            probe.ref.tell(1)
            assert await probe.ref.ask("two", timeout=1.0) == "ack"
            assert await probe.next() == 1
            await probe.expect_message("two")
            probe.expect_no_message()
            probe.ref.tell(3.5)
            assert await probe.expect(float) == 3.5
            return probe.received

    assert simulate(scenario, seed=1).value == [1, "two", 3.5]


def test_a_probe_fails_the_test_on_the_wrong_message_or_no_message() -> None:
    async def scenario(sim: Simulation) -> float:
        async with sim.system() as system:
            probe = await Probe.start(system)
            probe.ref.tell("text")
            await probe.ref.ask("sync", timeout=1.0)
            with pytest.raises(AssertionError, match="unexpected message 'text'"):
                probe.expect_no_message()
            with pytest.raises(AssertionError, match="expected a int"):
                await probe.expect(int)
            with pytest.raises(AssertionError, match="expected 'other'"):
                await probe.expect_message("other")
            start = sim.now()
            with pytest.raises(ProbeTimeout, match="no message within 600s"):
                await probe.next(timeout=600.0)
            return sim.now() - start

    assert simulate(scenario, seed=1).value == 600.0


def test_a_probe_must_be_started_before_use() -> None:
    with pytest.raises(RuntimeError, match=r"Probe\.start"):
        _ = Probe().ref
