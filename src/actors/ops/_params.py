"""Order parameters: pure formulas over rolling windows of samples.

Each function takes what the monitor sampled (counters, depths, their times)
and returns one float; none reads a clock or the runtime, so a test can feed
them any history. The monitor (:class:`~actors.ops.StabilityMonitor`) keeps
the windows and calls them once per sample.

The formulas (``W`` is the parameter's window in seconds):

* ``message_rate_variance``: with ``r_i`` the messages actor ``i`` processed
  in the window divided by ``W``, over the ``n`` actors with ``r_i > 0``,
  ``var(r) / mean(r)**2`` (the squared coefficient of variation, so the same
  threshold fits a quiet and a busy swarm); ``0`` with fewer than 2 actors.
* ``*_amplitude`` (queue oscillation, size): half the range of a queue's
  samples in the window, ``(max(q) - min(q)) / 2``.
* ``*_reversals`` (queue oscillation, frequency): the sign changes of the
  queue's first differences ``q[k+1] - q[k]`` in the window, per minute:
  ``60 * changes / W``; steps of at most ``queue_noise`` messages or jobs
  (default 1) are skipped, so jitter around an empty queue is not oscillation.
* ``lease_churn``: ``(Δgranted + Δexpired + Δrefused) / W``, lease events per
  second from a territory manager's counters.
* ``success_rate``: ``Δcompleted / (Δcompleted + Δfailed)`` of the job
  supervisor's counters in the window; ``1`` with no outcome in it.
* ``concurrency_window``: the supervisor's current concurrency window (jobs
  it lets run at once), as it reports it.
* trend (for alerts): the least-squares slope of a parameter's recent
  values against their sample times, in units per second.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

K = TypeVar("K")

__all__ = [
    "amplitude",
    "delta_rate",
    "rate_variance",
    "reversals_per_minute",
    "slope",
    "success_rate",
]


def rate_variance(start: Mapping[K, int], end: Mapping[K, int], seconds: float) -> float:
    """Squared coefficient of variation of per-actor message rates between two counts.

    ``start`` and ``end`` map an actor (its path and incarnation) to its
    processed-messages counter at the window's two ends; an actor missing
    from ``start`` started inside the window (counted from 0). Actors that
    processed nothing are left out: a swarm of idle actors is not unstable.
    """
    if seconds <= 0:
        return 0.0
    rates = [(count - start.get(key, 0)) / seconds for key, count in end.items()]
    active = [rate for rate in rates if rate > 0]
    n = len(active)
    if n < 2:
        return 0.0
    mean = sum(active) / n
    variance = sum((rate - mean) ** 2 for rate in active) / n
    return variance / (mean * mean)


def amplitude(samples: Iterable[float]) -> float:
    """Half the range of ``samples``: ``(max - min) / 2`` (``0`` when empty)."""
    values = list(samples)
    if not values:
        return 0.0
    return (max(values) - min(values)) / 2.0


def reversals_per_minute(samples: Sequence[float], seconds: float, noise: float = 0.0) -> float:
    """Sign changes of the first differences of ``samples``, per minute of ``seconds``.

    Steps no larger than ``noise`` (and flat steps) are skipped, so
    ``1, 3, 3, 1`` has one change of direction, and a queue jittering
    between 0 and 1 has none with ``noise=1``.
    """
    if seconds <= 0:
        return 0.0
    changes = 0
    last_sign = 0
    for before, after in itertools.pairwise(samples):
        step = after - before
        if abs(step) <= noise or step == 0:
            continue
        sign = 1 if step > 0 else -1
        if last_sign and sign != last_sign:
            changes += 1
        last_sign = sign
    return 60.0 * changes / seconds


def delta_rate(start: float, end: float, seconds: float) -> float:
    """``(end - start) / seconds`` (``0`` for an empty window); a counter's rate."""
    if seconds <= 0:
        return 0.0
    return max(0.0, end - start) / seconds


def success_rate(completed: int, failed: int) -> float:
    """``completed / (completed + failed)``; ``1`` when there was no outcome."""
    total = completed + failed
    return 1.0 if total <= 0 else completed / total


def slope(times: Sequence[float], values: Sequence[float]) -> float:
    """The least-squares slope of ``values`` against ``times`` (units per second).

    ``0`` with fewer than two points or when every time is the same.
    """
    n = min(len(times), len(values))
    if n < 2:
        return 0.0
    ts = times[-n:]
    vs = values[-n:]
    mean_t = sum(ts) / n
    mean_v = sum(vs) / n
    spread = sum((t - mean_t) ** 2 for t in ts)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in zip(ts, vs, strict=True)) / spread
