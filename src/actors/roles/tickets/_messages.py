"""What the :class:`~actors.roles.tickets.Tickets` actor accepts and answers.

Every request is answered with its reply type or a :class:`Refusal` (a stable
``code``, the HTTP ``status`` it maps to, a message, and the field at fault).
"""

from __future__ import annotations

from typing import Any

from protocol import Message

from ._model import Concern, Input, Outcome, Pipeline, RunStatus, Ticket

__all__ = [
    "Accepted",
    "Checkpoint",
    "Claim",
    "ClaimGrant",
    "CreateRun",
    "GetConcerns",
    "GetStatus",
    "GetTicket",
    "ListRuns",
    "NoWork",
    "Refusal",
    "Renew",
    "RunCreatedReply",
    "RunSummary",
    "Submit",
    "Sweep",
    "TicketConcern",
    "TicketRequest",
]


class CreateRun(Message, tag="tickets.create_run"):
    pipeline: Pipeline
    inputs: list[Input]


class RunCreatedReply(Message, tag="tickets.run_created"):
    run: str
    tickets: list[str]


class ListRuns(Message, tag="tickets.list_runs"):
    pass


class RunSummary(Message, tag="tickets.run_summary"):
    run: str
    stages: list[str]
    tickets: int
    done: bool


class Claim(Message, tag="tickets.claim_request"):
    """The next pending ticket of ``worker_type`` (oldest first); any run when ``run`` is None."""

    worker_type: str
    worker_id: str
    run: str | None = None


class ClaimGrant(Message, tag="tickets.claim_grant"):
    ticket: Ticket
    token: int
    """The claim's fencing token: pass it to renew and submit."""
    lease_ttl: float
    """Seconds until the claim lapses unless renewed."""


class NoWork(Message, tag="tickets.no_work"):
    pass


class Renew(Message, tag="tickets.renew_request"):
    ticket: str
    token: int
    run: str | None = None
    """When given, the ticket must belong to this run."""


class Submit(Message, tag="tickets.submit_request"):
    ticket: str
    token: int
    outcome: Outcome = "completed"
    output: Any = None  # Any: the worker's JSON result
    concerns: tuple[Concern, ...] = ()
    run: str | None = None
    """When given, the ticket must belong to this run."""


class Accepted(Message, tag="tickets.accepted"):
    ticket: str
    downstream: list[str]


class GetStatus(Message, tag="tickets.get_status"):
    run: str


class GetConcerns(Message, tag="tickets.get_concerns"):
    run: str
    level: str | None = None


class TicketConcern(Message, tag="tickets.ticket_concern"):
    ticket: str
    concern: Concern


class GetTicket(Message, tag="tickets.get_ticket"):
    run: str
    ticket: str


class Sweep(Message, tag="tickets.sweep"):
    """Reclaim every lapsed claim now (sent by the actor's own timer)."""


class Checkpoint(Message, tag="tickets.checkpoint"):
    """Write the table's changed rows to the store now; answers the ledger seq they reflect."""


class Refusal(Message, tag="tickets.refusal"):
    code: str
    status: int
    message: str
    field: str | None = None


TicketRequest = (
    CreateRun
    | ListRuns
    | Claim
    | Renew
    | Submit
    | GetStatus
    | GetConcerns
    | GetTicket
    | Sweep
    | Checkpoint
)
_ = RunStatus  # re-exported reply type of GetStatus
