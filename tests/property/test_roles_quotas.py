"""Hypothesis: the balancer's quotas hold over any window of generated tasks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.roles import BalancerConfig, Channel, DispatchPlanner, Task

WINDOW = 20

task_inputs = st.tuples(
    st.sampled_from(list(Channel)),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
)
batches = st.lists(st.lists(task_inputs, max_size=30), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(batches=batches, per_cycle=st.integers(1, 40))
def test_quotas_hold_over_every_window(
    batches: list[list[tuple[Channel, float, float]]], per_cycle: int
) -> None:
    planner = DispatchPlanner(BalancerConfig(window=WINDOW, per_cycle=per_cycle))
    dispatched: list[tuple[Channel, bool]] = []
    creative_waiting: list[bool] = []
    only_strict: list[bool] = []
    n = 0
    for batch in batches:
        for mode, urgency, novelty in batch:
            n += 1
            planner.submit(Task(f"t{n}", mode=mode, urgency=urgency, novelty_gap=novelty))
        while planner.queued:
            backlog = planner.backlog()
            cycle = planner.plan_cycle()
            # Replay the backlog dispatch by dispatch to know what was waiting at each pick.
            for dispatch in cycle:
                creative_waiting.append(backlog[Channel.CREATIVE] > 0)
                only_strict.append(
                    backlog[Channel.BALANCED] == 0 and backlog[Channel.CREATIVE] == 0
                )
                backlog[dispatch.channel] -= 1
                dispatched.append((dispatch.channel, dispatch.relaxed))
            if not cycle:
                break
    assert planner.queued == 0
    assert len(dispatched) == n
    channels = [channel for channel, _ in dispatched]
    relaxed = [flag for _, flag in dispatched]
    # A relaxed dispatch happens only when nothing but strict work was waiting.
    assert all(only for only, flag in zip(only_strict, relaxed, strict=True) if flag)
    for end in range(WINDOW, len(channels) + 1):
        window = channels[end - WINDOW : end]
        if not any(relaxed[end - WINDOW : end]):
            assert window.count(Channel.STRICT) <= 0.30 * WINDOW + 1e-9
        if all(creative_waiting[end - WINDOW : end]):
            assert window.count(Channel.CREATIVE) >= int(0.20 * WINDOW)
