"""The territory manager: assignment, leases with fencing tokens, heat.

One actor owns a set of territories. It

* assigns them to agents through the configured strategy, again on each
  membership change (:class:`Join`, :class:`Leave`) or :class:`Rebalance`,
  and keeps the telemetry of the last reassignment;
* grants, renews and releases leases through its :class:`LeaseStore` (one
  transaction per request: the token advances with the lease row) and writes
  a ledger record for every decision (see :mod:`._records`);
* bumps heat on contention (a refused acquire, a stale-token refusal
  reported by a guard, a :class:`Contention` report) and publishes
  :class:`HeatAlert` / :class:`HeatCleared` on :data:`TERRITORY_EVENTS`
  (and in the ledger) when heat crosses its threshold or falls back;
* registers two maintenance jobs on the system's work-stealing pool
  (``system.maintenance``): lease aging (expired leases reclaimed, every
  ``maintenance_interval``) and heat decay (every ``decay_interval``). A run
  on the pool only produces a tick; the tick comes back to the manager as a
  message and the manager changes its own state, so no state is shared with
  the pool's threads.

Times are read from the injected clock (the system's unless given):
lease expiry from ``clock.wall()`` (so a lease stored on disk means the same
after a restart), schedules from the system's maintenance (``clock.now()``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import msgspec

from ... import Actor, ActorNotFound, ActorRef
from ...lowlevel import delivery_filters
from .._records import append_record
from ._errors import InvalidTerritoryConfig, LeaseExpired, LeaseNotHeld, LeaseRefused
from ._fencing import FencingGuard
from ._heat import ALERT, HeatConfig, HeatEvent, HeatMap
from ._leases import EXPIRED, HELD, Lease, Refusal
from ._messages import (
    TERRITORY_EVENTS,
    Acquire,
    AddTerritories,
    Assignment,
    AttachGuard,
    Contention,
    GetAssignment,
    GetHeat,
    GetLeases,
    GetStatistics,
    Granted,
    HeatAlert,
    HeatCleared,
    HeatReport,
    Join,
    LeaseEnded,
    Leave,
    ManagerStatistics,
    Rebalance,
    Refused,
    Release,
    Released,
    Renew,
    Renewed,
    StaleTokenSeen,
)
from ._records import (
    FENCE_REFUSED,
    HEAT_ALERT,
    HEAT_CLEARED,
    lease_table_reducers,
    record_expired,
    record_result,
)
from ._store import LeaseStore, MemoryLeaseStore
from ._strategies import STRATEGIES, Territory, make_strategy
from ._telemetry import Balance, balance, moved

if TYPE_CHECKING:
    from ... import Clock
    from ...ledger import Ledger

__all__ = [
    "TerritoryConfig",
    "TerritoryManager",
    "acquire",
    "release",
    "renew",
]


class TerritoryConfig(msgspec.Struct, frozen=True):
    """How a :class:`TerritoryManager` assigns, leases and heats its territories."""

    strategy: str = "consistent-hash"
    """``consistent-hash``, ``curve`` or ``heat-aware``."""
    strategy_options: dict[str, Any] = {}  # Any: keyword arguments of the strategy's class
    """Passed to the strategy (``virtual_nodes``, ``curve``/``dims``/``bits``, ``tolerance``)."""
    default_ttl: float = 10.0
    """Seconds a lease lasts when the request names no TTL."""
    max_ttl: float = 3600.0
    """The longest TTL a request may ask for."""
    maintenance_interval: float = 1.0
    """Seconds between lease-aging runs: no lease outlives its TTL by more than this."""
    decay_interval: float = 1.0
    """Seconds between heat-decay runs."""
    heat: HeatConfig = HeatConfig()
    """Half-life, alert threshold and clear level."""
    refusal_heat: float = 1.0
    """Heat a refused acquire adds to its territory."""
    stale_heat: float = 1.0
    """Heat a stale-token refusal adds."""

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise InvalidTerritoryConfig("strategy", f"must be one of {STRATEGIES}", self.strategy)
        for name in ("default_ttl", "max_ttl", "maintenance_interval", "decay_interval"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise InvalidTerritoryConfig(name, "must be a positive number of seconds", value)
        if self.default_ttl > self.max_ttl:
            raise InvalidTerritoryConfig("default_ttl", "must not exceed max_ttl", self.default_ttl)
        for name in ("refusal_heat", "stale_heat"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InvalidTerritoryConfig(name, "must be a non-negative number", value)
        make_strategy(self.strategy, **self.strategy_options)  # options checked now, not later


_Reply = Granted | Renewed | Released | Refused

RELEASED = "released"
"""How a released lease ended (``LeaseEnded.how``)."""


class _AgeLeases(msgspec.Struct, frozen=True):
    """A lease-aging tick, produced on the maintenance pool."""


class _DecayHeat(msgspec.Struct, frozen=True):
    """A heat-decay tick, produced on the maintenance pool."""


_AGE = _AgeLeases()
_DECAY = _DecayHeat()


def _age_tick() -> _AgeLeases:
    return _AGE


def _decay_tick() -> _DecayHeat:
    return _DECAY


class TerritoryManager(Actor[Any]):
    """Assigns territories to agents and leases them with fencing tokens.

    :param config: strategy, TTLs, maintenance intervals, heat.
    :param store: where lease rows and tokens live. Pass one (a
        :class:`MemoryLeaseStore` that outlives the actor, or a
        :class:`~actors.roles.territories.SQLiteLeaseStore`) so that a
        restarted manager continues its tokens. Without one, the manager
        rebuilds a memory store from ``ledger`` at start (tokens continue from
        the ledger), or starts empty.
    :param ledger: where every lease decision, fence refusal and heat alert is
        recorded.
    :param clock: the clock leases and heat read (default: the system's).
    :param territories: the territories known at start.
    """

    def __init__(
        self,
        config: TerritoryConfig | None = None,
        *,
        store: LeaseStore | None = None,
        ledger: Ledger | None = None,
        clock: Clock | None = None,
        territories: tuple[Territory, ...] = (),
    ) -> None:
        self.config = config or TerritoryConfig()
        self.store: LeaseStore | None = store
        self.ledger = ledger
        self._clock = clock
        self.heat = HeatMap(self.config.heat)
        self.strategy = make_strategy(self.config.strategy, **self.config.strategy_options)
        self._territories: dict[str, Territory] = {t.name: t for t in territories}
        self._agents: list[str] = []
        self._owners: dict[str, str] = {}
        self._balance = Balance(0, 1.0, 0.0)
        self._moved_last = 0
        self._latency = 0.0
        self._guards: list[FencingGuard] = []
        self._jobs: list[Any] = []  # Any: maintenance job handles
        self._counts = dict.fromkeys(
            (
                "granted",
                "renewed",
                "released",
                "expired",
                "refused",
                "stale_refused",
                "alerts",
                "clears",
                "reassignments",
                "moved",
            ),
            0,
        )

    # -- lifetime -----------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The clock leases and heat read."""
        return self._clock if self._clock is not None else self.context.system.clock

    async def on_start(self) -> None:
        if self.store is None:
            state = None
            if self.ledger is not None:
                state = (await self.ledger.replay(lease_table_reducers())).state
            self.store = MemoryLeaseStore(state)
        maintenance = self.context.system.maintenance
        path = self.context.path
        tell = self.self_ref.tell
        self._jobs = [
            maintenance.every(
                f"territories.lease-aging:{path}",
                self.config.maintenance_interval,
                _age_tick,
                on_result=tell,
            ),
            maintenance.every(
                f"territories.heat-decay:{path}",
                self.config.decay_interval,
                _decay_tick,
                on_result=tell,
            ),
        ]

    async def on_stop(self) -> None:
        jobs, self._jobs = self._jobs, []
        for job in jobs:
            job.cancel()

    # -- guards ---------------------------------------------------------------------

    def attach_guard(self, guard: FencingGuard) -> None:
        """Tell ``guard`` (a local guard) of every lease that ends, so it refuses its token.

        Also sets the guard's ``on_stale`` to report refusals to this manager
        (heat, and a ``fence.refused`` record). Call it from the manager's own
        code, or send the manager nothing: see :meth:`stale_reporter`.
        """
        if guard not in self._guards:
            self._guards.append(guard)
        guard.on_stale = self.stale_reporter(repr(guard))

    def _attach(self, path: str) -> bool:
        try:
            target = self.context.system.lookup(path)
            filters = delivery_filters(target)
        except (ActorNotFound, LookupError, TypeError, ValueError):
            return False
        for installed in filters:
            if isinstance(installed, FencingGuard):
                self.attach_guard(installed)
                return True
        return False

    def stale_reporter(self, name: str = "") -> Any:  # Any: a (territory, token, highest) callback
        """A callback for :class:`FencingGuard` ``on_stale`` that tells this manager."""
        ref = self.self_ref

        def report(territory: str, token: int, highest: int) -> None:
            ref.tell(StaleTokenSeen(territory, token, highest, name))

        return report

    # -- messages ---------------------------------------------------------------------

    async def receive(self, message: Any) -> Any:
        kind = type(message)
        if kind is Acquire:
            return self._acquire(message)
        if kind is Renew:
            return self._renew(message)
        if kind is Release:
            return self._release(message)
        if kind is _AgeLeases:
            self.age()
            return None
        if kind is _DecayHeat:
            self.decay()
            return None
        if kind is StaleTokenSeen:
            self._stale(message)
            return None
        if kind is Contention:
            self._bump(message.territory, message.amount)
            return None
        if kind is AttachGuard:
            return self._attach(message.path)
        if kind is Join:
            if message.agent not in self._agents:
                self._agents.append(message.agent)
                self._reassign()
            return self.assignment()
        if kind is Leave:
            if message.agent in self._agents:
                self._agents.remove(message.agent)
                self._reassign()
            return self.assignment()
        if kind is AddTerritories:
            for territory in message.territories:
                self._territories[territory.name] = territory
            self._reassign()
            return self.assignment()
        if kind is Rebalance:
            self._reassign()
            return self.assignment()
        if kind is GetAssignment:
            return self.assignment()
        if kind is GetLeases:
            return self._store().snapshot()
        if kind is GetHeat:
            now = self.clock.wall()
            return HeatReport(self.heat.snapshot(now), tuple(sorted(self.heat.alerted)))
        if kind is GetStatistics:
            return self.statistics()
        return None

    def _store(self) -> LeaseStore:
        store = self.store
        if store is None:
            self.store = store = MemoryLeaseStore()
        return store

    def _ttl(self, ttl: float | None) -> float:
        if ttl is None:
            return float(self.config.default_ttl)
        ok = isinstance(ttl, int | float) and math.isfinite(ttl)
        if not (ok and 0 < ttl <= self.config.max_ttl):
            raise InvalidTerritoryConfig("ttl", f"must lie in (0, {self.config.max_ttl}]", ttl)
        return float(ttl)

    def _invalid(self, territory: str, holder: str, exc: Exception) -> Refused:
        return Refused(territory, holder, "invalid", error=str(exc))

    def _acquire(self, message: Acquire) -> _Reply:
        try:
            ttl = self._ttl(message.ttl)
        except InvalidTerritoryConfig as exc:
            return self._invalid(message.territory, message.holder, exc)
        now = self.clock.wall()
        result = self._store().acquire(message.territory, message.holder, ttl, now)
        self._reclaimed()
        record_result(self.ledger, "acquire", result)
        if isinstance(result, Lease):
            self._counts["granted"] += 1
            return Granted(result)
        self._bump(result.territory, self.config.refusal_heat, now)
        return self._refused(result)

    def _renew(self, message: Renew) -> _Reply:
        try:
            ttl = self._ttl(message.ttl)
        except InvalidTerritoryConfig as exc:
            return self._invalid(message.territory, message.holder, exc)
        now = self.clock.wall()
        store = self._store()
        result = store.renew(message.territory, message.holder, message.token, ttl, now)
        self._reclaimed()
        record_result(self.ledger, "renew", result)
        if isinstance(result, Lease):
            self._counts["renewed"] += 1
            return Renewed(result)
        return self._refused(result)

    def _release(self, message: Release) -> _Reply:
        now = self.clock.wall()
        result = self._store().release(message.territory, message.holder, message.token, now)
        self._reclaimed()
        record_result(self.ledger, "release", result)
        if isinstance(result, Lease):
            self._counts["released"] += 1
            self._ended(result, RELEASED)
            return Released(result)
        return self._refused(result)

    def _reclaimed(self) -> None:
        store = self.store
        assert store is not None
        for lease in store.take_reclaimed():
            record_expired(self.ledger, lease)
            self._ended(lease, EXPIRED)

    def _refused(self, refusal: Refusal) -> Refused:
        self._counts["refused"] += 1
        current = refusal.current
        return Refused(
            refusal.territory,
            refusal.holder,
            refusal.reason,
            token=refusal.token,
            current_holder=None if current is None else current.holder,
            current_token=None if current is None else current.token,
            expires=None if current is None else current.expires,
        )

    def _ended(self, lease: Lease, how: str) -> None:
        if how == EXPIRED:
            self._counts["expired"] += 1
        for guard in self._guards:
            guard.revoke(lease.territory, lease.token)
        self.context.system.topics.publish(
            TERRITORY_EVENTS, LeaseEnded(lease.territory, lease.holder, lease.token, how)
        )

    # -- maintenance -----------------------------------------------------------------

    def age(self) -> list[Lease]:
        """Reclaim every expired lease now (what the lease-aging job triggers)."""
        gone = self._store().expire(self.clock.wall())
        for lease in gone:
            record_expired(self.ledger, lease)
            self._ended(lease, EXPIRED)
        return gone

    def decay(self) -> None:
        """Decay heat to now, publishing clears (what the heat-decay job triggers)."""
        for event in self.heat.decay(self.clock.wall()):
            self._heat_event(event)

    def _bump(self, territory: str, amount: float, now: float | None = None) -> None:
        if not (math.isfinite(amount) and amount >= 0):
            return
        event = self.heat.bump(territory, self.clock.wall() if now is None else now, amount)
        if event is not None:
            self._heat_event(event)

    def _stale(self, message: StaleTokenSeen) -> None:
        self._counts["stale_refused"] += 1
        append_record(
            self.ledger,
            FENCE_REFUSED,
            {
                "territory": message.territory,
                "token": message.token,
                "highest": message.highest,
                "guard": message.guard,
            },
        )
        self._bump(message.territory, self.config.stale_heat)

    def _heat_event(self, event: HeatEvent) -> None:
        topics = self.context.system.topics
        if event.kind == ALERT:
            self._counts["alerts"] += 1
            append_record(
                self.ledger,
                HEAT_ALERT,
                {"territory": event.territory, "heat": event.heat, "threshold": event.level},
            )
            topics.publish(TERRITORY_EVENTS, HeatAlert(event.territory, event.heat, event.level))
            self.context.log.warning(
                "territory_heat_alerted", territory=event.territory, heat=event.heat
            )
        else:
            self._counts["clears"] += 1
            append_record(
                self.ledger,
                HEAT_CLEARED,
                {"territory": event.territory, "heat": event.heat, "clear_below": event.level},
            )
            topics.publish(TERRITORY_EVENTS, HeatCleared(event.territory, event.heat, event.level))
            self.context.log.info(
                "territory_heat_cleared", territory=event.territory, heat=event.heat
            )

    # -- assignment ------------------------------------------------------------------

    def _reassign(self) -> None:
        clock = self.clock
        now = clock.wall()
        load = {name: 1.0 + self.heat.heat(name, now) for name in self._territories}
        started = clock.now()
        owners = self.strategy.assign(list(self._territories.values()), self._agents, load)
        self._latency = clock.now() - started
        self._moved_last = moved(self._owners, owners)
        self._owners = owners
        self._balance = balance(owners, self._agents, load)
        self._counts["reassignments"] += 1
        self._counts["moved"] += self._moved_last

    def assignment(self) -> Assignment:
        """Who owns what, with the last reassignment's telemetry."""
        return Assignment(
            self.strategy.name, dict(self._owners), self._balance, self._moved_last, self._latency
        )

    def statistics(self) -> ManagerStatistics:
        """The manager's counters."""
        c = self._counts
        leases = len(self._store().snapshot()["leases"])
        return ManagerStatistics(
            granted=c["granted"],
            renewed=c["renewed"],
            released=c["released"],
            expired=c["expired"],
            refused=c["refused"],
            stale_refused=c["stale_refused"],
            alerts=c["alerts"],
            clears=c["clears"],
            leases=leases,
            reassignments=c["reassignments"],
            moved=c["moved"],
        )


# -- client helpers: the replies as values or errors ---------------------------------------


async def acquire(
    manager: ActorRef[Any], territory: str, holder: str, ttl: float | None = None
) -> Lease:
    """Ask ``manager`` for a lease; :class:`LeaseRefused` if another holds it."""
    reply = await manager.ask(Acquire(territory, holder, ttl))
    if isinstance(reply, Granted):
        return reply.lease
    raise _refusal(reply)


async def renew(manager: ActorRef[Any], lease: Lease, ttl: float | None = None) -> Lease:
    """Renew ``lease``; :class:`LeaseExpired` or :class:`LeaseNotHeld` if it was lost."""
    reply = await manager.ask(Renew(lease.territory, lease.holder, lease.token, ttl))
    if isinstance(reply, Renewed):
        return reply.lease
    raise _refusal(reply)


async def release(manager: ActorRef[Any], lease: Lease) -> None:
    """Release ``lease``; :class:`LeaseExpired` or :class:`LeaseNotHeld` if it was lost."""
    reply = await manager.ask(Release(lease.territory, lease.holder, lease.token))
    if not isinstance(reply, Released):
        raise _refusal(reply)


def _refusal(reply: object) -> Exception:
    if not isinstance(reply, Refused):
        return TypeError(f"unexpected reply from a territory manager: {reply!r}")
    if reply.reason == HELD:
        return LeaseRefused(
            reply.territory, reply.holder, reply.current_holder or "", reply.expires or 0.0
        )
    if reply.reason == EXPIRED:
        return LeaseExpired(reply.territory, reply.holder, reply.token, reply.expires or 0.0)
    if reply.reason == "invalid":
        return InvalidTerritoryConfig("lease request", "is invalid", reply.error)
    current = (
        "no live lease"
        if reply.current_holder is None
        else (f"held by {reply.current_holder!r} with token {reply.current_token}")
    )
    return LeaseNotHeld(reply.territory, reply.holder, reply.token, current)
