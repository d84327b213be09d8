"""Delivery filters across nodes: a refused remote ask is answered with an error,
a refused remote tell is dead-lettered with the reason on the target's node."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import pytest

from actors import Actor, ActorSystem, DeadLetter, DeliveryRefused, RemoteActorError, lowlevel
from actors.remote import MemoryNetwork, RemoteNode, TcpTransport
from tests.helpers import SECRET, WAIT, Ping, wait_until

pytestmark = pytest.mark.anyio


class Stale(DeliveryRefused):
    """The filter's refusal: an odd ``Ping`` carries a stale token, say."""


def refuse_odd(message: Any) -> Exception | None:
    if isinstance(message, Ping) and message.n % 2:
        return Stale("/user/guarded", f"ping {message.n} is stale")
    return None


class Recorder(Actor[Ping]):
    def __init__(self, seen: list[int]) -> None:
        self.seen = seen

    async def receive(self, message: Ping) -> Any:
        self.seen.append(message.n)
        return message


@pytest.mark.parametrize("transport", ["memory", "tcp"])
async def test_remote_refusals_reach_the_asker_and_dead_letters(transport: str) -> None:
    network = MemoryNetwork()
    seen: list[int] = []
    letters: list[DeadLetter] = []
    async with AsyncExitStack() as stack:
        nodes = []
        for name in ("a", "b"):
            system = await stack.enter_async_context(ActorSystem(name))
            if transport == "tcp":
                node = RemoteNode(system, secret=SECRET, transport=TcpTransport(), host="127.0.0.1")
            else:
                node = RemoteNode(
                    system, secret=SECRET, transport=network.transport(name), host=name
                )
            nodes.append(await stack.enter_async_context(node))
        a, b = nodes
        b.system.dead_letters.subscribe(letters.append)
        guarded = await b.system.spawn(Recorder, seen, name="guarded")
        lowlevel.add_delivery_filter(guarded, refuse_odd)
        ref = a.ref(f"{b.address}/user/guarded")

        assert await ref.ask(Ping(0), timeout=WAIT) == Ping(0)
        with pytest.raises(RemoteActorError) as refused:
            await ref.ask(Ping(1), timeout=WAIT)
        assert refused.value.type_name.endswith("Stale")
        assert "ping 1 is stale" in refused.value.remote_message

        for n in range(2, 40):  # sent as runs of tells
            ref.tell(Ping(n))
        assert await ref.ask(Ping(40), timeout=WAIT) == Ping(40)
        assert seen == list(range(0, 41, 2))
        await wait_until(lambda: len(letters) == 19)
        assert [letter.message for letter in letters] == [Ping(n) for n in range(3, 40, 2)]
        assert all("Stale" in letter.reason and "stale" in letter.reason for letter in letters)
        assert lowlevel.filter_statistics(guarded).refused == 20
