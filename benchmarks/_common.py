"""Shared plumbing for the benchmarks: JSON lines, medians, environment facts."""

from __future__ import annotations

import json
import logging
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from collections.abc import Callable


def quiet_logging() -> None:
    """Benchmarks measure the runtime, not log rendering: keep warnings and up."""
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        cache_logger_on_first_use=True,
    )


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).parent,
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def median_of(repeats: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeats))


def interleaved(
    repeats: int, baseline: Callable[[], float], ours: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """Runs of baseline and ours, one of each per repetition, which goes first alternating."""
    base_runs: list[float] = []
    our_runs: list[float] = []
    for rep in range(repeats):
        if rep % 2:
            our_runs.append(ours())
            base_runs.append(baseline())
        else:
            base_runs.append(baseline())
            our_runs.append(ours())
    return base_runs, our_runs


def interleaved_medians(
    repeats: int, baseline: Callable[[], float], ours: Callable[[], float]
) -> tuple[float, float]:
    """Medians of baseline and ours, measured alternately so drift hits both alike."""
    base_runs, our_runs = interleaved(repeats, baseline, ours)
    return statistics.median(base_runs), statistics.median(our_runs)


def paired_ratio(ours: list[float], base: list[float], *, higher_is_better: bool = True) -> float:
    """The median of each repetition's own ratio (ours against its paired baseline)."""
    pairs = [(o / b if higher_is_better else b / o) for o, b in zip(ours, base, strict=True)]
    return round(statistics.median(pairs), 3)


def emit(
    figure: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    baseline_name: str | None = None,
    higher_is_better: bool = True,
    **extra: Any,
) -> None:
    record: dict[str, Any] = {"figure": figure, "value": round(value, 3), "unit": unit}
    if baseline is not None:
        record["baseline"] = round(baseline, 3)
        record["baseline_name"] = baseline_name
        ratio = value / baseline if higher_is_better else baseline / value
        record["ratio"] = round(ratio, 3)
    record.update(extra)
    record["python"] = platform.python_version()
    record["commit"] = commit()
    print(json.dumps(record), flush=True)
    sys.stdout.flush()
