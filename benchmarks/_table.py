"""Collect the JSON lines the benchmarks print into one Markdown table.

Reads JSON lines (one figure each, as ``_common.emit`` writes them; other
lines are ignored) from the files given, and writes ``benchmarks/results.md``
and the table section of ``docs/performance.md`` (between its markers), with
the command, the machine and the date.

Run: ``python benchmarks/_table.py --command "make bench" out1.jsonl out2.jsonl ...``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.md"
PAGE = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench-table:begin -->", "<!-- bench-table:end -->"
_CONTEXT_KEYS = (
    "records",
    "population",
    "askers",
    "actors",
    "appenders",
    "mode",
    "actor",
    "peer",
    "timeout",
    "voters",
)


def read_lines(paths: list[str]) -> list[dict[str, Any]]:
    figures = []
    for path in paths:
        for line in Path(path).read_text().splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "figure" in record:
                record["_source"] = Path(path).stem
                figures.append(normalise(record))
    return figures


_LOWER_IS_BETTER = re.compile(r"^(s|ms|us|ns|bytes)\b")


def normalise(record: dict[str, Any]) -> dict[str, Any]:
    """Make ``ratio`` > 1 mean better for us on every line.

    Most benches already print baseline/ours for times and bytes; the ones
    that print ours/baseline (bench_ledger's replay, bench_stealing's waits)
    are turned round here, recognised by their ratio equalling value/baseline.
    """
    value, baseline, ratio = record.get("value"), record.get("baseline"), record.get("ratio")
    numbers = all(isinstance(x, int | float) for x in (value, baseline, ratio))
    if not numbers or not value or not baseline:
        return record
    if (
        _LOWER_IS_BETTER.match(str(record.get("unit", "")))
        and abs(ratio - value / baseline) < 0.01 * abs(ratio)
        and abs(value - baseline) > 1e-9
    ):
        record["ratio"] = round(baseline / value, 3)
        if isinstance(record.get("paired_ratio"), int | float) and record["paired_ratio"]:
            record["paired_ratio"] = round(1 / record["paired_ratio"], 3)
    return record


def number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float | int):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}"
    return str(value)


def context(record: dict[str, Any]) -> str:
    return ", ".join(f"{k}={record[k]}" for k in _CONTEXT_KEYS if record.get(k) is not None)


def target(record: dict[str, Any]) -> str:
    if record.get("target_ratio") is not None:
        return f"ratio >= {record['target_ratio']}"
    if record.get("target") is not None:
        return str(record["target"])
    return ""


def row(record: dict[str, Any]) -> str:
    cells = [
        record["_source"],
        f"`{record['figure']}`",
        record.get("loop", ""),
        context(record),
        f"{number(record.get('value'))} {record.get('unit', '')}".strip(),
        f"{number(record.get('baseline'))}",
        record.get("baseline_name") or "",
        number(record.get("ratio")),
        number(record.get("paired_ratio")),
        target(record),
    ]
    return "| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    return out.stdout.strip() or "unknown"


def table(figures: list[dict[str, Any]], command: str) -> str:
    skipped = [f for f in figures if f["figure"] == "peer_skipped"]
    measured = [f for f in figures if f["figure"] != "peer_skipped"]
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Command: `{command}` — commit {commit()}, {now}.",
        "",
        f"Machine: {machine()}.",
        "",
        "`ratio` is ours against the baseline measured in the same run, so that"
        " more than 1 is better for us whatever the unit (for times and bytes it"
        " is baseline/ours); `paired` is the median of each repetition's own"
        " ratio, where the bench interleaves repetitions.",
        "",
        "| bench | figure | loop | workload | ours | baseline | baseline is | ratio"
        " | paired | target |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(row(f) for f in measured),
        "",
    ]
    lines.extend(f"- skipped: {r['peer']} ({r['note']})" for r in skipped)
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--command", default="make bench")
    parser.add_argument("inputs", nargs="+")
    args = parser.parse_args()
    body = table(read_lines(args.inputs), args.command)
    RESULTS.write_text("# Benchmark results\n\n" + body)
    if PAGE.exists():
        text = PAGE.read_text()
        pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
        PAGE.write_text(pattern.sub(lambda _: f"{BEGIN}\n{body}{END}", text))
    print(f"wrote {RESULTS.relative_to(ROOT)} and {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
