"""The dashboard's content: sparkline paths, the page, the state, the node's source."""

from __future__ import annotations

import dataclasses
import math
import re

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from actors.web import JobRow, MemberRow, NodeSource, sparkline_path
from actors.web._dashboard import (
    SCRIPT,
    SPARK_HEIGHT,
    SPARK_WIDTH,
    State,
    event_of,
    render_page,
    state_of,
)
from tests.unit.actors.web.fakes import ALERT, FakeSource, calm_source

_POINT = re.compile(r"^[ML](-?\d+\.\d),(-?\d+\.\d)$")


def _points(path: str) -> list[tuple[float, float]]:
    points = []
    for part in path.split(" "):
        match = _POINT.match(part)
        assert match, f"not a path step: {part!r} in {path!r}"
        points.append((float(match[1]), float(match[2])))
    return points


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


@given(st.lists(finite, min_size=1, max_size=200))
def test_a_sparkline_stays_in_its_box_and_has_one_point_per_value(values: list[float]) -> None:
    points = _points(sparkline_path(values))
    assert len(points) == max(2, len(values))
    assert points[0][0] == 0.0
    assert points[-1][0] == SPARK_WIDTH
    xs = [x for x, _ in points]
    assert xs == sorted(xs)
    assert all(0.0 <= y <= SPARK_HEIGHT for _, y in points)


@given(st.lists(finite, min_size=2, max_size=50, unique=True))
def test_the_highest_value_is_drawn_highest(values: list[float]) -> None:
    points = _points(sparkline_path(values))
    ys = [y for _, y in points]
    # SVG's y grows downward: the highest value has the smallest y.
    assert ys[values.index(max(values))] == min(ys)
    assert ys[values.index(min(values))] == max(ys)


@given(finite, st.integers(min_value=1, max_value=30))
def test_a_constant_series_is_a_flat_line_across_the_middle(value: float, n: int) -> None:
    assert {y for _, y in _points(sparkline_path([value] * n))} == {SPARK_HEIGHT / 2}


def test_no_value_no_path_and_non_finite_values_are_skipped() -> None:
    assert sparkline_path([]) == ""
    assert sparkline_path([math.nan, math.inf]) == ""
    assert sparkline_path([1.0, math.nan, 2.0]) == sparkline_path([1.0, 2.0])


def test_state_carries_each_parameter_with_its_sparkline_over_the_last_points() -> None:
    source = calm_source()
    for i in range(100):
        source.record("lease_churn", float(i))
    state = state_of(source, points=10)
    names = [p.name for p in state.parameters]
    assert names == sorted(names) == ["lease_churn", "message_rate_variance", "queue_oscillation"]
    churn = state.parameters[0]
    assert churn.value == 99.0
    assert churn.text == "99"
    assert churn.path == sparkline_path([float(i) for i in range(90, 100)])
    assert state.members == tuple(source.member_rows)
    assert state.jobs == (JobRow("job-1", "running", "3/10 tasks"),)


def test_state_is_json_even_with_a_non_finite_parameter() -> None:
    source = FakeSource(values={"x": [1.0, math.nan]})
    state = state_of(source)
    decoded = msgspec.json.decode(msgspec.json.encode(state), type=State)
    assert decoded.parameters[0].value is None
    assert decoded.parameters[0].text == "nan"


def test_the_page_shows_every_part_and_escapes_what_it_shows() -> None:
    source = calm_source()
    source.member_rows.append(MemberRow("<script>alert(1)</script>", "tcp://x:1", "unreachable"))
    source.alert_rows.append(ALERT)
    page = render_page(state_of(source), title="node <a>")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>node &lt;a&gt;</title>" in page
    assert 'data-parameter="queue_oscillation"' in page
    assert sparkline_path([1.0, 1.0, 2.0]) in page
    assert '<tr class="critical">' in page
    assert "queue oscillation 9.5 is over 5" in page
    assert "job-1" in page
    # One script, from the server, no inline code: the page's CSP allows only 'self'.
    assert page.count("<script") == 1
    assert '<script src="dashboard.js" defer></script>' in page


def test_an_empty_page_says_so() -> None:
    page = render_page(state_of(FakeSource()))
    for text in ("no order parameters yet", "no alerts", "no members", "no jobs"):
        assert text in page


def test_the_script_has_its_sizes_filled_in_and_no_placeholders() -> None:
    assert "WIDTH" not in SCRIPT
    assert "HEIGHT" not in SCRIPT
    assert f'"0 0 {SPARK_WIDTH:g} {SPARK_HEIGHT:g}"' in SCRIPT


@dataclasses.dataclass(frozen=True)
class _Member:
    node: str
    address: str
    reachable: bool


@dataclasses.dataclass(frozen=True)
class _Alert:  # the fields of actors.ops.Alert
    parameter: str
    level: str
    value: float
    threshold: float
    message: str
    raised_at: float


class _Monitor:  # the shape of actors.ops.StabilityMonitor
    def snapshot(self) -> dict[str, float]:
        return {"lease_churn": 3.0}

    def history(self, name: str) -> tuple[float, ...]:
        return (1.0, 2.0, 3.0) if name == "lease_churn" else ()

    def active_alerts(self) -> tuple[_Alert, ...]:
        return (_Alert("lease_churn", "warning", 3.0, 2.5, "churn rising", 12.0),)


def test_the_node_source_reads_the_cluster_the_monitor_and_the_jobs() -> None:
    members = (_Member("a", "tcp://a:1", True), _Member("b", "tcp://b:2", False))
    source = NodeSource(
        members=lambda: members,
        monitor=_Monitor(),
        jobs=lambda: [JobRow("j", "queued")],
    )
    assert list(source.members()) == [
        MemberRow("a", "tcp://a:1", "up"),
        MemberRow("b", "tcp://b:2", "unreachable"),
    ]
    assert source.parameters() == {"lease_churn": 3.0}
    assert list(source.history("lease_churn")) == [1.0, 2.0, 3.0]
    (alert,) = source.alerts()
    assert (alert.parameter, alert.level, alert.threshold) == ("lease_churn", "warning", 2.5)
    assert list(source.jobs()) == [JobRow("j", "queued")]


def test_a_node_source_without_parts_shows_nothing() -> None:
    source = NodeSource()
    state = state_of(source)
    assert state == State((), (), (), ())
    assert list(source.history("anything")) == []


text = st.text(st.characters(codec="utf-8"), max_size=40)


@given(
    st.lists(st.builds(MemberRow, text, text, text), max_size=4),
    st.lists(st.builds(JobRow, text, text, text), max_size=4),
    st.dictionaries(text, st.lists(finite, min_size=1, max_size=5), max_size=4),
)
def test_an_event_is_one_data_line_whatever_the_text_it_carries(
    members: list[MemberRow], jobs: list[JobRow], values: dict[str, list[float]]
) -> None:
    # The event stream format (WHATWG HTML, "server-sent events"): a field ends at
    # CR, LF or CRLF and an event at a blank line, so a line break inside a name
    # must never reach the wire raw.
    state = state_of(FakeSource(member_rows=members, values=values, job_rows=jobs))
    event = event_of(state)
    assert event.startswith(b"data: ")
    assert event.endswith(b"\n\n")
    line = event[len(b"data: ") : -2]
    assert b"\n" not in line
    assert b"\r" not in line
    assert msgspec.json.decode(line, type=State) == state
