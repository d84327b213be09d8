"""The unit of work a pool worker runs: a submitted call bound to its future.

Anything a worker takes from a deque or the injection queue is a
:class:`Runnable`: ``run()`` executes it and says how it ended, ``cancel()``
drops it unexecuted (shutdown with the cancel policy). Submitted calls are
:class:`WorkItem` objects; periodic runs (:class:`~scheduler._periodic.PeriodicRun`)
follow the same protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Future

__all__ = ["DROPPED", "RAISED", "RAN", "Runnable", "WorkItem"]

T = TypeVar("T")

RAN: Final = 0
"""``run()`` called the function and it returned."""
RAISED: Final = 1
"""``run()`` called the function and it raised."""
DROPPED: Final = 2
"""``run()`` did not call the function (its future was cancelled first)."""


class Runnable(Protocol):
    def run(self) -> int:
        """Execute; return :data:`RAN`, :data:`RAISED` or :data:`DROPPED`; never raise."""
        ...

    def cancel(self) -> None:
        """Give up without executing."""
        ...


class WorkItem(Generic[T]):
    """``fn(*args, **kwargs)`` whose result or exception goes to ``future``."""

    __slots__ = ("args", "fn", "future", "kwargs")

    def __init__(
        self,
        future: Future[T],
        fn: Callable[..., T],
        args: tuple[object, ...],
        # Any: the keyword arguments of an arbitrary user callable.
        kwargs: dict[str, Any],
    ) -> None:
        self.future = future
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def run(self) -> int:
        fut = self.future
        if not fut.set_running_or_notify_cancel():
            return DROPPED
        fn, args, kwargs = self.fn, self.args, self.kwargs
        # A failure's traceback keeps this frame alive for as long as the
        # submitter keeps the future; it must not keep the job's closure too.
        del self
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # delivered to the submitter, not swallowed
            del fn, args, kwargs
            fut.set_exception(exc)
            del fut
            return RAISED
        del fn, args, kwargs
        fut.set_result(result)
        return RAN

    def cancel(self) -> None:
        self.future.cancel()

    def __repr__(self) -> str:
        return f"<WorkItem {getattr(self.fn, '__qualname__', self.fn)!r}>"
