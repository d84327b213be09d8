"""anyio's pytest plugin runs tests on virtual time with ``loop_factory=VirtualEventLoop``."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from actors import Actor, ActorSystem, AskTimeout
from actors.testing import Probe, ProbeTimeout, VirtualEventLoop

pytestmark = pytest.mark.anyio


class Silent(Actor[Any]):
    """Never answers: every message waits forever (until shutdown kills it)."""

    async def receive(self, message: Any) -> Any:
        await anyio.sleep_forever()


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    """Virtual time runs on the standard asyncio loop only, never uvloop."""
    return ("asyncio", {"loop_factory": VirtualEventLoop})


async def test_anyio_sleep_and_deadlines_follow_virtual_time() -> None:
    start = anyio.current_time()
    await anyio.sleep(3600)
    assert anyio.current_time() - start == 3600.0
    with anyio.move_on_after(12.5) as scope:
        await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert anyio.current_time() - start == 3612.5


async def test_a_probe_times_out_after_exactly_its_virtual_timeout() -> None:
    async with ActorSystem("t") as system:
        probe = await Probe.start(system)
        start = anyio.current_time()
        with pytest.raises(ProbeTimeout, match="30s"):
            await probe.next(timeout=30.0)
        assert anyio.current_time() - start == 30.0


async def test_an_ask_times_out_after_exactly_its_virtual_timeout() -> None:
    async with ActorSystem("t") as system:
        silent = await system.spawn(Silent)
        start = anyio.current_time()
        with pytest.raises(AskTimeout):
            await silent.ask("hello?", timeout=45.0)
        assert anyio.current_time() - start == 45.0
