"""The supervisor's tadpoles: spawning, thread budgets, picking where a job runs.

:class:`Pods` is the supervisor's side of its tadpole children: each
:class:`Pod` holds the tadpole's ref, specialization, thread budget,
incarnation and the runs it was given. The supervisor actor owns one and asks
it to spawn (within ``max_tadpoles`` and ``max_threads``), to pick tadpoles
for a job, and to raise or lower thread budgets when the pools saturate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import ChildSpec
from ._messages import SetThreadBudget, TadpoleInfo
from ._tadpole import MAX_THREADS_PER_TADPOLE, new_tadpole_id

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .. import ActorContext, ActorRef
    from ._config import SupervisorConfig
    from ._jobs import JobSpec
    from ._tadpole import Handler, Tadpole, ThreadPool

__all__ = ["Pod", "Pods"]


class Pod:
    """One tadpole as its supervisor sees it."""

    __slots__ = ("active", "at_risk", "budget", "incarnation", "ref", "specialization", "stopping")

    def __init__(self, ref: ActorRef[Any], specialization: str, budget: int) -> None:
        self.ref = ref
        self.specialization = specialization
        self.budget = budget
        self.incarnation = 0
        self.active: set[tuple[str, int, int]] = set()
        """Runs given to it and not reported ended: (job id, attempt, shard)."""
        self.at_risk = False
        self.stopping = False


class Pods:
    """The tadpoles of one supervisor, by tadpole id; see the module docstring."""

    def __init__(
        self,
        config: SupervisorConfig,
        handlers: Mapping[str, Handler],
        factory: Callable[..., Tadpole],
        pool: ThreadPool,
    ) -> None:
        self.config = config
        self.handlers = handlers
        self.factory = factory
        self.pool = pool
        self.pods: dict[str, Pod] = {}
        self.by_path: dict[str, str] = {}
        self.spawned = 0

    def __len__(self) -> int:
        return len(self.pods)

    def get(self, tadpole_id: str) -> Pod | None:
        return self.pods.get(tadpole_id)

    def tadpole_id(self, pod: Pod) -> str:
        return self.by_path[pod.ref.path]

    @property
    def threads(self) -> int:
        return sum(pod.budget for pod in self.pods.values())

    def can_spawn(self) -> bool:
        config = self.config
        return len(self.pods) < config.max_tadpoles and (
            self.threads + config.thread_budget <= config.max_threads
        )

    def spawn(self, ctx: ActorContext) -> str:
        config = self.config
        tadpole_id = new_tadpole_id(ctx.system.random)
        specialization = config.specializations[self.spawned % len(config.specializations)]
        self.spawned += 1
        ref = ctx.spawn_spec_nowait(
            ChildSpec(
                factory=self.factory,
                args=(tadpole_id, self.handlers),
                kwargs={
                    "specialization": specialization,
                    "thread_budget": config.thread_budget,
                    "pool": self.pool,
                    "heartbeat_interval": config.liveness.heartbeat_interval,
                    "thread_grace": config.thread_grace,
                },
                name=f"tadpole-{tadpole_id[:8]}",
            )
        )
        ctx.watch(ref)
        self.pods[tadpole_id] = Pod(ref, specialization, config.thread_budget)
        self.by_path[ref.path] = tadpole_id
        ctx.log.debug("tadpole_spawned", tadpole_id=tadpole_id)
        return tadpole_id

    def remove(self, path: str) -> tuple[str, Pod] | None:
        """The tadpole at ``path`` stopped: forget it."""
        tadpole_id = self.by_path.pop(path, None)
        if tadpole_id is None:
            return None
        return tadpole_id, self.pods.pop(tadpole_id)

    def pick(self, spec: JobSpec, ctx: ActorContext) -> list[Pod] | None:
        """Tadpoles with room for ``spec``'s shards (spawning more if allowed), or ``None``."""
        wanted = spec.tadpole_count
        free = [
            (tadpole_id, pod)
            for tadpole_id, pod in self.pods.items()
            if not pod.at_risk and not pod.stopping and len(pod.active) < pod.budget
        ]
        while len(free) < wanted and self.can_spawn():
            tadpole_id = self.spawn(ctx)
            free.append((tadpole_id, self.pods[tadpole_id]))
        if len(free) < wanted:
            return None
        prefer = spec.worker_id
        specialization = spec.metadata.get("specialization")

        def rank(item: tuple[str, Pod]) -> tuple[bool, bool, int]:
            tadpole_id, pod = item
            return (
                tadpole_id != prefer,
                specialization is not None and pod.specialization != specialization,
                len(pod.active),
            )

        if wanted == 1:
            return [min(free, key=rank)[1]]
        return [pod for _, pod in sorted(free, key=rank)[:wanted]]

    def mitigate(self, ctx: ActorContext) -> int:
        """Saturated: spawn extra tadpoles and raise budgets; return how many were spawned."""
        config = self.config
        spawned = 0
        for _ in range(config.mitigation_tadpoles):
            if not self.can_spawn():
                break
            self.spawn(ctx)
            spawned += 1
        for pod in self.pods.values():
            room = config.max_threads - self.threads
            budget = min(
                MAX_THREADS_PER_TADPOLE, pod.budget + config.mitigation_threads, pod.budget + room
            )
            if budget > pod.budget:
                pod.budget = budget
                pod.ref.tell(SetThreadBudget(threads=budget))
        return spawned

    def lower_budgets(self) -> None:
        """Saturation cleared: the extra threads come back down (the tadpoles stay, idle)."""
        base = self.config.thread_budget
        for pod in self.pods.values():
            if pod.budget > base:
                pod.budget = base
                pod.ref.tell(SetThreadBudget(threads=base))

    def infos(self) -> tuple[TadpoleInfo, ...]:
        return tuple(
            TadpoleInfo(
                tadpole_id=tadpole_id,
                path=pod.ref.path,
                specialization=pod.specialization,
                thread_budget=pod.budget,
                incarnation=pod.incarnation,
                running=tuple(sorted({key[0] for key in pod.active})),
                at_risk=pod.at_risk,
            )
            for tadpole_id, pod in self.pods.items()
        )
