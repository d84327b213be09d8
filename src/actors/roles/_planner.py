"""The balancer's dispatch planning, as plain data and functions (no actors, no time).

One dispatch cycle picks up to ``per_cycle`` tasks. Each pick, in order:

1. **creative minimum**: if creative work is queued and fewer than
   ``floor(creative_min · n)`` of the window ending with this dispatch would be
   creative (``n`` is the window's length, ``window`` once enough dispatches
   happened), creative goes now;
2. **creative backlog feedback**: if creative tasks are more than
   ``creative_backlog_cap`` (35%) of the queue, creative goes first;
3. **greedy round-robin** over ``strict → balanced → creative``, from where
   the last pick left off, skipping empty channels and ``strict`` while the
   window already holds ``ceil(strict_max · n)`` strict dispatches.

Within a channel the highest score goes first (ties: first come). If only
strict work is left and its quota is used up, it is dispatched anyway and the
dispatch is marked ``relaxed`` (the cap never idles the swarm). So: every
window of ``window`` consecutive dispatches without a relaxed one holds at most
30% strict; every window during which creative work was waiting holds at least
20% creative.

Every dispatch carries its lineage: the parent artifact, the lineage digest
(SHA-256 of the parent's digest, the task id, the channel and the slot) and
the queue slot (the dispatch's sequence number).
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import deque
from typing import Literal

import msgspec

from protocol import Message

from ._scoring import Channel, ScoreWeights, Task, validate_task

__all__ = [
    "BalancerConfig",
    "DispatchPlanner",
    "Dispatched",
    "Lineage",
]

_ORDER = (Channel.STRICT, Channel.BALANCED, Channel.CREATIVE)


class BalancerConfig(msgspec.Struct, frozen=True):
    """Balancer settings; every number of SPEC part 6 is a default here."""

    weights: ScoreWeights = ScoreWeights()
    window: int = 100
    """Dispatches in the sliding quota window."""
    strict_max: float = 0.30
    creative_min: float = 0.20
    creative_backlog_cap: float = 0.35
    per_cycle: int = 1024
    """Most dispatches in one cycle."""
    cycle_interval: float = 0.05
    """Seconds between dispatch cycles."""
    mode: Literal["apply", "simulate"] = "apply"

    def __post_init__(self) -> None:
        if self.window < 1 or self.per_cycle < 1 or self.cycle_interval <= 0:
            raise ValueError("window and per_cycle must be >= 1, cycle_interval > 0")
        if not 0 <= self.creative_min <= self.strict_max <= 1 or self.creative_min > 0.5:
            raise ValueError("quotas need 0 <= creative_min <= 0.5 and creative_min <= strict_max")
        if not 0 < self.creative_backlog_cap <= 1:
            raise ValueError("creative_backlog_cap must be in (0, 1]")
        if self.mode not in ("apply", "simulate"):
            raise ValueError(f"mode must be 'apply' or 'simulate', got {self.mode!r}")


class Lineage(msgspec.Struct, frozen=True):
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
    relaxed: bool = False


class _State:
    """Everything a cycle changes; cloned for a dry run."""

    __slots__ = ("counts", "cycle", "lineage", "queues", "recent", "rr", "seq", "slot")

    def __init__(self, window: int) -> None:
        self.queues: dict[Channel, list[tuple[float, int, int, Task]]] = {c: [] for c in _ORDER}
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
        other.recent = deque(self.recent, maxlen=self.recent.maxlen)
        other.counts = dict(self.counts)
        other.rr, other.slot, other.seq, other.cycle = self.rr, self.slot, self.seq, self.cycle
        other.lineage = dict(self.lineage)
        return other


class DispatchPlanner:
    """Queues scored tasks and plans dispatch cycles under the mode quotas."""

    def __init__(self, config: BalancerConfig | None = None) -> None:
        self.config = config or BalancerConfig()
        self._state = _State(self.config.window)
        self.submitted = 0
        self.dispatched = 0
        self.within_two = 0
        self.relaxed = 0
        self.per_channel = dict.fromkeys(_ORDER, 0)

    # -- queue -----------------------------------------------------------------

    def submit(self, task: Task) -> float:
        """Validate and queue ``task``; returns its score."""
        validate_task(task)
        state = self._state
        score = self.config.weights.score(task)
        state.seq += 1
        heapq.heappush(state.queues[task.mode], (-score, state.seq, state.cycle, task))
        self.submitted += 1
        return score

    def backlog(self) -> dict[Channel, int]:
        return {channel: len(queue) for channel, queue in self._state.queues.items()}

    @property
    def queued(self) -> int:
        return sum(len(queue) for queue in self._state.queues.values())

    @property
    def cycle(self) -> int:
        return self._state.cycle

    @property
    def lineage(self) -> dict[str, str]:
        """Task id (or artifact) -> its lineage digest, for every dispatched task."""
        return dict(self._state.lineage)

    def queued_tasks(self) -> list[Task]:
        return [entry[3] for queue in self._state.queues.values() for entry in sorted(queue)]

    # -- cycles ----------------------------------------------------------------

    def plan_cycle(self, *, apply: bool = True) -> list[Dispatched]:
        """The next cycle's dispatches; with ``apply=False`` nothing changes (dry run)."""
        state = self._state if apply else self._state.clone()
        state.cycle += 1
        out: list[Dispatched] = []
        for _ in range(self.config.per_cycle):
            picked = self._pick(state)
            if picked is None:
                break
            out.append(picked)
        if apply:
            for dispatch in out:
                self.dispatched += 1
                self.per_channel[dispatch.channel] += 1
                self.relaxed += dispatch.relaxed
        return out

    def _pick(self, state: _State) -> Dispatched | None:
        queues = state.queues
        total = sum(len(q) for q in queues.values())
        if not total:
            return None
        config = self.config
        n = min(len(state.recent) + 1, config.window)
        counts = state.counts
        creative_waiting = bool(queues[Channel.CREATIVE])
        strict_open = counts[Channel.STRICT] + 1 <= math.ceil(config.strict_max * n - 1e-9)
        relaxed = False
        channel: Channel | None = None
        creative_short = counts[Channel.CREATIVE] < math.floor(config.creative_min * n + 1e-9)
        creative_heavy = len(queues[Channel.CREATIVE]) > config.creative_backlog_cap * total
        if creative_waiting and (creative_short or creative_heavy):
            channel = Channel.CREATIVE
        else:
            for i in range(3):
                candidate = _ORDER[(state.rr + i) % 3]
                if queues[candidate] and (candidate is not Channel.STRICT or strict_open):
                    channel = candidate
                    state.rr = (state.rr + i + 1) % 3
                    break
            if channel is None:  # only strict work is left, and its quota is used up
                channel, relaxed = Channel.STRICT, True
        neg_score, _, arrived, task = heapq.heappop(queues[channel])
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
        if state is self._state and state.cycle - arrived <= 2:
            self.within_two += 1
        return Dispatched(
            task=task,
            channel=channel,
            score=-neg_score,
            lineage=Lineage(parent_artifact=parent, digest=digest, slot=state.slot),
            cycle=state.cycle,
            relaxed=relaxed,
        )
