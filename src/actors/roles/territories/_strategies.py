"""Assignment strategies: which agent owns which territory.

One interface, :class:`AssignmentStrategy`: ``assign(territories, agents,
load)`` maps every territory's name to one agent id. Three strategies, picked
by name with :func:`make_strategy` (the manager's ``strategy`` setting):

``consistent-hash``
    A ring of ``virtual_nodes`` points per agent (BLAKE2b, 64 bits); a
    territory goes to the first agent point at or after its own hash. When an
    agent joins or leaves, only the territories on the arcs it gains or loses
    move (about ``1/n`` of them).
``curve``
    Territories are points in the unit cube (2-D, N-D; a territory without a
    point gets one from its name's hash); they are ordered along a Hilbert or
    Z-order curve and cut into one contiguous run per agent, of equal counts.
    Neighbouring territories share an owner; a membership change shifts the
    cut points, so more territories move than on the ring.
``heat-aware``
    The ring's assignment, then hot territories move off overloaded agents:
    while the most loaded agent carries more than ``tolerance`` above the
    mean, its hottest territory that still lowers the maximum moves to the
    least loaded agent. ``load`` is the workload's weight plus the
    territory's heat (see :class:`~actors.roles.territories.HeatMap`).

Strategies are deterministic: the same inputs give the same assignment.
"""

from __future__ import annotations

import bisect
import hashlib
from typing import TYPE_CHECKING, Protocol

import msgspec

from ._curves import CURVES, quantize
from ._errors import InvalidTerritoryConfig, UnknownStrategy

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "STRATEGIES",
    "AssignmentStrategy",
    "ConsistentHashing",
    "CurveRanges",
    "HeatAware",
    "Territory",
    "make_strategy",
]


class Territory(msgspec.Struct, frozen=True):
    """A contested resource: a file path, a key range, a region of an embedding space."""

    name: str
    """Unique among the manager's territories; what leases and fencing tokens name."""
    point: tuple[float, ...] = ()
    """Where it lies in the unit cube, for the ``curve`` strategy (empty: from the name)."""


class AssignmentStrategy(Protocol):
    """Maps territories to agents."""

    name: str

    def assign(
        self,
        territories: Sequence[Territory],
        agents: Sequence[str],
        load: Mapping[str, float],
    ) -> dict[str, str]:
        """Every territory's name to one of ``agents`` (empty when there are no agents).

        ``load`` maps territory names to their weight (missing: 1.0); only
        load-aware strategies read it.
        """
        ...


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class ConsistentHashing:
    """A hash ring with virtual nodes: minimal movement when agents join or leave."""

    name = "consistent-hash"

    def __init__(self, virtual_nodes: int = 128) -> None:
        if not isinstance(virtual_nodes, int) or not 1 <= virtual_nodes <= 4096:
            raise InvalidTerritoryConfig(
                "virtual_nodes", "must be an int in 1..4096", virtual_nodes
            )
        self.virtual_nodes = virtual_nodes
        self._ring_for: tuple[str, ...] = ()
        self._points: list[int] = []
        self._owners: list[str] = []

    def _ring(self, agents: Sequence[str]) -> None:
        key = tuple(sorted(set(agents)))
        if key == self._ring_for and self._points:
            return
        ring = sorted(
            (_hash64(f"{agent}#{i}"), agent) for agent in key for i in range(self.virtual_nodes)
        )
        self._points = [point for point, _ in ring]
        self._owners = [agent for _, agent in ring]
        self._ring_for = key

    def owner(self, territory: str, agents: Sequence[str]) -> str:
        """The agent that owns ``territory`` on the ring of ``agents``."""
        self._ring(agents)
        at = bisect.bisect_left(self._points, _hash64(territory))
        return self._owners[at % len(self._owners)]

    def assign(
        self,
        territories: Sequence[Territory],
        agents: Sequence[str],
        load: Mapping[str, float],
    ) -> dict[str, str]:
        if not agents:
            return {}
        self._ring(agents)
        points, owners, size = self._points, self._owners, len(self._owners)
        left = bisect.bisect_left
        return {t.name: owners[left(points, _hash64(t.name)) % size] for t in territories}


class CurveRanges:
    """Contiguous ranges of a Hilbert or Z-order curve, one per agent."""

    name = "curve"

    def __init__(self, curve: str = "hilbert", dims: int = 2, bits: int = 16) -> None:
        if curve not in CURVES:
            raise InvalidTerritoryConfig("curve", f"must be one of {sorted(CURVES)}", curve)
        if not isinstance(dims, int) or not 1 <= dims <= 16:
            raise InvalidTerritoryConfig("dims", "must be an int in 1..16", dims)
        if not isinstance(bits, int) or not 1 <= bits <= 32:
            raise InvalidTerritoryConfig("bits", "must be an int in 1..32", bits)
        self.curve = curve
        self.dims = dims
        self.bits = bits
        self._index = CURVES[curve]
        self._cache: dict[Territory, int] = {}

    def index(self, territory: Territory) -> int:
        """The territory's position along the curve."""
        cached = self._cache.get(territory)
        if cached is not None:
            return cached
        point = territory.point
        if not point:
            digest = hashlib.blake2b(territory.name.encode(), digest_size=4 * self.dims).digest()
            point = tuple(
                int.from_bytes(digest[4 * i : 4 * i + 4], "big") / 2**32 for i in range(self.dims)
            )
        elif len(point) != self.dims:
            raise InvalidTerritoryConfig(
                f"territory {territory.name!r} point", f"must have {self.dims} coordinates", point
            )
        value = self._index(quantize(point, self.bits), self.bits)
        if len(self._cache) < 1_000_000:
            self._cache[territory] = value
        return value

    def assign(
        self,
        territories: Sequence[Territory],
        agents: Sequence[str],
        load: Mapping[str, float],
    ) -> dict[str, str]:
        if not agents:
            return {}
        ordered = sorted(territories, key=lambda t: (self.index(t), t.name))
        owners = sorted(set(agents))
        n, count = len(owners), len(ordered)
        result: dict[str, str] = {}
        for i, agent in enumerate(owners):
            for territory in ordered[i * count // n : (i + 1) * count // n]:
                result[territory.name] = agent
        return result


class HeatAware:
    """The ring's assignment, with hot territories moved off overloaded agents."""

    name = "heat-aware"

    def __init__(self, virtual_nodes: int = 128, tolerance: float = 0.1) -> None:
        if not 0.0 <= tolerance <= 10.0:
            raise InvalidTerritoryConfig("tolerance", "must lie in [0, 10]", tolerance)
        self.tolerance = tolerance
        self._ring = ConsistentHashing(virtual_nodes)

    def assign(
        self,
        territories: Sequence[Territory],
        agents: Sequence[str],
        load: Mapping[str, float],
    ) -> dict[str, str]:
        result = self._ring.assign(territories, agents, load)
        if not result:
            return result
        weight = {t.name: load.get(t.name, 1.0) for t in territories}
        carried = dict.fromkeys(sorted(set(agents)), 0.0)
        held: dict[str, list[str]] = {agent: [] for agent in carried}
        for name, agent in result.items():
            carried[agent] += weight[name]
            held[agent].append(name)
        for names in held.values():
            names.sort(key=lambda name: (-weight[name], name))
        mean = sum(carried.values()) / len(carried)
        limit = mean * (1.0 + self.tolerance)
        for _ in range(len(result)):
            top = max(carried, key=lambda a: (carried[a], a))
            low = min(carried, key=lambda a: (carried[a], a))
            gap = carried[top] - carried[low]
            if carried[top] <= limit or len(held[top]) <= 1:
                break
            # The hottest territory that, moved, leaves both below the old maximum.
            pick = next((name for name in held[top] if weight[name] < gap), None)
            if pick is None:
                break
            held[top].remove(pick)
            bisect.insort(held[low], pick, key=lambda name: (-weight[name], name))
            carried[top] -= weight[pick]
            carried[low] += weight[pick]
            result[pick] = low
        return result


STRATEGIES = ("consistent-hash", "curve", "heat-aware")
"""The strategy names :func:`make_strategy` knows."""


def make_strategy(name: str, **options: object) -> AssignmentStrategy:
    """The strategy called ``name``, built with ``options`` (see each class)."""
    if name == "consistent-hash":
        return ConsistentHashing(**options)  # type: ignore[arg-type]
    if name == "curve":
        return CurveRanges(**options)  # type: ignore[arg-type]
    if name == "heat-aware":
        return HeatAware(**options)  # type: ignore[arg-type]
    raise UnknownStrategy(name, STRATEGIES)
