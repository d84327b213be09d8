"""Tickets: pull-based work with claim leases, cascades and an HTTP API.

A run holds tickets of a declared :class:`Pipeline`; workers claim the oldest
pending ticket of their worker type as a lease (a fencing ``token`` and a TTL),
renew while they work, and submit a result, which creates the next stage's
tickets in the same ledger record. See the "Tickets" page of the docs.
"""

from ._actor import Tickets as Tickets
from ._actor import replay_table as replay_table
from ._errors import BadRequest as BadRequest
from ._errors import ClaimLost as ClaimLost
from ._errors import NotFound as NotFound
from ._errors import TicketError as TicketError
from ._messages import Accepted as Accepted
from ._messages import Checkpoint as Checkpoint
from ._messages import Claim as Claim
from ._messages import ClaimGrant as ClaimGrant
from ._messages import CreateRun as CreateRun
from ._messages import GetConcerns as GetConcerns
from ._messages import GetStatus as GetStatus
from ._messages import GetTicket as GetTicket
from ._messages import ListRuns as ListRuns
from ._messages import NoWork as NoWork
from ._messages import Refusal as Refusal
from ._messages import Renew as Renew
from ._messages import RunCreatedReply as RunCreatedReply
from ._messages import RunSummary as RunSummary
from ._messages import Submit as Submit
from ._messages import Sweep as Sweep
from ._messages import TicketConcern as TicketConcern
from ._model import Concern as Concern
from ._model import Input as Input
from ._model import Pipeline as Pipeline
from ._model import RunStatus as RunStatus
from ._model import Stage as Stage
from ._model import Ticket as Ticket
from ._model import TicketTable as TicketTable
from ._store import MemoryTicketStore as MemoryTicketStore
from ._store import SQLiteTicketStore as SQLiteTicketStore
from ._store import TicketStore as TicketStore

__all__ = (
    "Accepted",
    "BadRequest",
    "Checkpoint",
    "Claim",
    "ClaimGrant",
    "ClaimLost",
    "Concern",
    "CreateRun",
    "GetConcerns",
    "GetStatus",
    "GetTicket",
    "Input",
    "ListRuns",
    "MemoryTicketStore",
    "NoWork",
    "NotFound",
    "Pipeline",
    "Refusal",
    "Renew",
    "RunCreatedReply",
    "RunStatus",
    "RunSummary",
    "SQLiteTicketStore",
    "Stage",
    "Submit",
    "Sweep",
    "Ticket",
    "TicketConcern",
    "TicketError",
    "TicketStore",
    "TicketTable",
    "Tickets",
    "replay_table",
)

from protocol._public import publish as _publish_names

_publish_names(__name__, globals(), __all__)
