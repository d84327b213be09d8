"""The node's dashboard jobs table: the job supervisor's jobs as dashboard rows.

:func:`job_listing` gives :class:`actors.web.NodeSource` its ``jobs``
callable. The supervisor is the one the admin actor was given
(``ctx.admin.jobs``), else the one the stability monitor samples (given or
discovered among the live actors), read with
:meth:`~actors.roles.JobSupervisor.listing` on the node's loop: no message,
no wait.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from ..lowlevel import cell_of
from ..roles import JobSupervisor

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ..ctl import AdminSources
    from ..ops import StabilityMonitor
    from ..roles import JobView

__all__ = ["DASHBOARD_JOBS", "job_listing", "job_rows"]

DASHBOARD_JOBS: Final = 20
"""At most this many jobs on the dashboard: unfinished ones first, then the latest finished."""


def job_rows(
    views: Sequence[JobView], row: Callable[..., Any], limit: int = DASHBOARD_JOBS
) -> list[Any]:
    """The dashboard rows of ``views`` (``row(job, state, detail)`` builds one), at most ``limit``.

    Unfinished jobs come first, oldest submitted first; then finished ones,
    latest finished first.
    """
    unfinished = sorted((v for v in views if not v.state.terminal), key=lambda v: v.submitted_at)
    finished = sorted((v for v in views if v.state.terminal), key=lambda v: -(v.finished_at or 0.0))
    rows = []
    for view in (unfinished + finished)[:limit]:
        detail = [f"attempt {view.attempt}"]
        if view.unread:
            detail.append("unread")
        if view.reason:
            detail.append(view.reason)
        rows.append(row(view.job_id, view.state.value, ", ".join(detail)))
    return rows


def job_listing(
    admin: AdminSources, monitor: StabilityMonitor, row: Callable[..., Any]
) -> Callable[[], Sequence[Any]]:
    """The ``jobs`` callable of the node's dashboard source (rows built by ``row``)."""

    def jobs() -> Sequence[Any]:
        ref = admin.jobs or monitor.supervisor
        if ref is None:
            return ()
        instance = cell_of(ref).instance
        if not isinstance(instance, JobSupervisor):  # restarting, or not a supervisor
            return ()
        return job_rows(instance.listing(), row)

    return jobs
