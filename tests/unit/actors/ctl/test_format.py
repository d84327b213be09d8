"""The CLI's text: sparklines, aligned tables and the renderers of each reply (no node)."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.ctl import (
    ActorRow,
    Actors,
    AlertRow,
    Alerts,
    Heat,
    HeatRow,
    JobRow,
    Jobs,
    JobTrace,
    LeaseRow,
    Leases,
    LedgerRecords,
    MemberRow,
    OrderParameters,
    ParameterRow,
    RecordRow,
    Replayed,
    Status,
    Verified,
    sparkline,
    table,
)
from actors.ctl._format import (
    SPARKS,
    duration,
    json_line,
    plain,
    render_actors,
    render_alerts,
    render_heat,
    render_jobs,
    render_leases,
    render_records,
    render_replayed,
    render_status,
    render_top,
    render_trace,
    render_verified,
)

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


# -- sparkline ---------------------------------------------------------------------


def test_sparkline_spans_the_eight_levels_from_min_to_max() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([7, 0]) == "█▁"


def test_sparkline_of_a_flat_series_is_low_at_zero_and_middling_otherwise() -> None:
    assert sparkline([0.0, 0.0, 0.0]) == "▁▁▁"
    assert sparkline([3.0, 3.0]) == "▄▄"


def test_sparkline_keeps_the_last_width_points() -> None:
    assert sparkline([9, 9, 0, 1], width=2) == "▁█"
    assert sparkline([1, 2, 3], width=0) == ""
    assert sparkline([], width=5) == ""
    with pytest.raises(ValueError, match="width"):
        sparkline([1.0], width=-1)


def test_sparkline_shows_a_non_finite_value_as_a_gap() -> None:
    assert sparkline([0.0, math.nan, 1.0, math.inf]) == "▁ █ "
    assert sparkline([math.nan]) == " "


@given(st.lists(finite, max_size=60))
def test_sparkline_has_one_level_per_value_and_keeps_their_order(values: list[float]) -> None:
    line = sparkline(values)
    assert len(line) == len(values)
    assert set(line) <= set(SPARKS)
    levels = [SPARKS.index(c) for c in line]
    for (a, la), (b, lb) in zip(
        sorted(zip(values, levels, strict=True)),
        sorted(zip(values, levels, strict=True))[1:],
        strict=False,
    ):
        assert a <= b
        assert la <= lb  # a larger value never draws lower
    if values and min(values) != max(values):
        assert levels[values.index(min(values))] == 0
        assert levels[values.index(max(values))] == len(SPARKS) - 1


# -- tables ------------------------------------------------------------------------


def test_table_aligns_columns_text_left_and_numbers_right() -> None:
    text = table(["NAME", "COUNT"], [("a", 5), ("longer", 1234), ("b", None)])
    assert text.splitlines() == [
        "NAME    COUNT",
        "a           5",
        "longer   1234",
        "b           -",
    ]


def test_table_shows_bools_as_words_and_has_no_trailing_spaces() -> None:
    text = table(["X", "NOTE"], [(True, ""), (False, "z")])
    assert text.splitlines() == ["X    NOTE", "yes", "no   z"]


def test_table_refuses_a_row_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match="2 cells for 3 headers"):
        table(["A", "B", "C"], [(1, 2)])


@given(
    st.lists(st.tuples(st.text("abcxyz/_", max_size=12), st.integers(-(10**6), 10**6)), max_size=20)
)
def test_every_column_starts_at_the_same_offset_on_every_line(rows: list[tuple[str, int]]) -> None:
    lines = table(["NAME", "N"], rows).splitlines()
    assert len(lines) == len(rows) + 1
    width = max(len("NAME"), *(len(name) for name, _ in rows)) if rows else len("NAME")
    for line, (_, n) in zip(lines[1:], rows, strict=True):
        assert line.endswith(str(n))
        assert len(line) == len(lines[0])  # numbers right-aligned: every line as long
    assert lines[0].startswith("NAME".ljust(width) + "  ")


def test_duration_shows_the_two_largest_units() -> None:
    assert duration(4.25) == "4.2s"
    assert duration(65) == "1m 05s"
    assert duration(2 * 3600 + 5 * 60 + 9) == "2h 05m"
    assert duration(3 * 86400 + 4 * 3600) == "3d 4h"


# -- replies -----------------------------------------------------------------------

STATUS = Status(
    node="n1",
    address="tadpole://n1@127.0.0.1:7350",
    cluster="demo",
    version="1.2.3",
    uptime=65.0,
    actors=3,
    members=(
        MemberRow("n1", "tadpole://n1@127.0.0.1:7350", "up"),
        MemberRow("n2", "tadpole://n2@127.0.0.1:7351", "unreachable"),
    ),
    ledger_head=12,
)
JOB = JobRow("job-1", "completed", 1, True, "balanced", "", 1_700_000_000.0, 1_700_000_005.0)


def test_status_shows_the_node_then_a_table_of_members() -> None:
    lines = render_status(STATUS).splitlines()
    assert lines[0] == "node         n1"
    assert "uptime       1m 05s" in lines
    assert "ledger head  12" in lines
    assert lines[-3:] == [
        "MEMBER  STATE        ADDRESS",
        "n1      up           tadpole://n1@127.0.0.1:7350",
        "n2      unreachable  tadpole://n2@127.0.0.1:7351",
    ]


def test_json_of_a_reply_is_an_object_by_field_name_without_the_wire_tag() -> None:
    value = msgspec.json.decode(json_line(plain(STATUS)))
    assert value["node"] == "n1"
    assert "type" not in value
    assert value["members"][1] == {
        "node": "n2",
        "address": "tadpole://n2@127.0.0.1:7351",
        "state": "unreachable",
    }


def test_actors_table_has_the_mailbox_depths() -> None:
    actors = Actors((ActorRow("/user/admin", "Admin", "running", 3, 1024, 10, 0),))
    assert render_actors(actors).splitlines() == [
        "PATH         TYPE   STATE    MAILBOX  CAPACITY  PROCESSED  RESTARTS",
        "/user/admin  Admin  running        3      1024         10         0",
    ]


def test_jobs_count_the_unread_ones() -> None:
    jobs = Jobs("/user/jobs", (JOB, msgspec.structs.replace(JOB, job_id="job-2", unread=False)))
    text = render_jobs(jobs)
    assert text.endswith("2 jobs, 1 unread (supervisor /user/jobs)")
    assert "job-1  completed" in text
    assert render_jobs(Jobs("/user/jobs", ())) == "0 jobs, 0 unread (supervisor /user/jobs)"


def test_a_trace_lists_each_transition_from_the_ledger() -> None:
    payload = {"job_id": "job-1", "from": "queued", "to": "running", "reason": ""}
    event = RecordRow(7, 0, 1_700_000_001.0, "roles.job", payload, "00", "11")
    text = render_trace(JobTrace("job-1", JOB, (event,)))
    assert "job        job-1" in text
    assert text.splitlines()[-1].endswith("roles.job  queued -> running")
    assert render_trace(JobTrace("job-9", None, ())).endswith("no ledger records about this job")


def test_leases_heat_and_alerts_tables() -> None:
    leases = Leases("/user/t", (LeaseRow("a", "agent-1", 4, 2.5),))
    assert render_leases(leases).splitlines()[1].split() == ["a", "agent-1", "4", "2.5s"]
    assert render_leases(Leases("/user/t", ())) == "no leases (manager /user/t)"
    heat = Heat("/user/t", (HeatRow("a", 3.25, True), HeatRow("b", 0.5, False)))
    assert render_heat(heat).splitlines()[1:] == ["a          3.25  ALERT", "b           0.5"]
    assert render_alerts(Alerts(())) == "no active alerts"
    alert = AlertRow("lease_churn", "critical", 12.0, 10.0, "lease churn high", 1_700_000_000.0)
    assert "lease_churn  critical" in render_alerts(Alerts((alert,)))


def test_ledger_renderers_match_the_ledger_clis_wording() -> None:
    ok = Verified(True, 2, 1, 2, "ab" * 32, 0, 0, None, None)
    assert render_verified(ok) == f"ok: 2 records (seq 1..2), head {'ab' * 32}"
    bad = msgspec.structs.replace(ok, ok=False, fault="first bad record is seq 2: x", fault_seq=2)
    assert render_verified(bad) == "corrupt: first bad record is seq 2: x"
    assert render_replayed(Replayed("d1g", 2, 0, 2, None, None)) == "d1g"
    assert render_records(LedgerRecords(())) == "no records"
    long = RecordRow(1, 0, 0.0, "k", {"text": "x" * 200}, "00", "11")
    line = render_records(LedgerRecords((long,))).splitlines()[1]
    assert line.endswith("...")
    assert len(line) < 140


def test_top_frame_draws_a_sparkline_per_parameter_and_the_busiest_actors_first() -> None:
    params = OrderParameters(
        (ParameterRow("queue_oscillation", 7.0, (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0)),),
        (AlertRow("queue_oscillation", "warning", 7.0, 5.0, "rising", 0.0),),
    )
    actors = Actors(
        (
            ActorRow("/user/a", "A", "running", 1, 10, 0, 0),
            ActorRow("/user/b", "B", "running", 9, 10, 0, 0),
        )
    )
    frame = render_top(STATUS, actors, params, width=8, rows=1)
    assert frame.splitlines()[0].startswith(
        "n1  tadpole://n1@127.0.0.1:7350  up 1m 05s  members 1/2"
    )
    assert "queue_oscillation      7  ▁▂▃▄▅▆▇█" in frame
    assert "ALERT warning queue_oscillation: rising" in frame
    assert "/user/b" in frame
    assert "/user/a" not in frame
    none = render_top(STATUS, actors, None, width=8, rows=5)
    assert "order parameters: this node runs no stability monitor" in none
