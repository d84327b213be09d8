"""Hypothesis: the balancer's quotas and creative cap hold over generated loads."""

from __future__ import annotations

import math
from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.roles import BalancerConfig, Channel, DispatchPlanner, Task

WINDOW = 20
S, B, C = Channel.STRICT, Channel.BALANCED, Channel.CREATIVE

task_inputs = st.tuples(
    st.sampled_from(list(Channel)),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
)
# A load: tasks arriving before each cycle (mixes from all-strict to all-creative).
loads = st.lists(st.lists(task_inputs, max_size=30), min_size=1, max_size=12)
policies = st.sampled_from(["enforce", "work_conserving"])


def _run(
    batches: list[list[tuple[Channel, float, float]]],
    per_cycle: int,
    policy: Literal["enforce", "work_conserving"],
) -> tuple[DispatchPlanner, list[tuple[Channel, bool]], list[dict[Channel, int]], int]:
    planner = DispatchPlanner(
        BalancerConfig(window=WINDOW, per_cycle=per_cycle, strict_policy=policy)
    )
    cap = planner.config.creative_backlog_cap
    picks: list[tuple[Channel, bool]] = []
    waiting: list[dict[Channel, int]] = []  # what was waiting (queued or deferred) at each pick
    n = 0

    def cycle() -> list[tuple[Channel, bool]]:
        backlog = planner.backlog()
        out = []
        for dispatch in planner.plan_cycle():
            waiting.append(dict(backlog))
            backlog[dispatch.channel] -= 1
            out.append((dispatch.channel, dispatch.quota_breach))
        return out

    for batch in batches:
        for mode, urgency, novelty in batch:
            n += 1
            _, deferred = planner.submit(
                Task(f"t{n}", mode=mode, urgency=urgency, novelty_gap=novelty)
            )
            # The cap: a creative task enters the queue only within 35% of it.
            in_queue = planner.queued - planner.deferred
            creative_in_queue = planner.backlog()[C] - planner.deferred
            if mode is C and not deferred:
                assert creative_in_queue <= cap * in_queue + 1e-9
        picks.extend(cycle())
    # Drain: further cycles until nothing more can go.
    while planner.queued:
        more = cycle()
        if not more:
            break
        picks.extend(more)
    return planner, picks, waiting, n


@settings(max_examples=150, deadline=None)
@given(batches=loads, per_cycle=st.integers(1, 40), policy=policies)
def test_quotas_hold_over_every_window(
    batches: list[list[tuple[Channel, float, float]]],
    per_cycle: int,
    policy: Literal["enforce", "work_conserving"],
) -> None:
    planner, picks, waiting, n = _run(batches, per_cycle, policy)
    channels = [channel for channel, _ in picks]
    breach = [flag for _, flag in picks]
    if policy == "work_conserving":
        assert len(picks) == n
        assert planner.queued == 0
        # A breach happens only when nothing but strict work was waiting.
        for flag, before in zip(breach, waiting, strict=True):
            if flag:
                assert before[B] == 0
                assert before[C] == 0
        assert planner.breaches == sum(breach)
    else:
        assert not any(breach)
        # Whatever is left is strict work held by its quota.
        left = planner.backlog()
        assert left[B] == 0
        assert left[C] == 0
        assert len(picks) + left[S] == n
    for end in range(1, len(channels) + 1):
        window = channels[max(0, end - WINDOW) : end]
        if not any(breach[max(0, end - WINDOW) : end]):
            assert window.count(S) <= math.ceil(0.30 * len(window) - 1e-9)
        if end >= WINDOW:
            span = range(end - WINDOW, end)
            if all(waiting[i][C] for i in span):
                assert window.count(C) >= int(0.20 * WINDOW)
            if all(waiting[i][B] for i in span):
                # Creative goes ahead of its turn only to reach its minimum.
                assert window.count(C) <= window.count(B) + 1 + int(0.20 * WINDOW)


@settings(max_examples=100, deadline=None)
@given(
    creative_share=st.floats(0.0, 1.0),
    arrivals=st.integers(2, 20),
    per_cycle=st.integers(1, 20),
    cycles=st.integers(5, 40),
)
def test_creative_is_not_dispatched_above_its_share_of_the_load(
    creative_share: float, arrivals: int, per_cycle: int, cycles: int
) -> None:
    planner = DispatchPlanner(BalancerConfig(window=WINDOW, per_cycle=per_cycle))
    submitted = dict.fromkeys(Channel, 0)
    dispatched = dict.fromkeys(Channel, 0)
    n = 0
    for _ in range(cycles):
        creative = round(creative_share * arrivals)
        for i in range(arrivals):
            n += 1
            mode = C if i < creative else (B if i % 2 else S)
            submitted[mode] += 1
            planner.submit(Task(f"t{n}", mode=mode))
        for dispatch in planner.plan_cycle():
            dispatched[dispatch.channel] += 1
    total = sum(dispatched.values())
    if total and planner.backlog()[B]:
        # While balanced work waits, creative never takes more than its share of
        # the load, or half the dispatches (its round-robin turn beside balanced).
        load = submitted[C] / n
        assert dispatched[C] / total <= max(load, 0.5) + 1 / total
