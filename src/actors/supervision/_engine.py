"""The one restart engine: interprets ``SupervisorFlags`` and ``ChildSpec``.

Every incarnation of an actor with children (and the ``/user`` guardian) has
one engine: a restarted supervisor starts with a fresh intensity window, as a
restarted OTP supervisor does. When a child fails, or stops itself normally,
the engine decides, in order:

1. a ``TEMPORARY`` child, a ``TRANSIENT`` child that stopped itself normally,
   or any child while its supervisor or the system is stopping, is stopped
   for good;
2. more than ``intensity`` restarts within ``period`` seconds: the supervisor
   gives up (``supervisor_gave_up``) and fails itself with
   :class:`~actors.RestartIntensityExceeded`, escalating to its own parent;
3. otherwise it waits the backoff delay, stops the siblings the strategy names
   (newest first; ``TEMPORARY`` siblings stop for good) and starts fresh
   incarnations of the others (oldest first).

Failures of one supervisor's children are handled one at a time. An error in
the engine itself (a bug, a hook that breaks the rules) is not swallowed: the
supervisor fails with it (``supervisor_failed``), escalating like a give-up,
and the child is stopped rather than left waiting for a restart that will
never come.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

import structlog

from .._errors import ActorFailed, RestartIntensityExceeded
from ._spec import Restart, Strategy, SupervisorFlags

if TYPE_CHECKING:
    from .._cell import ActorCell, _Parent

__all__ = ["RestartEngine"]

logger = structlog.get_logger("actors.supervision")


class RestartEngine:
    """Restart decisions for the children of one supervisor."""

    def __init__(self, owner: _Parent, flags: SupervisorFlags) -> None:
        self.owner = owner
        self.flags = flags
        self._restarts: deque[float] = deque()
        self._lock = asyncio.Lock()

    @property
    def recent_restarts(self) -> int:
        return len(self._restarts)

    async def child_failed(
        self, child: ActorCell, reason: BaseException, *, normal: bool = False
    ) -> None:
        """``child`` failed with ``reason`` (or, with ``normal``, stopped itself)."""
        from .._cell import CellState

        try:
            await self._child_failed(child, reason, normal)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a broken engine must not strand the child
            owner = self.owner
            logger.error("supervisor_failed", actor=owner.path, child=child.path, error=repr(exc))
            error = ActorFailed(owner.path, f"restart engine failed on {child.path}: {exc!r}")
            error.__cause__ = exc
            await owner.fail(error, child)
            if child.state in (CellState.FAILED, CellState.HALTED):
                await child.stop(reason=f"failed: {reason!r}", failed=True)

    async def _child_failed(self, child: ActorCell, reason: BaseException, normal: bool) -> None:
        from .._cell import CellState

        owner = self.owner
        system = owner.system
        async with self._lock:
            if child.state is not CellState.FAILED:
                return  # stopped or restarted meanwhile
            restart = child.spec.restart
            if (
                restart is Restart.TEMPORARY
                or (normal and restart is Restart.TRANSIENT)
                or system.stopping
                or owner.state is not CellState.RUNNING
            ):
                if normal:
                    await child.stop()
                else:
                    await child.stop(reason=f"failed: {reason!r}", failed=True)
                return
            flags = self.flags
            now = system.clock.now()
            restarts = self._restarts
            while restarts and restarts[0] <= now - flags.period:
                restarts.popleft()
            if len(restarts) >= flags.intensity:
                gave_up = RestartIntensityExceeded(
                    owner.path,
                    f"more than {flags.intensity} restarts in {flags.period:g}s; "
                    f"last failure of {child.path}: {reason!r}",
                )
                logger.error(
                    "supervisor_gave_up",
                    actor=owner.path,
                    child=child.path,
                    intensity=flags.intensity,
                    period=flags.period,
                    error=repr(reason),
                )
            else:
                gave_up = None
                restarts.append(now)
                await self._restart(child, reason, len(restarts))
        if gave_up is not None:
            await owner.fail(gave_up, child)

    async def _restart(self, child: ActorCell, reason: BaseException, attempt: int) -> None:
        from .._cell import CellState

        system = self.owner.system
        delay = self.flags.backoff.delay(attempt, system.random)
        if delay > 0:
            await system.clock.sleep(delay)
        if child.state is not CellState.FAILED or system.stopping:
            return
        siblings = list(self.owner.children.values())
        strategy = self.flags.strategy
        if strategy is Strategy.ONE_FOR_ONE:
            affected = [child]
        elif strategy is Strategy.ONE_FOR_ALL:
            affected = siblings
        else:
            affected = siblings[siblings.index(child) :]
        for sibling in reversed(affected):
            if sibling is child:
                continue
            if sibling.spec.restart is Restart.TEMPORARY:
                # OTP: a temporary child the strategy stops is not restarted.
                await sibling.stop(reason=f"stopped for the restart of {child.path}")
            else:
                await sibling.halt_for_restart()
        for cell in affected:
            if cell.state not in (CellState.FAILED, CellState.HALTED):
                continue
            try:
                cell.start_incarnation(reason)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                # The factory itself failed: a failure like any other.
                # Failing it re-enters this engine, so not under this lock.
                cell.state = CellState.RUNNING
                system._spawn_background(cell.fail(exc), f"failure of {cell.path}")
                continue
            logger.warning(
                "actor_restarted",
                actor=cell.path,
                restart_count=cell.restart_count,
                strategy=strategy.value,
                delay=round(delay, 6),
                error=repr(reason),
            )
