"""Turning the admin actor's replies into text: aligned tables, sparklines, JSON.

Pure functions of the replies (no I/O), so each output is tested without a
node. Tables left-align text and right-align numbers; every row is one line.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Final

import msgspec

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ._queries import (
        Actors,
        AlertRow,
        Alerts,
        Heat,
        JobRow,
        Jobs,
        JobTrace,
        Leases,
        LedgerRecords,
        OrderParameters,
        Replayed,
        Status,
        Verified,
    )

__all__ = [
    "SPARKS",
    "duration",
    "json_line",
    "plain",
    "render_actors",
    "render_alerts",
    "render_heat",
    "render_job",
    "render_jobs",
    "render_leases",
    "render_records",
    "render_replayed",
    "render_status",
    "render_top",
    "render_trace",
    "render_verified",
    "sparkline",
    "table",
]

SPARKS: Final = "▁▂▃▄▅▆▇█"
"""The eight levels of a sparkline, lowest first."""

_json_encode = msgspec.json.Encoder().encode


def sparkline(values: Sequence[float], width: int | None = None) -> str:
    """One character per value (the last ``width`` of them), scaled from min to max.

    A flat series is drawn at the bottom (``▁``) when it is zero and in the
    middle (``▄``) otherwise; a value that is not finite is a space.
    """
    if width is not None:
        if width < 0:
            raise ValueError(f"width must be >= 0, not {width}")
        values = list(values)[-width:] if width else []
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return " " * len(values)
    low, high = min(finite), max(finite)
    span = high - low
    top = len(SPARKS) - 1
    chars = []
    for value in values:
        if not math.isfinite(value):
            chars.append(" ")
        elif span == 0:
            chars.append(SPARKS[0] if value == 0 else SPARKS[top // 2])
        else:
            chars.append(SPARKS[min(top, int((value - low) / span * top + 0.5))])
    return "".join(chars)


def _cell(value: Any) -> str:  # Any: whatever a row holds
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _numeric(value: Any) -> bool:  # Any: whatever a row holds
    return isinstance(value, int | float) and not isinstance(value, bool)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """An aligned text table: a header line, then one line per row (no trailing spaces).

    Numbers are right-aligned, everything else left-aligned; ``None`` shows as ``-``.
    """
    rows = [list(row) for row in rows]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"a row has {len(row)} cells for {len(headers)} headers: {row!r}")
    texts = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for text in texts:
        widths = [max(w, len(c)) for w, c in zip(widths, text, strict=True)]
    right = [
        bool(rows) and all(_numeric(row[i]) or row[i] is None for row in rows)
        for i in range(len(headers))
    ]
    lines = []
    for cells in [list(headers), *texts]:
        parts = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _fields(pairs: Sequence[tuple[str, Any]]) -> str:
    width = max(len(k) for k, _ in pairs)
    return "\n".join(f"{k.ljust(width)}  {_cell(v)}".rstrip() for k, v in pairs)


def duration(seconds: float) -> str:
    """``3d 4h``, ``2h 05m``, ``1m 05s``, ``4.2s``: the two largest units."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp))


def plain(value: Any) -> Any:  # Any: a reply or part of one in, JSON-ready builtins out
    """A reply as JSON-ready values: structs as objects by field name (never the
    wire's arrays), tuples as lists, no wire tag."""
    if isinstance(value, msgspec.Struct):
        return {name: plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    return msgspec.to_builtins(value)


def json_line(value: Any) -> str:  # Any: JSON-ready builtins
    """One line of JSON."""
    return _json_encode(value).decode()


# -- one renderer per reply -------------------------------------------------------------


def render_status(status: Status) -> str:
    head = _fields(
        [
            ("node", status.node),
            ("address", status.address),
            ("cluster", status.cluster),
            ("version", status.version),
            ("uptime", duration(status.uptime)),
            ("actors", status.actors),
            ("ledger head", status.ledger_head),
        ]
    )
    members = table(
        ["MEMBER", "STATE", "ADDRESS"], [(m.node, m.state, m.address) for m in status.members]
    )
    return f"{head}\n\n{members}"


def render_actors(actors: Actors) -> str:
    return table(
        ["PATH", "TYPE", "STATE", "MAILBOX", "CAPACITY", "PROCESSED", "RESTARTS"],
        [
            (a.path, a.actor_type, a.state, a.mailbox, a.capacity, a.processed, a.restarts)
            for a in actors.actors
        ],
    )


def _job_rows(jobs: Sequence[JobRow]) -> list[tuple[Any, ...]]:
    return [
        (j.job_id, j.state, j.attempt, j.unread, j.channel, _when(j.finished_at), j.reason)
        for j in jobs
    ]


_JOB_HEADERS: Final = ["JOB", "STATE", "ATTEMPT", "UNREAD", "CHANNEL", "FINISHED", "REASON"]


def render_jobs(jobs: Jobs) -> str:
    unread = len(jobs.unread)
    summary = f"{len(jobs.jobs)} jobs, {unread} unread (supervisor {jobs.supervisor})"
    if not jobs.jobs:
        return summary
    return f"{table(_JOB_HEADERS, _job_rows(jobs.jobs))}\n\n{summary}"


def render_job(job: JobRow) -> str:
    return _fields(
        [
            ("job", job.job_id),
            ("state", job.state),
            ("attempt", job.attempt),
            ("unread", job.unread),
            ("channel", job.channel),
            ("submitted", _when(job.submitted_at)),
            ("finished", _when(job.finished_at)),
            ("reason", job.reason or "-"),
        ]
    )


def _detail(payload: Any) -> str:  # Any: a decoded ledger payload
    if isinstance(payload, dict) and "from" in payload and "to" in payload:
        text = f"{payload['from'] or 'new'} -> {payload['to']}"
        reason = payload.get("reason")
        return f"{text} ({reason})" if reason else text
    text = json_line(payload)
    return text if len(text) <= 80 else text[:77] + "..."


def render_trace(trace: JobTrace) -> str:
    head = render_job(trace.job) if trace.job is not None else f"job  {trace.job_id}"
    if not trace.events:
        return f"{head}\n\nno ledger records about this job"
    events = table(
        ["SEQ", "TIME", "KIND", "DETAIL"],
        [(e.seq, _when(e.timestamp), e.kind, _detail(e.payload)) for e in trace.events],
    )
    return f"{head}\n\n{events}"


def render_leases(leases: Leases) -> str:
    if not leases.leases:
        return f"no leases (manager {leases.manager})"
    return table(
        ["TERRITORY", "HOLDER", "TOKEN", "EXPIRES IN"],
        [(x.territory, x.holder, x.token, f"{x.expires_in:.1f}s") for x in leases.leases],
    )


def render_heat(heat: Heat) -> str:
    if not heat.territories:
        return f"no heat (manager {heat.manager})"
    return table(
        ["TERRITORY", "HEAT", "ALERT"],
        [(h.territory, round(h.heat, 3), "ALERT" if h.alerted else "") for h in heat.territories],
    )


def render_alerts(alerts: Alerts) -> str:
    if not alerts.alerts:
        return "no active alerts"
    return table(
        ["PARAMETER", "LEVEL", "VALUE", "THRESHOLD", "RAISED", "MESSAGE"],
        [
            (a.parameter, a.level, a.value, a.threshold, _when(a.raised_at), a.message)
            for a in alerts.alerts
        ],
    )


def render_records(records: LedgerRecords) -> str:
    if not records.records:
        return "no records"
    return table(
        ["SEQ", "EPOCH", "TIME", "KIND", "PAYLOAD"],
        [(r.seq, r.epoch, _when(r.timestamp), r.kind, _detail(r.payload)) for r in records.records],
    )


def render_verified(verified: Verified) -> str:
    """What ``python -m actors.ledger verify`` prints for the same report."""
    if verified.fault is not None:
        return f"corrupt: {verified.fault}"
    anchored = (
        f", anchored on the checkpoint at seq {verified.base_seq}" if verified.base_seq else ""
    )
    return (
        f"ok: {verified.records} records (seq {verified.first_seq}..{verified.head_seq}), "
        f"head {verified.head_hash}{anchored}"
    )


def render_replayed(replayed: Replayed) -> str:
    """The digest, as ``python -m actors.ledger replay`` prints it."""
    return replayed.digest


def render_top(
    status: Status, actors: Actors, parameters: OrderParameters | None, *, width: int, rows: int
) -> str:
    """One frame of ``top``: the node, its order parameters as sparklines, the busiest actors."""
    up = sum(1 for m in status.members if m.state == "up")
    lines = [
        f"{status.node}  {status.address}  up {duration(status.uptime)}  "
        f"members {up}/{len(status.members)}  actors {status.actors}",
        "",
    ]
    if parameters is None:
        lines.append("order parameters: this node runs no stability monitor")
    else:
        lines.append(
            table(
                ["PARAMETER", "VALUE", "HISTORY"],
                [(p.name, p.value, sparkline(p.history, width)) for p in parameters.parameters],
            )
        )
        if parameters.alerts:
            lines += ["", _alert_lines(parameters.alerts)]
    busiest = sorted(actors.actors, key=lambda a: (-a.mailbox, a.path))[:rows]
    lines += [
        "",
        table(
            ["PATH", "TYPE", "MAILBOX", "PROCESSED", "RESTARTS"],
            [(a.path, a.actor_type, a.mailbox, a.processed, a.restarts) for a in busiest],
        ),
    ]
    return "\n".join(lines)


def _alert_lines(alerts: Sequence[AlertRow]) -> str:
    return "\n".join(f"ALERT {a.level} {a.parameter}: {a.message}" for a in alerts)
