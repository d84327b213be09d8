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

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from protocol import Message

from .._actor import Actor
from .._mailbox import MailboxConfig
from ._errors import InvalidTask
from ._planner import BalancerConfig, Dispatched, DispatchPlanner
from ._records import DISPATCH, RecordSink, append_record
from ._scoring import Channel, Task

if TYPE_CHECKING:
    from .._ref import ActorRef

__all__ = [
    "Balancer",
    "BalancerRestarted",
    "CycleHook",
    "CycleReport",
    "DispatchSummary",
    "GetSummary",
    "PlanCycle",
    "RunCycle",
    "SubmitTask",
    "TaskAccepted",
    "TaskRejected",
]


class SubmitTask(Message, tag="roles.submit_task"):
    task: Task


class TaskAccepted(Message, tag="roles.task_accepted"):
    task_id: str
    score: float


class TaskRejected(Message, tag="roles.task_rejected"):
    task_id: str
    field: str
    error: str


class RunCycle(Message, tag="roles.run_cycle"):
    """Run a dispatch cycle now (in the balancer's mode); the reply is its report."""


class PlanCycle(Message, tag="roles.plan_cycle"):
    """Plan the next cycle without dispatching anything (a dry run, in any mode)."""


class GetSummary(Message, tag="roles.get_summary"):
    pass


class BalancerRestarted(Message, tag="roles.balancer_restarted"):
    """Told to the parent by a restarted balancer: its queue is empty again."""

    reason: str


class _Cycle(Message, tag="roles.balancer_cycle"):
    pass


class CycleReport(msgspec.Struct, frozen=True):
    cycle: int
    applied: bool
    dispatches: tuple[Dispatched, ...]
    backlog: dict[str, int]
    kpis: dict[str, float]


CycleHook = Callable[[CycleReport], object]


class DispatchSummary(msgspec.Struct, frozen=True):
    """Tasks, dispatches, lineage map, backlog and KPIs of one balancer."""

    tasks: list[dict[str, Any]]  # Any: JSON-ready values
    dispatches: list[dict[str, Any]]
    lineage: dict[str, dict[str, Any]]
    backlog: dict[str, int]
    kpis: dict[str, float]

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
        try:
            score = self.planner.submit(task)
        except InvalidTask as exc:
            self.context.log.warning("task_rejected", task_id=task.task_id, error=str(exc))
            return TaskRejected(task_id=str(task.task_id), field=exc.field, error=str(exc))
        self._tasks[task.task_id] = {
            "task_id": task.task_id,
            "mode": task.mode.value,
            "score": score,
            "parent_artifact": task.parent_artifact,
            "arrived_cycle": self.planner.cycle,
        }
        self._schedule()
        return TaskAccepted(task_id=task.task_id, score=score)

    def _schedule(self) -> None:
        if not self._scheduled and self.planner.queued:
            self._scheduled = True
            self.context.timers.send_after(self.config.cycle_interval, _Cycle(), key="cycle")

    def _cycle(self, *, apply: bool) -> CycleReport:
        dispatches = self.planner.plan_cycle(apply=apply)
        if apply:
            for dispatch in dispatches:
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
        return report

    def _send(self, dispatch: Dispatched) -> None:
        task = dispatch.task
        lineage = dispatch.lineage
        entry = {
            "task_id": task.task_id,
            "channel": dispatch.channel.value,
            "score": dispatch.score,
            "cycle": dispatch.cycle,
            "slot": lineage.slot,
            "parent_artifact": lineage.parent_artifact,
            "lineage_digest": lineage.digest,
            "relaxed": dispatch.relaxed,
        }
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
        planner = self.planner
        dispatched = planner.dispatched
        share = {
            f"{channel.value}_share": (n / dispatched if dispatched else 0.0)
            for channel, n in planner.per_channel.items()
        }
        return {
            "tasks": float(planner.submitted),
            "dispatched": float(dispatched),
            "queued": float(planner.queued),
            "cycles": float(planner.cycle),
            "within_two_cycles": planner.within_two / dispatched if dispatched else 1.0,
            "relaxed": float(planner.relaxed),
            **share,
        }

    def summary(self) -> DispatchSummary:
        lineage = {
            entry["task_id"]: {
                "parent_artifact": entry["parent_artifact"],
                "digest": entry["lineage_digest"],
                "slot": entry["slot"],
                "channel": entry["channel"],
                "cycle": entry["cycle"],
            }
            for entry in self._dispatches
        }
        return DispatchSummary(
            tasks=[dict(task) for task in self._tasks.values()],
            dispatches=list(self._dispatches),
            lineage=lineage,
            backlog=self._backlog(),
            kpis=self.kpis(),
        )
