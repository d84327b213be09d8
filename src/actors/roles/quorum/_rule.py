"""The decision rule: how many votes a proposal needs, and when its outcome is certain.

Pure functions of the electorate's size and the votes counted so far, shared
by the quorum actor and the model the property tests check it against.

* :func:`required`: ``None`` is a strict majority (``n // 2 + 1``); an ``int``
  is a count in ``1..n``; a ``float`` is a fraction in ``(0, 1]``, rounded up
  (``ceil(f * n)``, at least 1). Anything else is :class:`InvalidThreshold`.
* :func:`outcome`, as soon as it is certain (votes may come in any order):

  - ``granted`` once the yes votes reach the threshold;
  - ``rejected`` once the no votes alone make it unreachable
    (``n - no < required``): no answer still to come could change that;
  - ``failed`` once the votes lost (timeouts, unreachable voters, voter
    errors) make it unreachable although the no votes alone did not
    (``yes + pending < required``): the electorate could not decide;
  - otherwise still open (``None``); the deadline turns that into ``failed``.
"""

from __future__ import annotations

import math
from typing import Final

from ._errors import InvalidThreshold

__all__ = ["FAILED", "GRANTED", "REJECTED", "check_threshold", "outcome", "required"]

GRANTED: Final = "granted"
REJECTED: Final = "rejected"
FAILED: Final = "failed"

Threshold = int | float | None


def check_threshold(threshold: object) -> Threshold:
    """``threshold`` if it is a well-formed threshold (before knowing the electorate)."""
    if threshold is None:
        return None
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise InvalidThreshold(threshold, 0, "must be None, an int count or a float fraction")
    if isinstance(threshold, int):
        if threshold < 1:
            raise InvalidThreshold(threshold, 0, "must be at least 1")
        return threshold
    if not (math.isfinite(threshold) and 0.0 < threshold <= 1.0):
        raise InvalidThreshold(threshold, 0, "must be a fraction in (0, 1]")
    return threshold


def required(threshold: Threshold, voters: int) -> int:
    """The yes votes a proposal needs from ``voters`` voters under ``threshold``."""
    check_threshold(threshold)
    if voters < 1:
        raise InvalidThreshold(threshold, voters, "needs at least one voter")
    if threshold is None:
        return voters // 2 + 1
    if isinstance(threshold, int):
        if threshold > voters:
            raise InvalidThreshold(threshold, voters, "is above the voter count")
        return threshold
    return max(1, math.ceil(threshold * voters - 1e-9))


def outcome(need: int, voters: int, yes: int, no: int, lost: int) -> str | None:
    """The decision once it is certain, or ``None`` while it is open (see the module)."""
    if yes >= need:
        return GRANTED
    if voters - no < need:
        return REJECTED
    if voters - no - lost < need:
        return FAILED
    return None
