"""A probe: a stand-in recipient for the actors under test.

:class:`Probe` is an actor you hand to the actors under test as a stand-in
recipient; it records what it receives and lets the test ``expect`` a message
with a timeout that fails the test instead of hanging::

    async with ActorSystem("test") as system:
        probe = await Probe.start(system)
        worker = await system.spawn(Worker, probe.ref)
        worker.tell(Job(1))
        done = await probe.expect(JobDone, timeout=1.0)
        assert done.job == 1
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, TypeVar

from .. import Actor
from ._errors import ProbeTimeout

if TYPE_CHECKING:
    from .. import ActorRef, ActorSystem

__all__ = ["Probe"]

T = TypeVar("T")


class _ProbeActor(Actor[Any]):
    def __init__(self, probe: Probe) -> None:
        self._probe = probe

    async def receive(self, message: Any) -> Any:
        self._probe._record(message)
        return self._probe.reply


class Probe:
    """A recording actor plus the test-side API to wait for what it receives."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        """Every message received so far, in order."""
        self.reply: Any = None
        """What the probe answers to asks."""
        self._unread: deque[Any] = deque()
        self._arrived: asyncio.Event | None = None
        self._ref: ActorRef[Any] | None = None

    @classmethod
    async def start(cls, system: ActorSystem, name: str | None = None) -> Probe:
        """Spawn a probe actor in ``system``."""
        probe = cls()
        probe._ref = await system.spawn(_ProbeActor, probe, name=name)
        return probe

    @property
    def ref(self) -> ActorRef[Any]:
        if self._ref is None:
            raise RuntimeError("start the probe with `await Probe.start(system)` first")
        return self._ref

    def _record(self, message: Any) -> None:
        self.received.append(message)
        self._unread.append(message)
        if self._arrived is not None:
            self._arrived.set()

    async def next(self, timeout: float = 1.0) -> Any:
        """The next unread message, waiting up to ``timeout`` seconds."""
        if not self._unread:
            event = self._arrived = asyncio.Event()
            try:
                await asyncio.wait_for(event.wait(), timeout)
            except TimeoutError:
                raise ProbeTimeout(f"no message within {timeout:g}s") from None
            finally:
                self._arrived = None
        return self._unread.popleft()

    async def expect(self, message_type: type[T], timeout: float = 1.0) -> T:
        """The next unread message, which must be a ``message_type``."""
        message = await self.next(timeout)
        if not isinstance(message, message_type):
            raise AssertionError(f"expected a {message_type.__qualname__}, got {message!r}")
        return message

    async def expect_message(self, expected: object, timeout: float = 1.0) -> None:
        """The next unread message must equal ``expected``."""
        message = await self.next(timeout)
        if message != expected:
            raise AssertionError(f"expected {expected!r}, got {message!r}")

    def expect_no_message(self) -> None:
        """Nothing unread right now (call after a synchronisation point such as an ask)."""
        if self._unread:
            raise AssertionError(f"unexpected message {self._unread[0]!r}")
