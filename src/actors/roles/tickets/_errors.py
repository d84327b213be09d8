"""Errors of the tickets role; each has a stable ``code`` and an HTTP ``status``.

::

    TicketError                 root; ``code``, ``status``, ``field``
    ├── BadRequest (ValueError) 400 ``bad_request``: names the field
    ├── NotFound (LookupError)  404 ``not_found``: no such run, ticket or stage
    └── ClaimLost               409 ``claim_lost``: a stale fencing token, an expired
                                or ended claim; the submit or renew is not applied
"""

from __future__ import annotations

from actors import ActorError

__all__ = ["BadRequest", "ClaimLost", "NotFound", "TicketError"]


class TicketError(ActorError):
    """A refused ticket request."""

    code = "ticket_error"
    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class BadRequest(TicketError, ValueError):
    code = "bad_request"
    status = 400

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}", field)


class NotFound(TicketError, LookupError):
    code = "not_found"
    status = 404

    def __init__(self, what: str, name: str) -> None:
        super().__init__(f"no {what} {name!r}")
        self.what = what
        self.name = name


class ClaimLost(TicketError):
    """The claim behind a submit or renew is gone: another claim or expiry fenced it off."""

    code = "claim_lost"
    status = 409

    def __init__(self, ticket: str, token: int, current: int, status: str) -> None:
        super().__init__(
            f"claim {token} on ticket {ticket!r} is lost (current token {current}, {status}); "
            "the submit was not applied"
        )
        self.ticket = ticket
        self.token = token
        self.current = current
