"""Fixtures of the ledger's unit tests: a manual clock and ledger files."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


class StepClock:
    """Wall time that advances one second per reading; timers fire on ``advance``."""

    def __init__(self) -> None:
        self.time = 0.0
        self.walls = 0
        self.timers: list[tuple[float, Callable[[], object], _Handle]] = []

    def now(self) -> float:
        return self.time

    def wall(self) -> float:
        self.walls += 1
        return 1_700_000_000.0 + self.walls

    async def sleep(self, delay: float) -> None:  # pragma: no cover - the ledger never sleeps
        raise AssertionError("the ledger must not sleep")

    def call_later(self, delay: float, callback: Callable[[], object]) -> _Handle:
        handle = _Handle()
        self.timers.append((self.time + delay, callback, handle))
        return handle

    def advance(self, seconds: float) -> int:
        """Move time on and fire the timers that fall due; return how many fired."""
        self.time += seconds
        due = [t for t in self.timers if t[0] <= self.time and not t[2].cancelled]
        self.timers = [t for t in self.timers if t not in due and not t[2].cancelled]
        for _, callback, _ in due:
            callback()
        return len(due)

    @property
    def pending_timers(self) -> int:
        return sum(1 for t in self.timers if not t[2].cancelled)


class _Handle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"
