"""The pool on real time: idle workers cost no CPU, periodic jobs fire on their own."""

from __future__ import annotations

import threading
import time

import pytest

from scheduler import WorkStealingPool

TIMEOUT = 10.0
IDLE_WINDOW = 0.5  # seconds the pool is left alone while its CPU time is measured


def worker_cpu_seconds(pool: WorkStealingPool) -> float:
    """CPU time consumed so far by the pool's worker threads (not wall time)."""
    prefix = f"{pool.name}-worker-"
    threads = [t for t in threading.enumerate() if t.name.startswith(prefix)]
    assert len(threads) == pool.worker_count
    total = 0.0
    for t in threads:
        assert t.ident is not None
        total += time.clock_gettime(time.pthread_getcpuclockid(t.ident))
    return total


@pytest.mark.skipif(
    not hasattr(time, "pthread_getcpuclockid"), reason="needs per-thread CPU clocks"
)
def test_idle_pool_uses_almost_no_cpu() -> None:
    with WorkStealingPool(4, name="idle") as pool:
        # A periodic job far in the future: one worker parks with a timeout.
        pool.every(3600.0, int, name="hourly")
        results = [pool.submit(sum, range(100)) for _ in range(200)]
        assert {f.result(TIMEOUT) for f in results} == {4950}
        before = worker_cpu_seconds(pool)
        threading.Event().wait(IDLE_WINDOW)  # the measurement window, not a wait for work
        used = worker_cpu_seconds(pool) - before
        parks = sum(w.parks for w in pool.statistics().workers)
    # A spinning worker would burn most of the window; parked workers burn ~0.
    assert used < 0.02 * IDLE_WINDOW * pool.worker_count, f"{used:.4f} s of CPU while idle"
    assert parks >= pool.worker_count


def test_periodic_job_fires_on_the_real_clock_without_being_polled() -> None:
    interval = 0.02
    fired = threading.Semaphore(0)
    with WorkStealingPool(2, name="ticker") as pool:
        job = pool.every(interval, fired.release, name="tick")
        for _ in range(3):
            assert fired.acquire(timeout=TIMEOUT), "periodic job did not fire"
        job.cancel()
    stats = job.statistics()
    assert stats.runs >= 3
    assert stats.failures == 0


def test_periodic_job_keeps_firing_while_other_workers_are_blocked() -> None:
    fired = threading.Semaphore(0)
    release = threading.Event()
    blocked = threading.Barrier(3, timeout=TIMEOUT)

    def block() -> None:
        blocked.wait()
        assert release.wait(TIMEOUT)

    with WorkStealingPool(3, name="busy-ticker") as pool:
        pool.every(0.02, fired.release, name="tick")
        held = [pool.submit(block) for _ in range(2)]
        blocked.wait()  # two of the three workers are now stuck in a job
        try:
            for _ in range(3):
                assert fired.acquire(timeout=TIMEOUT), "periodic job did not fire"
        finally:
            release.set()
        for f in held:
            f.result(TIMEOUT)
