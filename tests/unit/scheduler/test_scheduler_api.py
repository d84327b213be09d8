"""The public surface of ``scheduler``: ``__all__`` is honest, errors form one tree."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import types

import pytest

import scheduler
from scheduler import (
    DuplicateJobName,
    PoolClosed,
    PoolNotStarted,
    PoolStateError,
    SchedulerConfigError,
    SchedulerError,
)


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(scheduler).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert isinstance(scheduler.__all__, tuple)
    assert set(scheduler.__all__) == public
    assert len(scheduler.__all__) == len(set(scheduler.__all__))


def test_every_exported_name_says_it_lives_in_the_package() -> None:
    for name in scheduler.__all__:
        value = getattr(scheduler, name)
        module = getattr(value, "__module__", "scheduler")
        assert module.startswith("scheduler"), name


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (SchedulerConfigError, ValueError),
        (DuplicateJobName, ValueError),
        (PoolStateError, RuntimeError),
        (PoolNotStarted, RuntimeError),
        (PoolClosed, RuntimeError),
    ],
)
def test_every_error_derives_from_the_root_and_its_matching_builtin(
    error: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(error, SchedulerError)
    assert issubclass(error, builtin)


def test_pool_is_a_concurrent_futures_executor() -> None:
    assert issubclass(scheduler.WorkStealingPool, concurrent.futures.Executor)


def test_importing_scheduler_loads_no_third_party_or_higher_layer_package() -> None:
    code = (
        "import sys, scheduler; "
        "print(sorted(m for m in ('actors', 'protocol', 'anyio', 'msgspec', 'structlog') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
