"""Errors of the ledger.

The tree::

    ActorError                              root of everything raised by ``actors``
    └── LedgerError                         root of everything raised by ``actors.ledger``
        ├── LedgerClosed (RuntimeError)     the ledger is not open (not entered, or already left)
        ├── LedgerFull                      ``append_nowait`` found too many records waiting
        ├── InvalidPayload (TypeError)      a payload msgspec cannot encode, or a bad kind
        ├── EpochError (ValueError)         an epoch that would go backwards
        ├── LedgerNotFound (FileNotFoundError)  no ledger at that path
        ├── NotALedger (ValueError)         the file is not a Tadpole ledger
        ├── LedgerWriteError (OSError)      the store failed to commit a batch; the ledger stops
        │   └── LedgerConflict              another writer appended to the same file
        ├── LedgerCorrupted (ValueError)    the chain is broken; carries the first :class:`Fault`
        ├── CheckpointNotFound (LookupError)  no checkpoint where one is needed
        └── ReplayError                     replay cannot proceed (reducer failed, pruned history)
            └── EpochNotFound (LookupError) no record carries the requested epoch
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import ActorError

if TYPE_CHECKING:
    from ._chain import Fault

__all__ = [
    "CheckpointNotFound",
    "EpochError",
    "EpochNotFound",
    "InvalidPayload",
    "LedgerClosed",
    "LedgerConflict",
    "LedgerCorrupted",
    "LedgerError",
    "LedgerFull",
    "LedgerNotFound",
    "LedgerWriteError",
    "NotALedger",
    "ReplayError",
]


class LedgerError(ActorError):
    """Root of the errors raised by :mod:`actors.ledger`."""


class LedgerClosed(LedgerError, RuntimeError):
    """The ledger is not open: it was never entered, or it was already closed."""


class LedgerFull(LedgerError):
    """``append_nowait`` found ``max_pending`` records already waiting for the writer."""

    def __init__(self, location: str, pending: int) -> None:
        super().__init__(f"ledger {location} has {pending} records waiting to be written")
        self.location = location
        self.pending = pending


class InvalidPayload(LedgerError, TypeError):
    """A record's payload cannot be encoded, or its kind is not a non-empty string."""


class EpochError(LedgerError, ValueError):
    """An epoch lower than the ledger's current one: epochs never go backwards."""


class LedgerNotFound(LedgerError, FileNotFoundError):
    """There is no ledger at the given path (readers never create one)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"no ledger at {path!r}")
        self.path = path


class NotALedger(LedgerError, ValueError):
    """The file exists but is not a Tadpole ledger (or a version this code cannot read)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path!r} is not a Tadpole ledger: {reason}")
        self.path = path


class LedgerWriteError(LedgerError, OSError):
    """The store failed to commit a batch.

    Nothing of the failed batch was written (the transaction rolled back), but
    its records had sequence numbers and hashes already, so the ledger stops:
    every waiting and later append raises this error until the ledger is
    reopened.
    """


class LedgerConflict(LedgerWriteError):
    """Another writer appended to the same ledger file; this writer stops."""


class LedgerCorrupted(LedgerError, ValueError):
    """The chain is broken; :attr:`fault` names the first bad record."""

    def __init__(self, location: str, fault: Fault) -> None:
        super().__init__(f"ledger {location}: {fault}")
        self.location = location
        self.fault = fault


class CheckpointNotFound(LedgerError, LookupError):
    """No checkpoint at the sequence number given (pruning must anchor on one)."""

    def __init__(self, seq: int) -> None:
        super().__init__(f"no checkpoint at seq {seq}")
        self.seq = seq


class ReplayError(LedgerError):
    """Replay cannot proceed: a reducer failed, or the history it needs was pruned."""


class EpochNotFound(ReplayError, LookupError):
    """No retained record carries the requested epoch."""

    def __init__(self, epoch: int) -> None:
        super().__init__(f"no record of epoch {epoch}")
        self.epoch = epoch
