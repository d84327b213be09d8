"""The balancer's dispatch planning, as plain data and functions (no actors, no time).

**The creative backlog cap** (a feedback controller on the queue): a creative
task enters the dispatch queue only while creative tasks would be at most
``creative_backlog_cap`` (35%) of it. The excess waits in a *deferred* list
(counted, and returned by :meth:`DispatchPlanner.submit` so the caller can
record it) and enters the queue, best score first, as room appears. Deferred
work is dispatched directly only to meet the creative minimum, or when
nothing else in the queue may go (the cap never idles the swarm).

One dispatch cycle picks up to ``per_cycle`` tasks. Each pick, in order:

1. **creative minimum**: if creative work waits (queued or deferred) and
   fewer than ``floor(creative_min · n)`` of the window ending with this
   dispatch would be creative (``n`` is the window's length, ``window`` once
   enough dispatches happened), creative goes now;
2. **greedy round-robin** over ``strict → balanced → creative``, from where
   the last pick left off, skipping empty channels and ``strict`` while the
   window already holds ``ceil(strict_max · n)`` strict dispatches;
3. if no queued task may go: deferred creative work goes; else, if only
   strict work over its quota is left, the ``strict_policy`` decides:
   ``"enforce"`` (the default) holds it for later cycles (the cycle ends;
   counted in ``holds``), ``"work_conserving"`` dispatches it anyway, marked
   ``quota_breach`` and counted in ``breaches``.

Within a channel the highest score goes first (ties: first come). So: under
``enforce`` every window of ``window`` consecutive dispatches holds at most
30% strict; every window during which creative work was waiting holds at
least 20% creative; creative is never dispatched ahead of its round-robin
turn except to reach its minimum.

Every dispatch carries its lineage: the parent artifact, the lineage digest
(SHA-256 of the parent's digest, the task id, the channel and the slot) and
the queue slot (the dispatch's sequence number). Each dispatch's delay is
counted in cycles from the task's arrival cycle (the cycle count when it was
submitted; the balancer passes the count at the task's *submission* time).
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import Counter, deque
from typing import Literal

import msgspec

from protocol import Message

from ._scoring import Channel, ScoreWeights, Task, validate_task

__all__ = [
    "BalancerConfig",
    "DispatchPlanner",
    "Dispatched",
    "Lineage",
    "WindowShares",
]

_ORDER = (Channel.STRICT, Channel.BALANCED, Channel.CREATIVE)

_Entry = tuple[float, int, int, Task]  # (-score, seq, arrived cycle, task)


class BalancerConfig(msgspec.Struct, frozen=True):
    """Balancer settings; every number of SPEC part 6 is a default here."""

    weights: ScoreWeights = ScoreWeights()
    window: int = 100
    """Dispatches in the sliding quota window."""
    strict_max: float = 0.30
    creative_min: float = 0.20
    creative_backlog_cap: float = 0.35
    strict_policy: Literal["enforce", "work_conserving"] = "enforce"
    """``enforce``: strict work over its quota waits for later cycles;
    ``work_conserving``: it is dispatched rather than idle, as a quota breach."""
    per_cycle: int = 1024
    """Most dispatches in one cycle."""
    cycle_interval: float = 0.05
    """Seconds between dispatch cycles."""
    mode: Literal["apply", "simulate"] = "apply"
    summary_path: str | None = None
    """If set, the dispatch summary is written there (JSON) after each applied cycle."""

    def __post_init__(self) -> None:
        if self.window < 1 or self.per_cycle < 1 or self.cycle_interval <= 0:
            raise ValueError(
                f"window and per_cycle must be >= 1 and cycle_interval > 0, got window="
                f"{self.window!r}, per_cycle={self.per_cycle!r}, "
                f"cycle_interval={self.cycle_interval!r}"
            )
        if not 0 <= self.creative_min <= self.strict_max <= 1 or self.creative_min > 0.5:
            raise ValueError(
                "quotas need 0 <= creative_min <= 0.5 and creative_min <= strict_max <= 1, got "
                f"creative_min={self.creative_min!r}, strict_max={self.strict_max!r}"
            )
        if not 0 < self.creative_backlog_cap <= 1:
            raise ValueError(
                f"creative_backlog_cap must be in (0, 1], got {self.creative_backlog_cap!r}"
            )
        if self.strict_policy not in ("enforce", "work_conserving"):
            raise ValueError(
                f"strict_policy must be 'enforce' or 'work_conserving', got {self.strict_policy!r}"
            )
        if self.mode not in ("apply", "simulate"):
            raise ValueError(f"mode must be 'apply' or 'simulate', got {self.mode!r}")


class Lineage(msgspec.Struct, frozen=True):
    """``parent_artifact``, the current lineage digest (``digest``) and the queue ``slot``."""

    parent_artifact: str | None
    digest: str
    slot: int


class Dispatched(Message, tag="roles.dispatched"):
    """One task sent to its channel (what the balancer's target receives)."""

    task: Task
    channel: Channel
    score: float
    lineage: Lineage
    cycle: int
    quota_breach: bool = False
    """Strict work dispatched over its quota (``work_conserving`` policy only)."""
    delay: int = 0
    """Cycles from the task's arrival cycle to this dispatch (1: the next cycle)."""


class WindowShares(msgspec.Struct, frozen=True):
    """The realised channel shares of one closed window of ``window`` applied dispatches."""

    end_slot: int
    strict: float
    balanced: float
    creative: float
    breaches: int


class _State:
    """Everything a cycle changes; cloned for a dry run."""

    __slots__ = (
        "counts",
        "cycle",
        "deferred",
        "lineage",
        "queues",
        "recent",
        "rr",
        "seq",
        "slot",
    )

    def __init__(self, window: int) -> None:
        self.queues: dict[Channel, list[_Entry]] = {c: [] for c in _ORDER}
        self.deferred: list[_Entry] = []
        self.recent: deque[Channel] = deque(maxlen=max(window - 1, 0))
        self.counts = dict.fromkeys(_ORDER, 0)
        self.rr = 0
        self.slot = 0
        self.seq = 0
        self.cycle = 0
        self.lineage: dict[str, str] = {}

    def clone(self) -> _State:
        other = _State.__new__(_State)
        other.queues = {c: list(q) for c, q in self.queues.items()}
        other.deferred = list(self.deferred)
        other.recent = deque(self.recent, maxlen=self.recent.maxlen)
        other.counts = dict(self.counts)
        other.rr, other.slot, other.seq, other.cycle = self.rr, self.slot, self.seq, self.cycle
        other.lineage = dict(self.lineage)
        return other


class DispatchPlanner:
    """Queues scored tasks and plans dispatch cycles under the mode quotas."""

    def __init__(self, config: BalancerConfig | None = None, *, keep_windows: int = 100) -> None:
        self.config = config or BalancerConfig()
        self._state = _State(self.config.window)
        self.submitted = 0
        self.dispatched = 0
        self.within_two = 0
        self.breaches = 0
        self.holds = 0
        """Cycles that ended holding strict work over its quota (``enforce``)."""
        self.deferrals = 0
        """Creative tasks that waited outside the queue because of the backlog cap."""
        self.full_cycles = 0
        """Cycles that used all ``per_cycle`` slots with work left: the load exceeded capacity."""
        self.per_channel = dict.fromkeys(_ORDER, 0)
        self.delays: Counter[int] = Counter()
        """Dispatches by delay in cycles from arrival."""
        self.windows: deque[WindowShares] = deque(maxlen=keep_windows)
        self._open = dict.fromkeys(_ORDER, 0)
        self._open_breaches = 0

    # -- queue -----------------------------------------------------------------

    def submit(self, task: Task, *, arrived_cycle: int | None = None) -> tuple[float, bool]:
        """Validate and queue ``task``; returns its score and whether it was deferred.

        ``arrived_cycle``: the cycle count when the task was submitted (default:
        now); its dispatch delay is counted from there.
        """
        validate_task(task)
        state = self._state
        score = self.config.weights.score(task)
        state.seq += 1
        arrived = state.cycle if arrived_cycle is None else min(arrived_cycle, state.cycle)
        entry = (-score, state.seq, arrived, task)
        deferred = False
        if task.mode is Channel.CREATIVE and not self._room_for_creative(state):
            heapq.heappush(state.deferred, entry)
            self.deferrals += 1
            deferred = True
        else:
            heapq.heappush(state.queues[task.mode], entry)
        self.submitted += 1
        return score, deferred

    def _room_for_creative(self, state: _State) -> bool:
        creative = len(state.queues[Channel.CREATIVE])
        total = sum(len(q) for q in state.queues.values())
        return creative + 1 <= self.config.creative_backlog_cap * (total + 1) + 1e-9

    def _promote(self, state: _State) -> None:
        while state.deferred and self._room_for_creative(state):
            heapq.heappush(state.queues[Channel.CREATIVE], heapq.heappop(state.deferred))

    def backlog(self) -> dict[Channel, int]:
        """Tasks waiting per channel (creative includes the deferred ones)."""
        state = self._state
        out = {channel: len(queue) for channel, queue in state.queues.items()}
        out[Channel.CREATIVE] += len(state.deferred)
        return out

    @property
    def deferred(self) -> int:
        """Creative tasks waiting outside the queue (the backlog cap)."""
        return len(self._state.deferred)

    @property
    def queued(self) -> int:
        """Every task waiting, in the queue or deferred."""
        state = self._state
        return sum(len(queue) for queue in state.queues.values()) + len(state.deferred)

    @property
    def cycle(self) -> int:
        return self._state.cycle

    @property
    def lineage(self) -> dict[str, str]:
        """Task id (or artifact) -> its lineage digest, for every dispatched task."""
        return dict(self._state.lineage)

    def queued_tasks(self) -> list[Task]:
        state = self._state
        entries = [*(e for q in state.queues.values() for e in sorted(q)), *sorted(state.deferred)]
        return [entry[3] for entry in entries]

    def realised_shares(self) -> dict[str, float]:
        """Each channel's share of all applied dispatches so far."""
        n = self.dispatched
        return {c.value: (self.per_channel[c] / n if n else 0.0) for c in _ORDER}

    # -- cycles ----------------------------------------------------------------

    def plan_cycle(self, *, apply: bool = True) -> list[Dispatched]:
        """The next cycle's dispatches; with ``apply=False`` nothing changes (dry run)."""
        state = self._state if apply else self._state.clone()
        state.cycle += 1
        out: list[Dispatched] = []
        held = False
        for _ in range(self.config.per_cycle):
            picked = self._pick(state)
            if picked is None:
                held = bool(state.queues[Channel.STRICT])
                break
            out.append(picked)
        if apply:
            if held:
                self.holds += 1
            elif len(out) == self.config.per_cycle and self.queued:
                self.full_cycles += 1
            for dispatch in out:
                self._count(dispatch)
        return out

    def _count(self, dispatch: Dispatched) -> None:
        self.dispatched += 1
        self.per_channel[dispatch.channel] += 1
        self.breaches += dispatch.quota_breach
        self.delays[dispatch.delay] += 1
        self.within_two += dispatch.delay <= 2
        self._open[dispatch.channel] += 1
        self._open_breaches += dispatch.quota_breach
        window = self.config.window
        if sum(self._open.values()) == window:
            self.windows.append(
                WindowShares(
                    end_slot=dispatch.lineage.slot,
                    strict=self._open[Channel.STRICT] / window,
                    balanced=self._open[Channel.BALANCED] / window,
                    creative=self._open[Channel.CREATIVE] / window,
                    breaches=self._open_breaches,
                )
            )
            self._open = dict.fromkeys(_ORDER, 0)
            self._open_breaches = 0

    def _pick(self, state: _State) -> Dispatched | None:
        self._promote(state)
        queues = state.queues
        config = self.config
        n = min(len(state.recent) + 1, config.window)
        counts = state.counts
        creative_waiting = bool(queues[Channel.CREATIVE]) or bool(state.deferred)
        if not creative_waiting and not queues[Channel.STRICT] and not queues[Channel.BALANCED]:
            return None
        strict_open = counts[Channel.STRICT] + 1 <= math.ceil(config.strict_max * n - 1e-9)
        breach = False
        source: list[_Entry] | None = None
        channel: Channel | None = None
        if creative_waiting and counts[Channel.CREATIVE] < math.floor(
            config.creative_min * n + 1e-9
        ):
            channel = Channel.CREATIVE
        else:
            for i in range(3):
                candidate = _ORDER[(state.rr + i) % 3]
                if queues[candidate] and (candidate is not Channel.STRICT or strict_open):
                    channel = candidate
                    state.rr = (state.rr + i + 1) % 3
                    break
            if channel is None:
                if state.deferred:  # nothing in the queue may go: the cap does not idle
                    channel, source = Channel.CREATIVE, state.deferred
                elif config.strict_policy == "work_conserving":
                    channel, breach = Channel.STRICT, True
                else:
                    return None  # enforce: the strict excess waits for later cycles
        if source is None:
            source = queues[channel]
            if not source:  # creative minimum with only deferred creative work
                source = state.deferred
        neg_score, _, arrived, task = heapq.heappop(source)
        # The window: forget the oldest dispatch once it is full, remember this one.
        recent = state.recent
        if recent.maxlen:
            if len(recent) == recent.maxlen:
                counts[recent[0]] -= 1
            recent.append(channel)
            counts[channel] += 1
        state.slot += 1
        parent = task.parent_artifact
        base = state.lineage.get(parent, parent) if parent is not None else ""
        digest = hashlib.sha256(
            f"{base}|{task.task_id}|{channel.value}|{state.slot}".encode()
        ).hexdigest()
        state.lineage[task.task_id] = digest
        return Dispatched(
            task=task,
            channel=channel,
            score=-neg_score,
            lineage=Lineage(parent_artifact=parent, digest=digest, slot=state.slot),
            cycle=state.cycle,
            quota_breach=breach,
            delay=state.cycle - arrived,
        )
