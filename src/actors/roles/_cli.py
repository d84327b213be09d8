"""``python -m actors.roles``: run the balancer over a task file, as a dry run or for real.

::

    python -m actors.roles simulate tasks.json [--summary out.json] [--per-cycle N] ...
    python -m actors.roles apply tasks.json [--summary out.json] ...

The task file is JSON: a list of tasks (or ``{"tasks": [...]}``), each an
object with the fields of :class:`~actors.roles.Task` (``task_id``, ``mode``,
``urgency``, ``novelty_gap``, ``dependency_depth``, ``sandbox_debt``,
``parent_artifact``). ``simulate`` plans every cycle on a planner of its
own, dispatching nothing, and prints the plan (one line per dispatch) and the
KPIs. ``apply`` runs a :class:`~actors.roles.Balancer` actor in apply mode,
which dispatches each task (to a collector here) and records it, cycle by
cycle, and prints the same. ``--summary`` writes the dispatch summary (JSON).

Exit status: 0 on success; 1 when a task is invalid (nothing is planned);
2 for usage errors and unreadable files.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from ._errors import InvalidTask
from ._planner import BalancerConfig, Dispatched, DispatchPlanner
from ._scoring import Task, validate_task

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


def _version() -> str:
    try:
        return importlib.metadata.version("tadpole-actors")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m actors.roles",
        description="Plan (simulate) or run (apply) the balancer over a JSON task file.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("mode", choices=["simulate", "apply"])
    parser.add_argument("tasks", help="JSON file: a list of tasks, or {'tasks': [...]}")
    parser.add_argument("--summary", help="write the dispatch summary (JSON) here")
    parser.add_argument("--per-cycle", type=int, default=BalancerConfig().per_cycle)
    parser.add_argument("--window", type=int, default=BalancerConfig().window)
    parser.add_argument(
        "--strict-policy", choices=["enforce", "work_conserving"], default="enforce"
    )
    parser.add_argument("--max-cycles", type=int, default=10_000)
    return parser


def _load(path: str) -> list[Task]:
    try:
        raw = msgspec.json.decode(Path(path).read_bytes())
    except (OSError, msgspec.DecodeError) as exc:
        raise _UsageError(f"cannot read tasks from {path!r}: {exc}") from exc
    items = raw.get("tasks") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise _UsageError(f"{path!r} must hold a JSON list of tasks or {{'tasks': [...]}}")
    tasks: list[Task] = []
    for index, item in enumerate(items):
        try:
            task = msgspec.convert(item, Task)
        except msgspec.ValidationError as exc:
            raise InvalidTask(f"tasks[{index}]", str(exc), item) from exc
        validate_task(task)
        tasks.append(task)
    return tasks


class _UsageError(Exception):
    pass


def _line(dispatch: Dispatched) -> str:
    breach = "  quota_breach" if dispatch.quota_breach else ""
    return (
        f"cycle {dispatch.cycle:>4}  slot {dispatch.lineage.slot:>6}  "
        f"{dispatch.channel.value:<8}  {dispatch.task.task_id}  score={dispatch.score:.3f}  "
        f"delay={dispatch.delay}  digest={dispatch.lineage.digest[:12]}{breach}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        config = BalancerConfig(
            window=args.window,
            per_cycle=args.per_cycle,
            strict_policy=args.strict_policy,
            mode=args.mode,
        )
        tasks = _load(args.tasks)
    except (_UsageError, ValueError) as exc:
        if isinstance(exc, InvalidTask):
            print(f"invalid task: {exc}", file=sys.stderr)
            return 1
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.mode == "simulate":
        summary = _simulate(config, tasks, args.max_cycles)
    else:
        summary = asyncio.run(_apply(config, tasks, args.max_cycles))
    for dispatch in summary["lines"]:
        print(dispatch)
    print(f"mode: {args.mode}")
    print("backlog: " + msgspec.json.encode(summary["backlog"]).decode())
    print("kpis: " + msgspec.json.encode(summary["kpis"]).decode())
    if args.summary:
        Path(args.summary).write_bytes(msgspec.json.format(summary["document"], indent=2))
        print(f"summary: {args.summary}")
    return 0


def _simulate(config: BalancerConfig, tasks: list[Task], max_cycles: int) -> dict[str, Any]:
    # A planner of its own: nothing outside this dry run changes.
    from ._balancer import Balancer

    planner = DispatchPlanner(config)
    for task in tasks:
        planner.submit(task)
    dispatches: list[Dispatched] = []
    for _ in range(max_cycles):
        cycle = planner.plan_cycle()
        dispatches.extend(cycle)
        if not cycle:
            break
    document = Balancer.summary_of(planner, {t.task_id: t for t in tasks}, dispatches)
    return {
        "lines": [_line(d) for d in dispatches],
        "backlog": document.backlog,
        "kpis": document.kpis,
        "document": msgspec.json.encode(document),
    }


async def _apply(config: BalancerConfig, tasks: list[Task], max_cycles: int) -> dict[str, Any]:
    from .. import Actor, ActorSystem
    from ._balancer import Balancer, CycleReport
    from ._messages import GetSummary, RunCycle, SubmitTask

    class _Collector(Actor[Any]):
        async def receive(self, message: Any) -> None:
            return None

    lines: list[str] = []
    # A long interval: this command drives the cycles itself with RunCycle.
    config = msgspec.structs.replace(config, cycle_interval=3600.0)
    async with ActorSystem("roles-cli") as system:
        collector = await system.spawn(_Collector)
        balancer = await system.spawn(Balancer, config, kwargs={"target": collector})
        for task in tasks:
            await balancer.ask(SubmitTask(task), timeout=30.0)
        for _ in range(max_cycles):
            report: CycleReport = await balancer.ask(RunCycle(), timeout=30.0)
            lines.extend(_line(d) for d in report.dispatches)
            if not report.dispatches:
                break
        summary = await balancer.ask(GetSummary(), timeout=30.0)
    return {
        "lines": lines,
        "backlog": summary.backlog,
        "kpis": summary.kpis,
        "document": summary.to_json(),
    }
