"""The numbers of a :class:`~actors.roles.JobSupervisor`."""

from __future__ import annotations

import msgspec

from .. import Backoff
from ._liveness import LivenessConfig
from ._planner import BalancerConfig
from ._resources import PoolConfig
from ._tadpole import MAX_THREADS, MAX_THREADS_PER_TADPOLE
from ._window import WindowConfig

__all__ = ["SupervisorConfig"]


class SupervisorConfig(msgspec.Struct, frozen=True):
    """Every number of the supervisor; the defaults are SPEC part 6's."""

    tadpoles: int = 4
    """Tadpoles started with (and kept at least)."""
    max_tadpoles: int = 32
    thread_budget: int = 4
    """Threads per tadpole at the start (at most 16)."""
    max_threads: int = MAX_THREADS
    """Threads of all tadpoles together (at most 128)."""
    specializations: tuple[str, ...] = ("generalist",)
    """Given to new tadpoles in turn."""
    pools: PoolConfig = PoolConfig()
    window: WindowConfig = WindowConfig()
    liveness: LivenessConfig = LivenessConfig()
    balancer: BalancerConfig | None = BalancerConfig()
    """``None``: no balancer; a job's channel is its ``metadata.mode``."""
    max_attempts: int = 3
    retry_backoff: Backoff = Backoff(initial=0.1, maximum=5.0, factor=2.0, jitter=0.2)
    mitigation_tadpoles: int = 2
    mitigation_threads: int = 2
    thread_grace: float = 30.0
    max_result_bytes: int = 65_536
    """A result that encodes to more JSON than this is kept as a bounded note."""
    auto_acknowledge: bool = False
    """Mark completed and failed jobs read as they end (fire and forget): they then
    free their window slot at once. ``needs_review`` jobs always wait for a reader."""

    def __post_init__(self) -> None:
        if not 1 <= self.tadpoles <= self.max_tadpoles:
            raise ValueError(f"need 1 <= tadpoles <= max_tadpoles, got {self!r}")
        if not 1 <= self.thread_budget <= MAX_THREADS_PER_TADPOLE:
            raise ValueError(f"thread_budget must be in 1..{MAX_THREADS_PER_TADPOLE}")
        if not 1 <= self.max_threads <= MAX_THREADS:
            raise ValueError(f"max_threads must be in 1..{MAX_THREADS}")
        if self.tadpoles * self.thread_budget > self.max_threads:
            raise ValueError("the initial tadpoles' thread budgets exceed max_threads")
        if self.max_attempts < 1 or not self.specializations:
            raise ValueError("max_attempts must be >= 1 and specializations non-empty")
        if self.max_result_bytes < 64:
            raise ValueError(f"max_result_bytes must be >= 64, got {self.max_result_bytes!r}")

    @property
    def tadpole_limit(self) -> int:
        return min(self.max_tadpoles, self.max_threads // self.thread_budget)
