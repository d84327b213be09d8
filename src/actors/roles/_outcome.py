"""What a finished job leaves behind: its result, bounded, and the evidence that it is done.

Plain functions, no actors: the supervisor calls them.

**Results**: a handler's return value is kept with its job (shown by
:class:`~actors.roles.JobView`, returned by :func:`~actors.roles.await_job`,
and written in the ledger's completion record). A value that encodes to JSON
within ``limit`` bytes is kept as it is; anything else is kept as a bounded
note: ``{"truncated": true, "bytes": n, "preview": "..."}`` (the first
``limit`` characters of its JSON, or of its ``repr`` when it is not JSON).
A job of several shards keeps the list of its shards' results.

**Acceptance evidence**: a job may declare what counts as done in
``metadata.acceptance``:

* absent: a handler that returns without raising is the evidence (completed);
* ``"external"``: only an acknowledgement (``accept``) completes the job;
  until then it is ``needs_review``;
* any other name: a predicate registered with the supervisor
  (``acceptance={name: predicate}``), called with the result; true completes
  the job, false (or a predicate that raises) leaves it ``needs_review``.

A ``needs_review`` job is never reported as done.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

__all__ = ["EXTERNAL", "Acceptance", "Verdict", "bound_result", "judge"]

EXTERNAL = "external"

Acceptance = Callable[[Any], bool]
"""A predicate over a job's result: true when the result is evidence that the job is done."""

_encode = msgspec.json.Encoder().encode


def bound_result(value: object, limit: int) -> Any:  # Any: a JSON-ready value
    """``value`` if it encodes to JSON within ``limit`` bytes, else a bounded note."""
    try:
        encoded = _encode(value)
    except (TypeError, ValueError, OverflowError):
        text = repr(value)
        return {"truncated": True, "bytes": len(text), "preview": text[:limit], "json": False}
    if len(encoded) <= limit:
        return value
    return {
        "truncated": True,
        "bytes": len(encoded),
        "preview": encoded[:limit].decode(errors="ignore"),
    }


class Verdict(msgspec.Struct, frozen=True):
    """Whether a successful run is evidence that its job is done, and why."""

    done: bool
    evidence: str


def judge(acceptance: object, result: object, predicates: Mapping[str, Acceptance]) -> Verdict:
    """Judge a successful run's ``result`` against its job's declared ``acceptance``."""
    if acceptance is None:
        return Verdict(done=True, evidence="handler returned")
    if acceptance == EXTERNAL:
        return Verdict(done=False, evidence="awaiting an external acknowledgement")
    predicate = predicates.get(str(acceptance))
    if predicate is None:  # refused at intake; kept safe here
        return Verdict(done=False, evidence=f"no acceptance predicate {acceptance!r}")
    try:
        accepted = bool(predicate(result))
    except Exception as exc:
        return Verdict(done=False, evidence=f"predicate {acceptance!r} raised {exc!r}")
    if accepted:
        return Verdict(done=True, evidence=f"predicate {acceptance!r} held")
    return Verdict(done=False, evidence=f"predicate {acceptance!r} did not hold")
