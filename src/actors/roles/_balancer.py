"""The balancer: scores tasks and dispatches them to channels in cycles.

Tasks arrive with :class:`SubmitTask`. A dispatch cycle runs
``cycle_interval`` seconds after work arrives (and again while work is
left), or at once on :class:`RunCycle`; :class:`~actors.roles._planner.DispatchPlanner`
decides what goes where. In ``apply`` mode each dispatch is sent to its
channel's target as a :class:`Dispatched` and recorded in the ledger
(``roles.dispatch``, with its lineage); in ``simulate`` mode (a dry run)
cycles are planned and reported but nothing is dispatched, recorded or
dequeued. Hooks are called with a :class:`CycleReport` after each cycle.
:class:`GetSummary` returns a :class:`DispatchSummary` that can be written
out as JSON.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from protocol import Message

from .. import Actor, MailboxConfig
from ._errors import InvalidTask
from ._messages import (
    BalancerRestarted,
    GetSummary,
    PlanCycle,
    RunCycle,
    SubmitTask,
    TaskAccepted,
    TaskRejected,
)
from ._planner import BalancerConfig, Dispatched, DispatchPlanner
from ._records import DEFER, DISPATCH, RecordSink, append_record
from ._scoring import Channel, Task

if TYPE_CHECKING:
    from .. import ActorRef

__all__ = [
    "Balancer",
    "CycleHook",
    "CycleReport",
    "DispatchSummary",
]


class _Cycle(Message, tag="roles.balancer_cycle"):
    pass


class CycleReport(msgspec.Struct, frozen=True):
    """What one dispatch cycle did (or, planned only, would do)."""

    cycle: int
    applied: bool
    dispatches: tuple[Dispatched, ...]
    backlog: dict[str, int]
    kpis: dict[str, float]


CycleHook = Callable[[CycleReport], object]
"""Called with each cycle's report (metrics, tests); its return value is ignored."""


class DispatchSummary(msgspec.Struct, frozen=True):
    """Tasks, dispatches, lineage map, backlog and KPIs of one balancer.

    ``lineage`` maps each dispatched task id to its ``parent_artifact``, its
    current ``lineage_digest`` and its ``queue_slot`` (with channel and cycle);
    ``windows`` holds the realised channel shares of the last closed quota
    windows; ``artifact_type`` names what this document is.
    """

    tasks: list[dict[str, Any]]  # Any: JSON-ready values
    dispatches: list[dict[str, Any]]
    lineage: dict[str, dict[str, Any]]
    backlog: dict[str, int]
    kpis: dict[str, float]
    windows: list[dict[str, float]] = msgspec.field(default_factory=list)
    mode: str = "apply"
    artifact_type: str = "dispatch_summary"

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)

    def write_json(self, path: str | Path) -> Path:
        """Write the summary as JSON (call it off the event loop for large summaries)."""
        target = Path(path)
        target.write_bytes(msgspec.json.format(self.to_json(), indent=2))
        return target


class Balancer(Actor[Message]):
    """Dispatches tasks to ``channels`` (or all to ``target``, default: the parent)."""

    record_deliveries: ClassVar[bool | None] = False
    mailbox: ClassVar[MailboxConfig] = MailboxConfig(capacity=1_000_000)

    def __init__(
        self,
        config: BalancerConfig | None = None,
        *,
        target: ActorRef[Any] | None = None,
        channels: Mapping[Channel, ActorRef[Any]] | None = None,
        hooks: Sequence[CycleHook] = (),
        ledger: RecordSink | None = None,
    ) -> None:
        self.config = config or BalancerConfig()
        self.planner = DispatchPlanner(self.config)
        self._target = target
        self._channels = dict(channels or {})
        self._hooks = tuple(hooks)
        self._ledger = ledger
        self._scheduled = False
        self._tasks: dict[str, dict[str, Any]] = {}
        self._dispatches: list[dict[str, Any]] = []
        self._holding = False
        self._cycle_starts: list[float] = []
        """Clock time each applied cycle started (cycle k started at index k - 1)."""
        self._waits: deque[float] = deque(maxlen=100_000)
        """Seconds from submission to dispatch, most recent dispatches."""

    async def on_start(self) -> None:
        if self._ledger is None:
            self._ledger = self.context.system.ledger

    async def on_restart(self, reason: BaseException) -> None:
        parent = self.context.parent
        if parent is not None:
            parent.tell(BalancerRestarted(reason=repr(reason)))

    async def receive(self, message: Message) -> Any:
        if isinstance(message, SubmitTask):
            return self._submit(message.task)
        if isinstance(message, _Cycle):
            self._scheduled = False
            self._cycle(apply=self.config.mode == "apply")
            return None
        if isinstance(message, RunCycle):
            return self._cycle(apply=self.config.mode == "apply")
        if isinstance(message, PlanCycle):
            return self._cycle(apply=False)
        if isinstance(message, GetSummary):
            return self.summary()
        return None

    def _submit(self, task: Task) -> TaskAccepted | TaskRejected:
        now = self.context.system.clock.now()
        arrived: int | None = None
        if isinstance(task.submitted_at, int | float) and not isinstance(task.submitted_at, bool):
            # The cycles that started at or before the submission.
            arrived = bisect.bisect_right(self._cycle_starts, task.submitted_at)
        else:
            task = msgspec.structs.replace(task, submitted_at=now)
        try:
            score, deferred = self.planner.submit(task, arrived_cycle=arrived)
        except InvalidTask as exc:
            self.context.log.warning("task_rejected", task_id=task.task_id, error=str(exc))
            return TaskRejected(task_id=str(task.task_id), field=exc.field, error=str(exc))
        self._tasks[task.task_id] = {
            "task_id": task.task_id,
            "mode": task.mode.value,
            "score": score,
            "parent_artifact": task.parent_artifact,
            "arrived_cycle": self.planner.cycle if arrived is None else arrived,
            "deferred": deferred,
        }
        if deferred:
            append_record(
                self._ledger,
                DEFER,
                {"task_id": task.task_id, "backlog": self._backlog(), "reason": "creative cap"},
            )
        self._schedule()
        return TaskAccepted(task_id=task.task_id, score=score, deferred=deferred)

    def _schedule(self) -> None:
        if not self._scheduled and self.planner.queued:
            self._scheduled = True
            self.context.timers.send_after(self.config.cycle_interval, _Cycle(), key="cycle")

    def _cycle(self, *, apply: bool) -> CycleReport:
        now = self.context.system.clock.now()
        holds = self.planner.holds
        dispatches = self.planner.plan_cycle(apply=apply)
        if apply and self.planner.holds > holds and not self._holding:
            # Once per episode: strict work waits for other work to dilute it.
            self.context.log.warning(
                "strict_quota_held",
                strict_waiting=self.planner.backlog()[Channel.STRICT],
                policy=self.config.strict_policy,
            )
        if apply:
            self._holding = self.planner.holds > holds
            self._cycle_starts.append(now)
            for dispatch in dispatches:
                submitted = dispatch.task.submitted_at
                if submitted is not None:
                    self._waits.append(max(0.0, now - submitted))
                self._send(dispatch)
            self._schedule()
        report = CycleReport(
            cycle=dispatches[0].cycle if dispatches else self.planner.cycle + (not apply),
            applied=apply,
            dispatches=tuple(dispatches),
            backlog=self._backlog(),
            kpis=self.kpis(),
        )
        for hook in self._hooks:
            try:
                hook(report)
            except Exception as exc:
                self.context.log.warning("cycle_hook_failed", hook=repr(hook), error=repr(exc))
        path = self.config.summary_path
        if apply and path is not None:
            try:
                self.summary().write_json(path)
            except OSError as exc:
                self.context.log.warning("summary_write_failed", path=path, error=repr(exc))
        return report

    def _send(self, dispatch: Dispatched) -> None:
        task = dispatch.task
        entry = dispatch_entry(dispatch)
        self._dispatches.append(entry)
        record = self._tasks.get(task.task_id)
        if record is not None:
            record["dispatched_cycle"] = dispatch.cycle
            record["channel"] = dispatch.channel.value
        append_record(self._ledger, DISPATCH, entry)
        target = self._channels.get(dispatch.channel) or self._target or self.context.parent
        if target is not None:
            target.tell(dispatch)

    def _backlog(self) -> dict[str, int]:
        return {channel.value: n for channel, n in self.planner.backlog().items()}

    def kpis(self) -> dict[str, float]:
        """Counts, realised shares, quota breaches and holds, and the dispatch delay.

        ``within_two_cycles`` (the share of tasks dispatched within two cycles of
        their submission) is given only while the load fits the capacity (no
        cycle was full with work left over, ``full_cycles`` is 0); beyond it the
        figure means nothing and the queueing delay is what to read:
        ``delay_cycles_p50/p90/max`` and ``wait_seconds_p50/p90``.
        """
        return dispatch_kpis(self.planner, self._waits)

    def summary(self) -> DispatchSummary:
        return build_summary(
            self.planner, self._tasks, self._dispatches, self._waits, mode=self.config.mode
        )

    @staticmethod
    def summary_of(
        planner: DispatchPlanner, tasks: Mapping[str, Task], dispatches: Sequence[Dispatched]
    ) -> DispatchSummary:
        """The summary of a planner run outside an actor (a dry run over a task list)."""
        weights = planner.config.weights
        entries = {
            task_id: {
                "task_id": task_id,
                "mode": task.mode.value,
                "score": weights.score(task),
                "parent_artifact": task.parent_artifact,
                "arrived_cycle": 0,
            }
            for task_id, task in tasks.items()
        }
        for dispatch in dispatches:
            record = entries.get(dispatch.task.task_id)
            if record is not None:
                record["dispatched_cycle"] = dispatch.cycle
                record["channel"] = dispatch.channel.value
        return build_summary(
            planner, entries, [dispatch_entry(d) for d in dispatches], (), mode="simulate"
        )


def dispatch_entry(dispatch: Dispatched) -> dict[str, Any]:
    """One dispatch as the ledger (``roles.dispatch``) and the summary record it."""
    lineage = dispatch.lineage
    return {
        "task_id": dispatch.task.task_id,
        "channel": dispatch.channel.value,
        "score": dispatch.score,
        "cycle": dispatch.cycle,
        "queue_slot": lineage.slot,
        "parent_artifact": lineage.parent_artifact,
        "lineage_digest": lineage.digest,
        "quota_breach": dispatch.quota_breach,
        "delay_cycles": dispatch.delay,
    }


def dispatch_kpis(planner: DispatchPlanner, waits: Sequence[float] = ()) -> dict[str, float]:
    """The KPIs of a planner (see :meth:`Balancer.kpis`); ``waits``: seconds to dispatch."""
    dispatched = planner.dispatched
    share = {f"{channel}_share": value for channel, value in planner.realised_shares().items()}
    windows = list(planner.windows)
    ordered = sorted(waits)
    out = {
        "tasks": float(planner.submitted),
        "dispatched": float(dispatched),
        "queued": float(planner.queued),
        "deferred": float(planner.deferred),
        "deferrals": float(planner.deferrals),
        "cycles": float(planner.cycle),
        "full_cycles": float(planner.full_cycles),
        "quota_breaches": float(planner.breaches),
        "strict_holds": float(planner.holds),
        "delay_cycles_p50": _counter_percentile(planner.delays, 0.50),
        "delay_cycles_p90": _counter_percentile(planner.delays, 0.90),
        "delay_cycles_max": float(max(planner.delays, default=0)),
        "wait_seconds_p50": _percentile(ordered, 0.50),
        "wait_seconds_p90": _percentile(ordered, 0.90),
        **share,
    }
    if windows:
        out["strict_share_max_window"] = max(w.strict for w in windows)
        out["creative_share_min_window"] = min(w.creative for w in windows)
    if not planner.full_cycles:
        out["within_two_cycles"] = planner.within_two / dispatched if dispatched else 1.0
    return out


def build_summary(
    planner: DispatchPlanner,
    tasks: Mapping[str, dict[str, Any]],
    dispatches: Sequence[dict[str, Any]],
    waits: Sequence[float],
    *,
    mode: str,
) -> DispatchSummary:
    lineage = {
        entry["task_id"]: {
            "parent_artifact": entry["parent_artifact"],
            "lineage_digest": entry["lineage_digest"],
            "queue_slot": entry["queue_slot"],
            "channel": entry["channel"],
            "cycle": entry["cycle"],
        }
        for entry in dispatches
    }
    return DispatchSummary(
        tasks=[dict(task) for task in tasks.values()],
        dispatches=list(dispatches),
        lineage=lineage,
        backlog={channel.value: n for channel, n in planner.backlog().items()},
        kpis=dispatch_kpis(planner, waits),
        windows=[msgspec.structs.asdict(w) for w in planner.windows],
        mode=mode,
    )


def _percentile(ordered: Sequence[float], q: float) -> float:
    if not ordered:
        return 0.0
    return float(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))])


def _counter_percentile(counts: Mapping[int, int], q: float) -> float:
    total = sum(counts.values())
    if not total:
        return 0.0
    rank = max(1, math.ceil(q * total))
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return float(value)
    return float(max(counts))
