"""The dashboard's content: sparklines, the page and the state each event carries.

Everything here is pure (no I/O): the page is rendered on the server from a
:class:`~actors.web.DashboardSource`, and each Server-Sent Event carries the
same state as JSON, with each sparkline's SVG path already computed, so the
page's script only sets attributes and text (``dashboard.js``, no build step).
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Final

import msgspec

from ._source import AlertRow, JobRow, MemberRow

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ._source import DashboardSource

__all__ = (
    "SPARK_HEIGHT",
    "SPARK_WIDTH",
    "State",
    "event_of",
    "render_page",
    "sparkline_path",
    "state_of",
)

SPARK_WIDTH: Final = 120.0
SPARK_HEIGHT: Final = 24.0
_PAD: Final = 1.0  # keeps the stroke inside the box at the extremes


def sparkline_path(
    values: Sequence[float], width: float = SPARK_WIDTH, height: float = SPARK_HEIGHT
) -> str:
    """The SVG path ``d`` of ``values`` drawn left to right in a ``width`` x ``height`` box.

    The lowest value touches the bottom, the highest the top; a constant series
    is a flat line across the middle; non-finite values are skipped; no value,
    no path (``""``).
    """
    points = [v for v in values if math.isfinite(v)]
    if not points:
        return ""
    if len(points) == 1:
        points = points * 2
    low, high = min(points), max(points)
    span = high - low
    usable = height - 2 * _PAD
    step = width / (len(points) - 1)
    parts = []
    for i, value in enumerate(points):
        x = i * step
        y = height / 2 if span == 0 else _PAD + usable * (high - value) / span
        parts.append(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}")
    return " ".join(parts)


class Parameter(msgspec.Struct, frozen=True):
    name: str
    value: float | None
    """``None`` when the value is not finite (JSON has no NaN)."""
    text: str
    path: str


class State(msgspec.Struct, frozen=True):
    """What the page shows; each Server-Sent Event carries one, as JSON."""

    members: tuple[MemberRow, ...]
    parameters: tuple[Parameter, ...]
    alerts: tuple[AlertRow, ...]
    jobs: tuple[JobRow, ...]


def _text(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def state_of(source: DashboardSource, points: int = 60) -> State:
    """The source's state now, each sparkline over its last ``points`` values."""
    parameters = tuple(
        Parameter(
            name,
            value if math.isfinite(value) else None,
            _text(value),
            sparkline_path(list(source.history(name))[-points:]),
        )
        for name, value in sorted(source.parameters().items())
    )
    return State(
        tuple(source.members()),
        parameters,
        tuple(source.alerts()),
        tuple(source.jobs()),
    )


_encode = msgspec.json.Encoder().encode


def event_of(state: State) -> bytes:
    """``state`` as one Server-Sent Event: a single ``data:`` line of JSON.

    JSON escapes every line break inside strings, so no member name or alert
    message can end the line early or inject a field of its own.
    """
    return b"data: " + _encode(state) + b"\n\n"


# -- the page --------------------------------------------------------------------------

_STYLE: Final = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2430; }
h1 { font-size: 1.3rem; } h2 { font-size: 1.05rem; margin-top: 1.5rem; }
table { border-collapse: collapse; min-width: 24rem; }
th, td { text-align: left; padding: .2rem .8rem .2rem 0; border-bottom: 1px solid #e3e6ea; }
.parameter { display: inline-block; margin: 0 1.5rem .8rem 0; }
.parameter svg { display: block; background: #f5f7fa; }
.parameter path { fill: none; stroke: #2563eb; stroke-width: 1.5; }
.value { font-variant-numeric: tabular-nums; font-weight: 600; }
tr.critical td { color: #b91c1c; font-weight: 600; } tr.warning td { color: #b45309; }
td.none { color: #6b7280; font-style: italic; }
"""

_MEMBER_KEYS: Final = ("node", "address", "status")
_JOB_KEYS: Final = ("job", "state", "detail")
_ALERT_KEYS: Final = ("level", "parameter", "value", "threshold", "message")


def _cell(value: object) -> str:
    shown = _text(value) if isinstance(value, float) else str(value)
    return f"<td>{html.escape(shown)}</td>"


def _rows(rows: Iterable[msgspec.Struct], keys: Sequence[str], empty: str) -> str:
    lines = []
    for row in rows:
        level = getattr(row, "level", "")
        css = f' class="{html.escape(level)}"' if level else ""
        cells = "".join(_cell(getattr(row, key)) for key in keys)
        lines.append(f"<tr{css}>{cells}</tr>")
    if not lines:
        lines.append(f'<tr><td class="none" colspan="{len(keys)}">{html.escape(empty)}</td></tr>')
    return "\n".join(lines)


def _table(ident: str, keys: Sequence[str], body: str) -> str:
    head = "".join(f"<th>{key}</th>" for key in keys)
    return (
        f'<table><thead><tr>{head}</tr></thead><tbody id="{ident}" '
        f'data-keys="{" ".join(keys)}">\n{body}\n</tbody></table>'
    )


def _parameter(p: Parameter) -> str:
    name = html.escape(p.name)
    return (
        f'<div class="parameter" data-parameter="{name}">'
        f'<div>{name} <span class="value">{html.escape(p.text)}</span></div>'
        f'<svg viewBox="0 0 {SPARK_WIDTH:g} {SPARK_HEIGHT:g}" width="{SPARK_WIDTH * 2:g}" '
        f'height="{SPARK_HEIGHT * 2:g}" role="img" aria-label="{name}">'
        f'<path d="{html.escape(p.path)}"/></svg></div>'
    )


def render_page(state: State, title: str = "Tadpole") -> str:
    """The dashboard's HTML: ``state`` now; ``dashboard.js`` keeps it live."""
    parameters = "\n".join(_parameter(p) for p in state.parameters)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{_STYLE}</style>
<script src="dashboard.js" defer></script></head>
<body><h1>{html.escape(title)} <small id="live">connecting</small></h1>
<h2>Order parameters</h2>
<div id="parameters">{parameters or '<p class="none">no order parameters yet</p>'}</div>
<h2>Alerts</h2>
{_table("alerts", _ALERT_KEYS, _rows(state.alerts, _ALERT_KEYS, "no alerts"))}
<h2>Members</h2>
{_table("members", _MEMBER_KEYS, _rows(state.members, _MEMBER_KEYS, "no members"))}
<h2>Jobs</h2>
{_table("jobs", _JOB_KEYS, _rows(state.jobs, _JOB_KEYS, "no jobs"))}
</body></html>
"""


SCRIPT: Final = (
    """\
"use strict";
// Keeps the dashboard live: each Server-Sent Event carries the whole state.
const NS = "http://www.w3.org/2000/svg";
function sparkline(p) {
  let box = [...document.querySelectorAll("[data-parameter]")]
    .find((el) => el.dataset.parameter === p.name);
  if (!box) {
    box = document.createElement("div");
    box.className = "parameter";
    box.dataset.parameter = p.name;
    const label = document.createElement("div");
    const value = document.createElement("span");
    value.className = "value";
    label.append(p.name + " ", value);
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 WIDTH HEIGHT");
    svg.setAttribute("width", "WIDTH2");
    svg.setAttribute("height", "HEIGHT2");
    svg.append(document.createElementNS(NS, "path"));
    box.append(label, svg);
    document.querySelector("#parameters > p.none")?.remove();
    document.getElementById("parameters").append(box);
  }
  box.querySelector(".value").textContent = p.text;
  box.querySelector("path").setAttribute("d", p.path);
}
function fill(id, rows, empty) {
  const body = document.getElementById(id);
  const keys = body.dataset.keys.split(" ");
  const lines = rows.map((row) => {
    const tr = document.createElement("tr");
    if (row.level) tr.className = row.level;
    for (const key of keys) {
      const td = document.createElement("td");
      const v = row[key];
      td.textContent = typeof v === "number" ? Number(v.toPrecision(4)) : v;
      tr.append(td);
    }
    return tr;
  });
  if (!lines.length) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.className = "none";
    td.colSpan = keys.length;
    td.textContent = empty;
    tr.append(td);
    lines.push(tr);
  }
  body.replaceChildren(...lines);
}
const events = new EventSource("events");
events.onopen = () => { document.getElementById("live").textContent = "live"; };
events.onerror = () => { document.getElementById("live").textContent = "reconnecting"; };
events.onmessage = (event) => {
  const state = JSON.parse(event.data);
  state.parameters.forEach(sparkline);
  fill("alerts", state.alerts, "no alerts");
  fill("members", state.members, "no members");
  fill("jobs", state.jobs, "no jobs");
};
""".replace("WIDTH2", f"{SPARK_WIDTH * 2:g}")
    .replace("HEIGHT2", f"{SPARK_HEIGHT * 2:g}")
    .replace("WIDTH", f"{SPARK_WIDTH:g}")
    .replace("HEIGHT", f"{SPARK_HEIGHT:g}")
)
"""The page's whole script (served as ``dashboard.js``)."""
