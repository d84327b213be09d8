"""Telemetry that compares strategies on the same workload.

* :func:`balance`: per-agent load (the sum of its territories' weights), its
  maximum over its mean and its coefficient of variation (population
  standard deviation over mean). 1.0 and 0.0 are a perfect balance.
* :func:`moved`: how many territories changed owner between two assignments
  (one membership change's cost).

Assignment latency is measured by whoever calls the strategy (the
manager reports the last one in :class:`~actors.roles.territories.ManagerStatistics`,
the benchmark times many).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["Balance", "balance", "moved"]


class Balance(msgspec.Struct, frozen=True):
    """How evenly load is spread over agents."""

    agents: int
    max_over_mean: float
    cv: float


def balance(
    assignment: Mapping[str, str], agents: Sequence[str], load: Mapping[str, float]
) -> Balance:
    """The load balance of ``assignment`` over ``agents`` (every agent counts, idle ones too)."""
    carried = dict.fromkeys(agents, 0.0)
    for territory, agent in assignment.items():
        carried[agent] = carried.get(agent, 0.0) + load.get(territory, 1.0)
    if not carried:
        return Balance(0, 1.0, 0.0)
    values = list(carried.values())
    mean = sum(values) / len(values)
    if mean <= 0.0:
        return Balance(len(values), 1.0, 0.0)
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    return Balance(len(values), max(values) / mean, math.sqrt(variance) / mean)


def moved(before: Mapping[str, str], after: Mapping[str, str]) -> int:
    """How many territories of ``after`` have another owner (or none) in ``before``."""
    return sum(1 for territory, agent in after.items() if before.get(territory) != agent)
