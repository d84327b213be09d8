"""The ledger: hash-chained, durable, verifiable, replayable.

Append records from actors with ``await ledger.append(kind, payload)`` or
``ledger.append_nowait(kind, payload)``; a writer thread group-commits them to
SQLite (WAL) off the event loop. :meth:`Ledger.verify` names the first bad
record; :meth:`Ledger.replay` rebuilds state through :class:`Reducers` and a
digest makes two replays comparable. ``python -m actors.ledger`` does the same
from a shell.
"""

from protocol._public import publish as _publish_names

from ._chain import Fault as Fault
from ._chain import FaultKind as FaultKind
from ._chain import VerifyReport as VerifyReport
from ._errors import CheckpointNotFound as CheckpointNotFound
from ._errors import EpochError as EpochError
from ._errors import EpochNotFound as EpochNotFound
from ._errors import InvalidPayload as InvalidPayload
from ._errors import LedgerClosed as LedgerClosed
from ._errors import LedgerConflict as LedgerConflict
from ._errors import LedgerCorrupted as LedgerCorrupted
from ._errors import LedgerError as LedgerError
from ._errors import LedgerFull as LedgerFull
from ._errors import LedgerNotFound as LedgerNotFound
from ._errors import LedgerWriteError as LedgerWriteError
from ._errors import NotALedger as NotALedger
from ._errors import ReplayError as ReplayError
from ._ledger import Ledger as Ledger
from ._ledger import LedgerStatistics as LedgerStatistics
from ._ledger import open_ledger as open_ledger
from ._memory import MemoryStore as MemoryStore
from ._reader import LedgerReader as LedgerReader
from ._record import GENESIS_HASH as GENESIS_HASH
from ._record import Checkpoint as Checkpoint
from ._record import Record as Record
from ._replay import Reducer as Reducer
from ._replay import Reducers as Reducers
from ._replay import ReplayResult as ReplayResult
from ._replay import state_digest as state_digest
from ._replay import summary_reducers as summary_reducers
from ._sqlite import SQLiteStore as SQLiteStore
from ._store import Durability as Durability
from ._store import Store as Store
from ._store import StoreState as StoreState

__all__ = (
    "GENESIS_HASH",
    "Checkpoint",
    "CheckpointNotFound",
    "Durability",
    "EpochError",
    "EpochNotFound",
    "Fault",
    "FaultKind",
    "InvalidPayload",
    "Ledger",
    "LedgerClosed",
    "LedgerConflict",
    "LedgerCorrupted",
    "LedgerError",
    "LedgerFull",
    "LedgerNotFound",
    "LedgerReader",
    "LedgerStatistics",
    "LedgerWriteError",
    "MemoryStore",
    "NotALedger",
    "Record",
    "Reducer",
    "Reducers",
    "ReplayError",
    "ReplayResult",
    "SQLiteStore",
    "Store",
    "StoreState",
    "VerifyReport",
    "open_ledger",
    "state_digest",
    "summary_reducers",
)

_publish_names(__name__, globals(), __all__)
