"""VirtualEventLoop: time is virtual and jumps to the next timer when nothing else can run."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import TYPE_CHECKING

import pytest

from actors.testing import VirtualEventLoop

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any, TypeVar

    T = TypeVar("T")


def run(main: Coroutine[Any, Any, T], *, start: float = 0.0) -> T:
    with asyncio.Runner(loop_factory=lambda: VirtualEventLoop(start=start)) as runner:
        return runner.run(main)


def test_time_starts_where_asked_and_stands_still_while_callbacks_run() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        before = loop.time()
        sum(range(100_000))  # real work takes no virtual time
        await asyncio.sleep(0)
        return before, loop.time()

    assert run(main(), start=50.0) == (50.0, 50.0)


def test_a_sleep_of_an_hour_returns_exactly_an_hour_later() -> None:
    async def main() -> float:
        await asyncio.sleep(3600)
        return asyncio.get_running_loop().time()

    assert run(main()) == 3600.0


def test_timers_fire_in_due_order_at_their_exact_due_times() -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        fired: list[tuple[str, float]] = []
        done: asyncio.Future[None] = loop.create_future()

        def fire(name: str) -> None:
            fired.append((name, loop.time()))

        for name, delay in [("c", 0.3), ("a", 0.1), ("d", 7.25), ("b", 0.2)]:
            loop.call_later(delay, fire, name)
        loop.call_later(10.0, done.set_result, None)
        await done
        return fired

    assert run(main()) == [("a", 0.1), ("b", 0.2), ("c", 0.3), ("d", 7.25)]


def test_time_does_not_jump_while_other_tasks_are_ready() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        seen: list[float] = []

        async def busy() -> None:
            for _ in range(100):
                seen.append(loop.time())
                await asyncio.sleep(0)

        sleeper = asyncio.create_task(asyncio.sleep(5))
        await busy()
        await sleeper
        seen.append(loop.time())
        return seen

    seen = run(main())
    assert seen[:100] == [0.0] * 100
    assert seen[-1] == 5.0


def test_timeouts_follow_virtual_time() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        never = loop.create_future()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(never, timeout=90.5)
        return loop.time()

    assert run(main()) == 90.5


def test_io_that_is_ready_is_handled_before_time_moves() -> None:
    async def main() -> tuple[bytes, float]:
        loop = asyncio.get_running_loop()
        left, right = socket.socketpair()
        try:
            reader, writer = await asyncio.open_connection(sock=left)
            right.sendall(b"ping")
            timer = asyncio.create_task(asyncio.sleep(60))
            data = await reader.readexactly(4)
            at = loop.time()
            timer.cancel()
            writer.close()
            return data, at
        finally:
            right.close()

    assert run(main()) == (b"ping", 0.0)


def test_a_wake_up_from_another_thread_is_awaited_when_nothing_is_scheduled() -> None:
    async def main() -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, lambda: "from a thread")
        return result, loop.time()

    assert run(main()) == ("from a thread", 0.0)


def test_the_deadline_stops_the_clock_and_calls_its_handler() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualEventLoop)
        task = asyncio.current_task()
        assert task is not None
        loop.set_deadline(100.0, task.cancel)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.sleep(1000)
        task.uncancel()
        stopped_at = loop.time()
        await asyncio.sleep(1000)  # the deadline fired once; time goes on
        return stopped_at, loop.time()

    assert run(main()) == (100.0, 1100.0)


def test_the_stall_handler_runs_when_nothing_can_ever_happen() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualEventLoop)
        task = asyncio.current_task()
        assert task is not None
        loop.set_stall_handler(task.cancel, after=0.05)
        with pytest.raises(asyncio.CancelledError):
            await loop.create_future()  # nothing will ever set it
        task.uncancel()
        loop.set_stall_handler(None)
        return loop.time()

    assert run(main(), start=3.0) == 3.0


def test_the_stall_handler_waits_for_a_thread_that_answers_in_time() -> None:
    async def main() -> str:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualEventLoop)
        loop.set_stall_handler(lambda: pytest.fail("declared a stall"), after=30.0)
        answer: asyncio.Future[str] = loop.create_future()
        release = threading.Event()

        def worker() -> None:
            release.wait(30.0)
            loop.call_soon_threadsafe(answer.set_result, "answered")

        thread = threading.Thread(target=worker)
        thread.start()
        loop.call_soon(release.set)
        try:
            return await answer
        finally:
            thread.join()

    assert run(main()) == "answered"


def test_a_stall_timeout_must_be_positive() -> None:
    loop = VirtualEventLoop()
    try:
        with pytest.raises(ValueError, match="stall timeout"):
            loop.set_stall_handler(None, after=0)
    finally:
        loop.close()


def test_jumps_are_counted() -> None:
    async def main() -> int:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualEventLoop)
        for _ in range(10):
            await asyncio.sleep(1)
        return loop.jumps

    assert run(main()) == 10


def test_a_hold_keeps_virtual_time_still_until_another_threads_work_is_back() -> None:
    async def main() -> tuple[float, float, float]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualEventLoop)
        timer_fired = asyncio.Event()
        loop.call_later(100.0, timer_fired.set)
        release = loop.hold_time()
        done: asyncio.Future[float] = loop.create_future()
        go = threading.Event()

        def worker() -> None:
            assert go.wait(5.0)
            loop.call_soon_threadsafe(done.set_result, 1.0)

        thread = threading.Thread(target=worker)
        thread.start()
        await asyncio.sleep(0)
        go.set()  # the thread answers in real time; the due timer must not jump ahead
        await asyncio.wait_for(done, 200.0)
        at_result = loop.time()
        assert not timer_fired.is_set()
        release()
        release()  # a second release counts for nothing
        await timer_fired.wait()
        at_timer = loop.time()
        thread.join()
        # Without holds, time jumps again.
        other = loop.hold_time()
        other()
        await asyncio.sleep(5.0)
        return at_result, at_timer, loop.time()

    assert run(main()) == (0.0, 100.0, 105.0)
