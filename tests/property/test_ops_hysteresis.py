"""No flapping: an alert raises and clears only when its value crossed the whole band.

For any sequence of values (and trends), the events of an
:class:`~actors.ops.AlertTracker` alternate raise ... clear; a critical
alert is raised only at the level, a warning only with the trend past
``clear_at``; a clear only at ``clear_at``; and between a raise and the
next clear the value went from past ``clear_at``'s far side to
``clear_at``, so the number of alerts is bounded by the band's crossings.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.ops import CRITICAL, WARNING, Alert, AlertCleared, AlertTracker, Threshold

values = st.floats(min_value=-50.0, max_value=50.0, allow_nan=False)


@given(
    steps=st.lists(st.tuples(values, st.floats(-5.0, 5.0)), max_size=200),
    raise_at=st.floats(1.0, 20.0),
    gap=st.floats(0.1, 15.0),
    trend=st.none() | st.floats(0.1, 3.0),
    below=st.booleans(),
)
def test_alerts_never_flap(
    steps: list[tuple[float, float]], raise_at: float, gap: float, trend: float | None, below: bool
) -> None:
    sign = -1.0 if below else 1.0
    threshold = Threshold(
        "p",
        raise_at=sign * raise_at,
        clear_at=sign * (raise_at - gap),
        trend=trend,
        direction="below" if below else "above",
    )
    tracker = AlertTracker(threshold)
    active: Alert | None = None
    new_raises = calm_visits = 0
    calm_since_raise = True
    for now, (raw, slope) in enumerate(steps):
        value, seen = sign * raw, raw  # seen is the value in "above" terms
        event = tracker.observe(value, sign * slope, float(now))
        if isinstance(event, Alert):
            if event.level == CRITICAL:
                assert seen >= raise_at
            else:
                assert event.level == WARNING
                assert trend is not None
                assert slope >= trend
                assert seen > raise_at - gap
                assert active is None  # a warning never follows another alert
            assert active is None or (active.level == WARNING and event.level == CRITICAL)
            if active is None:
                # a new alert: the value has been back on the calm side since the last one
                assert calm_since_raise
                new_raises += 1
                calm_since_raise = False
            active = event
        elif isinstance(event, AlertCleared):
            assert active is not None
            assert seen <= raise_at - gap
            assert event.raised_at == active.raised_at
            active = None
        elif active is None:
            assert seen < raise_at  # the level always raises
        else:
            assert seen > raise_at - gap  # a calm value always clears
        if seen <= raise_at - gap:
            calm_since_raise = True
            calm_visits += 1
        assert tracker.active == active
    assert new_raises <= calm_visits + 1  # at most one alert per return to calm
