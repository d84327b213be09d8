"""Fixtures of the scheduler's unit tests: a virtual clock."""

from __future__ import annotations

import threading

import pytest


class FakeClock:
    """A monotonic clock that moves only when the test says so (thread-safe)."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
