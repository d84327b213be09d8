"""Tadpole's work-stealing scheduler (standard library only).

A Chase-Lev work-stealing deque, a pool of worker threads built on it (with
an injection queue for outside submissions, parking, and an awaitable form
for actors), and periodic maintenance jobs that the pool runs on schedule.
This package knows nothing of actors; the runtime builds on it.
"""

from ._deque import EMPTY as EMPTY
from ._deque import DequeStatistics as DequeStatistics
from ._deque import Empty as Empty
from ._deque import WorkStealingDeque as WorkStealingDeque
from ._errors import DuplicateJobName as DuplicateJobName
from ._errors import PoolClosed as PoolClosed
from ._errors import PoolNotStarted as PoolNotStarted
from ._errors import PoolStateError as PoolStateError
from ._errors import SchedulerConfigError as SchedulerConfigError
from ._errors import SchedulerError as SchedulerError
from ._periodic import PeriodicJob as PeriodicJob
from ._periodic import PeriodicJobSpec as PeriodicJobSpec
from ._periodic import PeriodicJobStatistics as PeriodicJobStatistics
from ._periodic import PeriodicRun as PeriodicRun
from ._periodic import PeriodicTable as PeriodicTable
from ._pool import PoolStatistics as PoolStatistics
from ._pool import ShutdownPolicy as ShutdownPolicy
from ._pool import WorkerStatistics as WorkerStatistics
from ._pool import WorkStealingPool as WorkStealingPool
from ._public import publish as _publish_names

__tadpole__ = "scheduler"
"""Marks this package as Tadpole's own (``import actors`` checks it: see README, Installing)."""

__all__ = (
    "EMPTY",
    "DequeStatistics",
    "DuplicateJobName",
    "Empty",
    "PeriodicJob",
    "PeriodicJobSpec",
    "PeriodicJobStatistics",
    "PeriodicRun",
    "PeriodicTable",
    "PoolClosed",
    "PoolNotStarted",
    "PoolStateError",
    "PoolStatistics",
    "SchedulerConfigError",
    "SchedulerError",
    "ShutdownPolicy",
    "WorkStealingDeque",
    "WorkStealingPool",
    "WorkerStatistics",
)

_publish_names(__name__, globals(), __all__)
