"""Territories: contested resources assigned to agents, leased with fencing tokens, heated.

* :class:`TerritoryManager`: an actor that assigns :class:`Territory` objects to
  agents through one :class:`AssignmentStrategy` (``consistent-hash``,
  ``curve``, ``heat-aware``, chosen by :class:`TerritoryConfig`), grants
  leases with TTLs and fencing tokens from a :class:`LeaseStore`, records
  every decision in the ledger, and keeps a :class:`HeatMap`.
* :class:`FencingGuard` (:func:`guard`, :class:`FencedActor`): a delivery
  filter that refuses a message carrying a stale token before ``receive``,
  with :class:`StaleFencingToken` to the sender.
* :func:`lease_table_reducers`: replaying the ledger rebuilds the lease table
  byte for byte.

See the "Territories" page of the docs.
"""

from ._curves import hilbert_index as hilbert_index
from ._curves import z_order_index as z_order_index
from ._errors import InvalidTerritoryConfig as InvalidTerritoryConfig
from ._errors import LeaseExpired as LeaseExpired
from ._errors import LeaseNotHeld as LeaseNotHeld
from ._errors import LeaseRefused as LeaseRefused
from ._errors import StaleFencingToken as StaleFencingToken
from ._errors import TerritoryError as TerritoryError
from ._errors import UnknownStrategy as UnknownStrategy
from ._fencing import Fenced as Fenced
from ._fencing import FencedActor as FencedActor
from ._fencing import FencingGuard as FencingGuard
from ._fencing import guard as guard
from ._heat import HeatConfig as HeatConfig
from ._heat import HeatEvent as HeatEvent
from ._heat import HeatMap as HeatMap
from ._leases import Lease as Lease
from ._leases import Refusal as Refusal
from ._manager import TerritoryConfig as TerritoryConfig
from ._manager import TerritoryManager as TerritoryManager
from ._manager import acquire as acquire
from ._manager import release as release
from ._manager import renew as renew
from ._messages import TERRITORY_EVENTS as TERRITORY_EVENTS
from ._messages import Acquire as Acquire
from ._messages import AddTerritories as AddTerritories
from ._messages import Assignment as Assignment
from ._messages import AttachGuard as AttachGuard
from ._messages import Contention as Contention
from ._messages import GetAssignment as GetAssignment
from ._messages import GetHeat as GetHeat
from ._messages import GetLeases as GetLeases
from ._messages import GetStatistics as GetStatistics
from ._messages import Granted as Granted
from ._messages import HeatAlert as HeatAlert
from ._messages import HeatCleared as HeatCleared
from ._messages import HeatReport as HeatReport
from ._messages import Join as Join
from ._messages import LeaseEnded as LeaseEnded
from ._messages import Leave as Leave
from ._messages import ManagerStatistics as ManagerStatistics
from ._messages import Rebalance as Rebalance
from ._messages import Refused as Refused
from ._messages import Release as Release
from ._messages import Released as Released
from ._messages import Renew as Renew
from ._messages import Renewed as Renewed
from ._messages import StaleTokenSeen as StaleTokenSeen
from ._records import FENCE_REFUSED as FENCE_REFUSED
from ._records import HEAT_ALERT as HEAT_ALERT
from ._records import HEAT_CLEARED as HEAT_CLEARED
from ._records import LEASE_EXPIRED as LEASE_EXPIRED
from ._records import LEASE_GRANTED as LEASE_GRANTED
from ._records import LEASE_GRANTING_KINDS as LEASE_GRANTING_KINDS
from ._records import LEASE_REFUSED as LEASE_REFUSED
from ._records import LEASE_RELEASED as LEASE_RELEASED
from ._records import LEASE_RENEWED as LEASE_RENEWED
from ._records import lease_table_reducers as lease_table_reducers
from ._sqlite import SQLiteLeaseStore as SQLiteLeaseStore
from ._store import LeaseStore as LeaseStore
from ._store import MemoryLeaseStore as MemoryLeaseStore
from ._strategies import STRATEGIES as STRATEGIES
from ._strategies import AssignmentStrategy as AssignmentStrategy
from ._strategies import ConsistentHashing as ConsistentHashing
from ._strategies import CurveRanges as CurveRanges
from ._strategies import HeatAware as HeatAware
from ._strategies import Territory as Territory
from ._strategies import make_strategy as make_strategy
from ._telemetry import Balance as Balance
from ._telemetry import balance as balance
from ._telemetry import moved as moved

__all__ = (
    "FENCE_REFUSED",
    "HEAT_ALERT",
    "HEAT_CLEARED",
    "LEASE_EXPIRED",
    "LEASE_GRANTED",
    "LEASE_GRANTING_KINDS",
    "LEASE_REFUSED",
    "LEASE_RELEASED",
    "LEASE_RENEWED",
    "STRATEGIES",
    "TERRITORY_EVENTS",
    "Acquire",
    "AddTerritories",
    "Assignment",
    "AssignmentStrategy",
    "AttachGuard",
    "Balance",
    "ConsistentHashing",
    "Contention",
    "CurveRanges",
    "Fenced",
    "FencedActor",
    "FencingGuard",
    "GetAssignment",
    "GetHeat",
    "GetLeases",
    "GetStatistics",
    "Granted",
    "HeatAlert",
    "HeatAware",
    "HeatCleared",
    "HeatConfig",
    "HeatEvent",
    "HeatMap",
    "HeatReport",
    "InvalidTerritoryConfig",
    "Join",
    "Lease",
    "LeaseEnded",
    "LeaseExpired",
    "LeaseNotHeld",
    "LeaseRefused",
    "LeaseStore",
    "Leave",
    "ManagerStatistics",
    "MemoryLeaseStore",
    "Rebalance",
    "Refusal",
    "Refused",
    "Release",
    "Released",
    "Renew",
    "Renewed",
    "SQLiteLeaseStore",
    "StaleFencingToken",
    "StaleTokenSeen",
    "Territory",
    "TerritoryConfig",
    "TerritoryError",
    "TerritoryManager",
    "UnknownStrategy",
    "acquire",
    "balance",
    "guard",
    "hilbert_index",
    "lease_table_reducers",
    "make_strategy",
    "moved",
    "release",
    "renew",
    "z_order_index",
)

from protocol._public import publish as _publish_names

_publish_names(__name__, globals(), __all__)
