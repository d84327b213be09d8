"""Resource pools: compute units, memory and bandwidth, allocated in chunks.

Defaults: 256 compute units, 65,536 MB, 10,000 Mbps; minimum chunks of
2 CU, 256 MB, 100 Mbps. Allocating a request:

1. scale it by the allocation weight of the job's objective (reward signals
   move that weight by ``reward_step · signal`` within ``weight_bounds``,
   0.5..1.5 by default), then round each amount up to whole chunks (a request
   larger than the pool is capped at the pool);
2. if every amount fits in what is free, grant it;
3. otherwise fall back to a best effort: grant the same fraction of every
   amount, the largest the free pools allow, rounded down to whole chunks and
   at least one chunk of each requested resource;
4. if even one chunk does not fit, grant nothing: the job waits.

Allocations never exceed the pools. Saturation is the highest utilisation of
the three pools; above ``saturation_threshold`` (0.85) the supervisor mitigates.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from ._jobs import ResourceRequest

__all__ = ["Allocation", "PoolConfig", "ResourcePools", "Resources"]


class Resources(msgspec.Struct, frozen=True):
    """Amounts of the three pooled resources."""

    compute_units: int = 0
    memory_mb: int = 0
    bandwidth_mbps: int = 0

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.compute_units, self.memory_mb, self.bandwidth_mbps)

    @classmethod
    def of(cls, values: tuple[int, int, int] | list[int]) -> Resources:
        cu, mb, mbps = values
        return cls(cu, mb, mbps)


class PoolConfig(msgspec.Struct, frozen=True):
    """The resource pools: totals, minimum chunks, saturation threshold and reward weights."""

    totals: Resources = Resources(256, 65_536, 10_000)
    min_chunk: Resources = Resources(2, 256, 100)
    saturation_threshold: float = 0.85
    weight_bounds: tuple[float, float] = (0.5, 1.5)
    reward_step: float = 0.1

    def __post_init__(self) -> None:
        if any(total <= 0 for total in self.totals.as_tuple()):
            raise ValueError(f"pool totals must be positive, got {self.totals!r}")
        if any(chunk <= 0 for chunk in self.min_chunk.as_tuple()):
            raise ValueError(f"minimum chunks must be positive, got {self.min_chunk!r}")
        if any(
            c > t for c, t in zip(self.min_chunk.as_tuple(), self.totals.as_tuple(), strict=True)
        ):
            raise ValueError("a minimum chunk cannot be larger than its pool")
        low, high = self.weight_bounds
        if not 0 < low <= 1.0 <= high:
            raise ValueError(f"weight bounds must satisfy 0 < low <= 1 <= high, got {low}, {high}")
        if not 0 < self.saturation_threshold <= 1 or self.reward_step < 0:
            raise ValueError("saturation_threshold must be in (0, 1] and reward_step >= 0")


class Allocation(msgspec.Struct, frozen=True):
    """What one job attempt holds."""

    job_id: str
    requested: Resources
    granted: Resources
    weight: float
    best_effort: bool


class ResourcePools:
    """The free and allocated amounts of each pool; one allocation per job."""

    def __init__(self, config: PoolConfig | None = None) -> None:
        self.config = config or PoolConfig()
        self._free = list(self.config.totals.as_tuple())
        self._allocations: dict[str, Allocation] = {}
        self._weights: dict[str, float] = {}

    @property
    def free(self) -> Resources:
        return Resources.of(self._free)

    @property
    def allocated(self) -> Resources:
        totals = self.config.totals.as_tuple()
        return Resources.of([t - f for t, f in zip(totals, self._free, strict=True)])

    @property
    def allocations(self) -> dict[str, Allocation]:
        return dict(self._allocations)

    def utilization(self) -> float:
        """The highest allocated share of the three pools (0..1)."""
        totals = self.config.totals.as_tuple()
        return max((t - f) / t for t, f in zip(totals, self._free, strict=True))

    @property
    def saturated(self) -> bool:
        return self.utilization() > self.config.saturation_threshold

    def weight(self, key: str) -> float:
        return self._weights.get(key, 1.0)

    def reward(self, key: str, signal: float) -> float:
        """Move ``key``'s allocation weight by ``reward_step · signal``, within bounds."""
        low, high = self.config.weight_bounds
        signal = max(-1.0, min(1.0, signal))
        weight = min(high, max(low, self.weight(key) + self.config.reward_step * signal))
        self._weights[key] = weight
        return weight

    def allocate(self, job_id: str, request: ResourceRequest, key: str = "") -> Allocation | None:
        """Allocate for ``job_id`` (weighted by ``key``'s weight); ``None`` if nothing fits."""
        if job_id in self._allocations:
            raise ValueError(f"job {job_id!r} already holds an allocation")
        weight = self.weight(key)
        chunks = self.config.min_chunk.as_tuple()
        totals = self.config.totals.as_tuple()
        asked = (request.compute_units, request.memory_mb, request.bandwidth_mbps)
        wanted = [
            min(_chunked_up(amount * weight, chunk), _chunked_down(total, chunk))
            if amount > 0
            else 0
            for amount, chunk, total in zip(asked, chunks, totals, strict=True)
        ]
        free = self._free
        best_effort = any(w > f for w, f in zip(wanted, free, strict=True))
        if best_effort:
            fraction = min(f / w for w, f in zip(wanted, free, strict=True) if w > 0)
            wanted = [
                max(chunk, _chunked_down(w * fraction, chunk)) if w > 0 else 0
                for w, chunk in zip(wanted, chunks, strict=True)
            ]
            if any(w > f for w, f in zip(wanted, free, strict=True)):
                return None
        for i, amount in enumerate(wanted):
            free[i] -= amount
        allocation = Allocation(
            job_id=job_id,
            requested=Resources.of(list(asked)),
            granted=Resources.of(wanted),
            weight=weight,
            best_effort=best_effort,
        )
        self._allocations[job_id] = allocation
        return allocation

    def release(self, job_id: str) -> Allocation | None:
        """Return ``job_id``'s allocation to the pools (``None`` if it held none)."""
        allocation = self._allocations.pop(job_id, None)
        if allocation is not None:
            for i, amount in enumerate(allocation.granted.as_tuple()):
                self._free[i] += amount
        return allocation


def _chunked_up(amount: float, chunk: int) -> int:
    return max(1, math.ceil(amount / chunk - 1e-9)) * chunk


def _chunked_down(amount: float, chunk: int) -> int:
    return math.floor(amount / chunk + 1e-9) * chunk
