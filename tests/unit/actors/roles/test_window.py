"""The concurrency window (AIMD) and the admission gate."""

from __future__ import annotations

from actors.roles import AdmissionGate, ConcurrencyWindow, WindowConfig


def test_the_window_starts_at_five_and_grows_additively_to_ten() -> None:
    window = ConcurrencyWindow()
    assert window.size == 5
    sizes = [window.record(True) for _ in range(5 + 6 + 7 + 8 + 9 + 20)]
    assert sizes[4] == 6  # after one full window of successes
    assert sizes[4 + 6] == 7
    assert max(sizes) == 10
    assert sizes[-1] == 10


def test_the_window_halves_when_the_success_rate_slips() -> None:
    window = ConcurrencyWindow(WindowConfig(initial=8))
    for _ in range(18):
        window.record(True)
    assert window.size == 10
    window.record(False)  # 18/19 >= 0.9: holds
    assert window.size == 10
    window.record(False)  # 18/20 = 0.9: holds
    window.record(False)  # 17/20 < 0.9: halves
    assert window.size == 5
    window.record(False)  # cooling down: no second halving at once
    assert window.size == 5


def test_none_of_the_size_outcomes_after_a_halving_halves_again() -> None:
    # The outcomes right after a halving are mostly those of jobs that were
    # running already: counting them again would halve twice for one slip
    # (or not, depending only on the order in which they arrive).
    window = ConcurrencyWindow()
    assert window.record(False) == 2  # 0/1: halves, then two outcomes of grace
    assert window.record(True) == 2
    assert window.record(False) == 2  # the second of the two: still inside
    assert window.record(False) == 1  # the third: halves again
    assert window.shrunk == 2


def test_an_unhealthy_heartbeat_halves_the_window_and_stops_growth() -> None:
    window = ConcurrencyWindow()
    assert window.unhealthy() == 2
    assert window.record(True, healthy=False) == 2
    assert window.shrunk == 1


def test_the_window_never_goes_below_its_minimum() -> None:
    window = ConcurrencyWindow(WindowConfig(initial=2, minimum=2, sample=1))
    for _ in range(10):
        window.record(False)
    assert window.size == 2


def test_the_gate_admits_a_burst_then_the_rate() -> None:
    gate = AdmissionGate(rate=100.0, burst=10, now=0.0)
    assert gate.take(0.0, 50) == 10
    assert gate.take(0.0, 50) == 0
    assert gate.wait_for(0.0) == 0.01
    assert gate.take(0.05, 50) == 5
    assert gate.take(10.0, 50) == 10  # never more than the burst
