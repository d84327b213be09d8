"""Dispatch planning: quotas, round-robin, backlog feedback, lineage, dry runs."""

from __future__ import annotations

import hashlib
import math

from actors.roles import BalancerConfig, Channel, DispatchPlanner, Task

S, B, C = Channel.STRICT, Channel.BALANCED, Channel.CREATIVE


def tasks(mode: Channel, n: int, prefix: str = "", **inputs: float) -> list[Task]:
    return [Task(f"{prefix or mode.value}-{i}", mode=mode, **inputs) for i in range(n)]  # type: ignore[arg-type]


def planner(**config: object) -> DispatchPlanner:
    return DispatchPlanner(BalancerConfig(**config))  # type: ignore[arg-type]


def run(p: DispatchPlanner, cycles: int = 1) -> list[Channel]:
    out: list[Channel] = []
    for _ in range(cycles):
        out.extend(d.channel for d in p.plan_cycle())
    return out


def test_round_robin_takes_channels_in_turn() -> None:
    p = planner(creative_min=0.0, creative_backlog_cap=1.0)
    for task in tasks(S, 2) + tasks(B, 2) + tasks(C, 2):
        p.submit(task)
    assert run(p) == [S, B, C, S, B, C]


def test_within_a_channel_the_highest_score_goes_first() -> None:
    p = planner()
    p.submit(Task("low", mode=B, urgency=0.1))
    p.submit(Task("high", mode=B, urgency=0.9))
    p.submit(Task("mid", mode=B, urgency=0.5))
    p.submit(Task("mid-later", mode=B, urgency=0.5))
    assert [d.task.task_id for d in p.plan_cycle()] == ["high", "mid", "mid-later", "low"]


def test_strict_never_exceeds_thirty_percent_of_a_full_window() -> None:
    p = planner(window=10, creative_min=0.0)
    for task in tasks(S, 50) + tasks(B, 50):
        p.submit(task)
    channels = [d.channel for d in p.plan_cycle()]
    for start in range(len(channels) - 10 + 1):
        assert channels[start : start + 10].count(S) <= 3


def test_an_eighty_percent_strict_burst_is_held_to_thirty_percent_by_default() -> None:
    p = planner(window=20)
    for task in tasks(S, 80) + tasks(B, 20):
        p.submit(task)
    channels = [d.channel for d in p.plan_cycle()]
    # Enforce: once balanced work ran out, the strict excess waits for later cycles.
    assert channels.count(B) == 20
    assert all(channels[i : i + 20].count(S) <= 6 for i in range(len(channels) - 19))
    assert p.backlog()[S] > 0
    assert p.holds == 1
    assert p.breaches == 0
    assert channels.count(S) / len(channels) <= 0.32
    # New balanced work lets some of the held strict work go in a later cycle.
    for task in tasks(B, 10, prefix="late"):
        p.submit(task)
    later = [d.channel for d in p.plan_cycle()]
    assert later.count(S) >= 3
    whole = channels + later
    assert all(whole[i : i + 20].count(S) <= 6 for i in range(len(whole) - 19))


def test_work_conserving_dispatches_the_strict_excess_as_counted_breaches() -> None:
    p = planner(window=20, strict_policy="work_conserving")
    for task in tasks(S, 80) + tasks(B, 20):
        p.submit(task)
    dispatches = p.plan_cycle()
    assert len(dispatches) == 100
    breaches = [d for d in dispatches if d.quota_breach]
    assert breaches
    assert all(d.channel is S for d in breaches)
    assert p.breaches == len(breaches)
    # Breaches begin only once nothing but strict work was left.
    first = dispatches.index(breaches[0])
    assert all(d.channel is S for d in dispatches[first:])
    assert sum(w.breaches for w in p.windows) == len(breaches)


def test_realised_shares_are_reported_per_closed_window() -> None:
    p = planner(window=10)
    for task in tasks(S, 10) + tasks(B, 20) + tasks(C, 10):
        p.submit(task)
    p.plan_cycle()
    assert len(p.windows) == 4
    for window in p.windows:
        assert window.strict <= 0.3
        assert math.isclose(window.strict + window.balanced + window.creative, 1.0)
    shares = p.realised_shares()
    assert shares == {"strict": 0.25, "balanced": 0.5, "creative": 0.25}


def test_creative_gets_at_least_twenty_percent_while_it_waits() -> None:
    p = planner(window=10, creative_backlog_cap=1.0)
    for task in tasks(S, 30) + tasks(B, 60) + tasks(C, 10):
        p.submit(task)
    channels = run(p)
    last_creative = max(i for i, channel in enumerate(channels) if channel is C)
    # Creative work waited at every dispatch up to the last creative one.
    for end in range(10, last_creative + 2):
        assert channels[end - 10 : end].count(C) >= 2


def test_creative_work_arriving_late_is_forced_up_to_its_minimum() -> None:
    p = planner(window=10, per_cycle=20, creative_backlog_cap=1.0, strict_max=0.3)
    for task in tasks(B, 100):
        p.submit(task)
    assert run(p) == [B] * 20
    for task in tasks(C, 5):
        p.submit(task)
    after = run(p)
    # The window ending with each of the next dispatches must hold two creative.
    assert after[:2] == [C, C]
    assert after.count(C) == 5


def test_a_creative_heavy_load_is_not_over_dispatched() -> None:
    # 70% creative arrivals, more than one cycle can take: the other channels
    # must keep their turns, and creative its minimum.
    p = planner(per_cycle=8, window=20)
    channels: list[Channel] = []
    n = 0
    for _ in range(60):
        for mode in [C] * 7 + [B] * 2 + [S]:
            n += 1
            p.submit(Task(f"t{n}", mode=mode))
        channels.extend(d.channel for d in p.plan_cycle())
    assert channels.count(C) / len(channels) < 0.70
    assert channels.count(C) / len(channels) >= 0.20
    assert p.backlog()[B] == 0
    assert p.backlog()[S] == 0
    assert p.deferrals > 0
    assert p.deferred == p.backlog()[C]


def test_creative_enters_the_queue_only_up_to_its_cap_and_the_rest_is_deferred() -> None:
    p = planner()
    for task in tasks(B, 13):
        p.submit(task)
    results = [p.submit(task) for task in tasks(C, 10)]
    admitted = [deferred for _, deferred in results].count(False)
    assert admitted == 7  # 7 of 20 queued is 35%
    assert p.deferred == 3
    assert p.deferrals == 3
    assert p.backlog()[C] == 10


def test_deferred_creative_work_still_gets_its_minimum_and_never_idles() -> None:
    p = planner(window=10, per_cycle=10)
    for task in tasks(B, 100) + tasks(C, 30):
        p.submit(task)
    channels = run(p, cycles=3)
    for end in range(10, len(channels) + 1):
        assert channels[end - 10 : end].count(C) >= 2
    # Only deferred creative work left: it goes rather than idle.
    q = planner()
    for task in tasks(C, 5):
        q.submit(task)
    assert q.deferred > 0
    assert run(q) == [C] * 5


def test_only_strict_work_left_is_held_under_enforce() -> None:
    p = planner(window=10)
    for task in tasks(S, 10):
        p.submit(task)
    dispatches = p.plan_cycle()
    # The first fits the quota (1 of 1 <= ceil(30%)); the rest wait.
    assert len(dispatches) == 1
    assert p.queued == 9
    assert p.holds == 1


def test_per_cycle_limits_a_cycle_and_the_rest_waits() -> None:
    p = planner(per_cycle=3)
    for task in tasks(B, 5):
        p.submit(task)
    assert len(p.plan_cycle()) == 3
    assert p.queued == 2
    assert [d.cycle for d in p.plan_cycle()] == [2, 2]


def test_lineage_chains_digests_through_parents() -> None:
    p = planner()
    p.submit(Task("root", parent_artifact="dataset-v1"))
    (first,) = p.plan_cycle()
    expected = hashlib.sha256(b"dataset-v1|root|balanced|1").hexdigest()
    assert first.lineage.digest == expected
    assert first.lineage.parent_artifact == "dataset-v1"
    assert first.lineage.slot == 1
    p.submit(Task("child", parent_artifact="root"))
    (second,) = p.plan_cycle()
    assert (
        second.lineage.digest == hashlib.sha256(f"{expected}|child|balanced|2".encode()).hexdigest()
    )
    assert p.lineage == {"root": expected, "child": second.lineage.digest}


def test_a_dry_run_changes_nothing() -> None:
    p = planner()
    for task in tasks(S, 3) + tasks(C, 3):
        p.submit(task)
    dry = p.plan_cycle(apply=False)
    assert p.queued == 6
    assert p.cycle == 0
    assert p.dispatched == 0
    real = p.plan_cycle()
    assert [(d.task, d.channel, d.lineage) for d in dry] == [
        (d.task, d.channel, d.lineage) for d in real
    ]


def test_tasks_dispatched_within_two_cycles_are_counted() -> None:
    p = planner(per_cycle=2)
    for task in tasks(B, 6):
        p.submit(task)
    run(p, cycles=3)
    assert p.dispatched == 6
    assert p.within_two == 4  # the last two went in the third cycle
    assert p.delays == {1: 2, 2: 2, 3: 2}


def test_the_delay_is_counted_from_the_submission_cycle() -> None:
    p = planner(per_cycle=1)
    run(p, cycles=5)  # idle cycles
    p.submit(Task("late-arrival"), arrived_cycle=2)  # submitted at cycle 2, seen at 5
    (dispatch,) = p.plan_cycle()
    assert dispatch.delay == 4
    assert p.within_two == 0
