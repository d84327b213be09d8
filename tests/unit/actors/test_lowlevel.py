"""actors.lowlevel: the door's own functions (delivery filters have test_filters.py)."""

from __future__ import annotations

import asyncio

import pytest

from actors import ActorSystem, SystemNotRunning, lowlevel
from tests.helpers import WAIT, Echo, Ping

pytestmark = pytest.mark.anyio


async def test_cell_lookup_and_correlation_ids() -> None:
    async with ActorSystem("t") as system:
        ref = await system.spawn(Echo, name="e")
        cell = lowlevel.cell_at(system, "/user/e")
        assert cell is not None
        assert cell is lowlevel.cell_of(ref)
        assert cell.ref == ref
        assert lowlevel.cell_at(system, "/user/nobody") is None
        first = lowlevel.next_correlation_id(system)
        assert lowlevel.next_correlation_id(system) == first + 1
        assert lowlevel.totals(system).asks == first + 1  # every id given out is an ask
        assert await ref.ask(Ping(n=3)) == Ping(n=3)
        assert lowlevel.totals(system).asks == first + 2


async def test_cells_lists_every_live_actor_in_registration_order() -> None:
    async with ActorSystem("t") as system:
        b = await system.spawn(Echo, name="b")
        await system.spawn(Echo, name="a")
        assert [c.path for c in lowlevel.cells(system)] == ["/user/b", "/user/a"]
        await asyncio.wait_for(system.stop(b), WAIT)
        assert [c.path for c in lowlevel.cells(system)] == ["/user/a"]
        assert all(len(c.mailbox) == 0 for c in lowlevel.cells(system))


async def test_background_work_belongs_to_the_system() -> None:
    ran = asyncio.Event()

    async def work() -> None:
        ran.set()
        await asyncio.Event().wait()  # until the system cancels it

    async with ActorSystem("t") as system:
        lowlevel.check_running(system)
        lowlevel.spawn_background(system, work(), "work")
        await asyncio.wait_for(ran.wait(), WAIT)
        assert system.statistics().background_tasks == 1
    assert system.statistics().background_tasks == 0
    with pytest.raises(SystemNotRunning):
        lowlevel.check_running(system)


async def test_the_systems_pool_runs_work_and_is_refused_without_workers() -> None:
    async with ActorSystem("t") as system:
        pool = lowlevel.pool(system)
        assert pool is lowlevel.pool(system)
        future = pool.submit(sum, [1, 2, 3])
        assert await asyncio.wait_for(asyncio.wrap_future(future), WAIT) == 6
        assert system.maintenance.started
    with pytest.raises(SystemNotRunning):
        lowlevel.pool(system)
    async with ActorSystem("inline", maintenance_workers=0) as inline:
        with pytest.raises(ValueError, match="maintenance_workers=0"):
            lowlevel.pool(inline)


async def test_a_remote_resolver_is_attached_once() -> None:
    class Resolver:
        def ref(self, address: str) -> object:
            return address

    async with ActorSystem("t") as system:
        one, other = Resolver(), Resolver()
        lowlevel.attach_remote(system, one)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="already served"):
            lowlevel.attach_remote(system, other)  # type: ignore[arg-type]
        assert system.ref("tadpole://x@h:1/user/a") == "tadpole://x@h:1/user/a"
        lowlevel.detach_remote(system, other)  # type: ignore[arg-type]  # not attached: nothing
        lowlevel.detach_remote(system, one)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="no RemoteNode"):
            system.ref("tadpole://x@h:1/user/a")
        assert await system.spawn(Echo, name="e") is not None
        assert await system.ref("/user/e").ask(Ping(1), timeout=WAIT) == Ping(1)
