"""Client helpers: submit a job, await its outcome, acknowledge it.

Each sends one request to a :class:`~actors.roles.JobSupervisor` and turns a
refusal into the matching error.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ._errors import InvalidJob, JobStateError, UnknownJob
from ._jobs import Acknowledgement, JobSpec, JobView, parse_job
from ._messages import Acknowledge, Acknowledged, AwaitJob, Refused, Rejected, SubmitJob

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .. import ActorRef

__all__ = ["acknowledge", "await_job", "submit_job"]


async def submit_job(
    supervisor: ActorRef[Any], job: Mapping[str, Any] | JobSpec, *, timeout: float = 5.0
) -> str:
    """Check ``job`` against the contract, submit it and return its id.

    Raises :class:`~actors.roles.InvalidJob` naming the field, before sending
    when the contract is broken, or when the supervisor refuses it (a
    duplicate id, more tadpoles than it can run).
    """
    spec = parse_job(job)
    reply = await supervisor.ask(SubmitJob(job=spec), timeout=timeout)
    if isinstance(reply, Rejected):
        raise InvalidJob(reply.field, reply.problem, job_id=reply.job_id, shown=reply.value)
    job_id: str = reply.job_id
    return job_id


async def await_job(
    supervisor: ActorRef[Any], job_id: str, *, timeout: float | None = None
) -> JobView:
    """Wait until ``job_id`` is terminal (completed, failed, or needs_review) and return its view.

    The view carries the handler's result (``JobView.result``). Local
    supervisors only (the reply is a future until the job ends). Raises
    :class:`UnknownJob`, or :class:`TimeoutError` after ``timeout`` seconds.
    """
    reply = await supervisor.ask(AwaitJob(job_id=job_id), timeout=timeout)
    if isinstance(reply, Refused):
        raise UnknownJob(job_id)
    if isinstance(reply, JobView):
        return reply
    view: JobView = await asyncio.wait_for(reply, timeout)
    return view


async def acknowledge(
    supervisor: ActorRef[Any],
    job_id: str,
    action: Acknowledgement = Acknowledgement.ACCEPT,
    *,
    parts: int = 2,
    amend: Mapping[str, Any] | None = None,
    after: str | None = None,
    timeout: float = 5.0,
) -> Acknowledged:
    """Acknowledge an unread terminal job; raises :class:`UnknownJob` or :class:`JobStateError`.

    ``retry`` may ``amend`` the job's metadata (its identity and attempt count
    are kept) and wait ``after`` another job has completed.
    """
    reply = await supervisor.ask(
        Acknowledge(
            job_id=job_id,
            action=action,
            parts=parts,
            amend=None if amend is None else dict(amend),
            after=after,
        ),
        timeout=timeout,
    )
    if isinstance(reply, Refused):
        if reply.unknown:
            raise UnknownJob(job_id)
        raise JobStateError(reply.error)
    assert isinstance(reply, Acknowledged)
    return reply
