"""Small helpers shared by the tests (no sleeps: everything waits on events)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import anyio

from actors import Actor, Cancellable, LoopClock
from protocol import Message

if TYPE_CHECKING:
    from collections.abc import Callable

WAIT = 5.0
"""Generous bound for anything a test waits on; reaching it fails the test."""

SECRET = "0f3c9a7d52e8b14c6a0d9e2f7b3c81a5"
"""A cluster secret strong enough for ``RemoteNode`` (32 hex digits: 128 bits)."""

OTHER_SECRET = "9b2e4f61c0a8d37e5f1b6c9a2d4e8f03"
"""Another strong secret, for tests of nodes that must not authenticate each other."""


class Ping(Message, tag="test.ping"):
    n: int = 0


class Pong(Message, tag="test.pong"):
    n: int = 0


class Boom(Message, tag="test.boom"):
    reason: str = "boom"


class Echo(Actor[Message]):
    """Replies to every message with the message itself; raises on Boom."""

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Boom):
            raise RuntimeError(message.reason)
        return message


async def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    """Wait until ``predicate()`` holds, yielding to the loop; fail after ``timeout``."""
    with anyio.fail_after(timeout):
        while not predicate():  # noqa: ASYNC110 - runtime state with no event; bounded above
            await asyncio.sleep(0)


class RecordingClock(LoopClock):
    """The loop's clock, except that ``sleep`` returns at once and records the delay.

    Lets tests assert exact backoff delays without waiting for them.
    """

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        await asyncio.sleep(0)


class ManualClock:
    """A clock that moves only when the test says so; ``call_later`` fires on ``advance``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.time = start
        self._timers: list[tuple[float, int, Callable[[], object], _ManualHandle]] = []
        self._seq = 0

    def now(self) -> float:
        return self.time

    def wall(self) -> float:
        return 1_700_000_000.0 + self.time

    async def sleep(self, delay: float) -> None:
        done = asyncio.get_running_loop().create_future()
        self.call_later(delay, lambda: done.done() or done.set_result(None))
        await done

    def call_later(self, delay: float, callback: Callable[[], object]) -> Cancellable:
        handle = _ManualHandle()
        self._seq += 1
        self._timers.append((self.time + delay, self._seq, callback, handle))
        return handle

    def advance(self, seconds: float) -> int:
        """Move time forward, firing due callbacks in time order; returns how many fired."""
        target = self.time + seconds
        fired = 0
        while True:
            due = [t for t in self._timers if t[0] <= target and not t[3].cancelled]
            if not due:
                break
            entry = min(due, key=lambda t: (t[0], t[1]))
            self._timers.remove(entry)
            self.time = entry[0]
            entry[2]()
            fired += 1
        self._timers = [t for t in self._timers if not t[3].cancelled]
        self.time = target
        return fired

    @property
    def pending(self) -> int:
        return sum(1 for t in self._timers if not t[3].cancelled)


class _ManualHandle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


async def a_job_done_and_a_lease_held(system: Any, job_id: str, timeout: float) -> tuple[Any, Any]:
    """Spawn a job supervisor (``jobs``) that has run ``job_id`` to completion, and a
    territory manager (``territories``) with ``repo/a`` leased to ``agent-1``.

    What a node's test ``--app`` gives ``tadpole-ctl``, the monitor and the
    dashboard to report on; returns (supervisor, manager). The roles are
    imported here, in the node's process, where the app runs.
    """
    from actors.roles import JobContext, JobSupervisor, await_job, submit_job
    from actors.roles.territories import TerritoryConfig, TerritoryManager, acquire

    async def work(job: JobContext) -> str:
        return f"done {job.job.job_id}"

    supervisor = await system.spawn(JobSupervisor, {"work": work}, name="jobs")
    await submit_job(
        supervisor,
        {
            "job_id": job_id,
            "objective": "work",
            "requested_resources": {"compute_units": 1, "memory_mb": 64, "bandwidth_mbps": 1},
            "tadpole_count": 1,
        },
    )
    await await_job(supervisor, job_id, timeout=timeout)
    manager = await system.spawn(
        TerritoryManager, TerritoryConfig(default_ttl=600.0), name="territories"
    )
    await acquire(manager, "repo/a", "agent-1")
    return supervisor, manager
