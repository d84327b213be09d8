"""``python -m actors.roles simulate|apply``: the balancer from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

from actors.roles._cli import main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

TASKS = [
    {"task_id": "a", "mode": "strict", "urgency": 0.9, "parent_artifact": "seed"},
    {"task_id": "b", "mode": "balanced", "parent_artifact": "a"},
    {"task_id": "c", "mode": "creative"},
    {"task_id": "d", "mode": "balanced"},
]


def _write(tmp_path: Path, tasks: object) -> Path:
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(tasks))
    return path


def test_simulate_prints_the_plan_and_kpis_and_writes_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = _write(tmp_path, {"tasks": TASKS})
    out_path = tmp_path / "summary.json"
    assert main(["simulate", str(tasks), "--summary", str(out_path)]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("cycle")]
    assert len(lines) == 4
    assert "mode: simulate" in out
    kpis = json.loads(out.split("kpis: ", 1)[1].splitlines()[0])
    assert kpis["dispatched"] == 4.0
    summary = json.loads(out_path.read_text())
    assert summary["artifact_type"] == "dispatch_summary"
    assert summary["mode"] == "simulate"
    assert summary["lineage"]["b"]["parent_artifact"] == "a"
    assert set(summary["lineage"]["b"]) >= {"lineage_digest", "queue_slot"}


def test_apply_dispatches_through_a_balancer_actor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = _write(tmp_path, TASKS)
    out_path = tmp_path / "summary.json"
    assert main(["apply", str(tasks), "--summary", str(out_path)]) == 0
    out = capsys.readouterr().out
    assert "mode: apply" in out
    summary = json.loads(out_path.read_text())
    assert summary["mode"] == "apply"
    assert sorted(d["task_id"] for d in summary["dispatches"]) == ["a", "b", "c", "d"]
    assert summary["kpis"]["within_two_cycles"] == 1.0


def test_a_bad_task_file_is_refused_naming_the_task(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _write(tmp_path, [TASKS[0], {"task_id": "x", "urgency": 3.0}])
    assert main(["simulate", str(bad)]) == 1
    assert "urgency" in capsys.readouterr().err
    assert main(["simulate", str(tmp_path / "missing.json")]) == 2


def test_the_module_runs_from_a_shell(tmp_path: Path) -> None:
    tasks = _write(tmp_path, TASKS)
    result = subprocess.run(
        [sys.executable, "-m", "actors.roles", "simulate", str(tasks)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "kpis: " in result.stdout
