"""Hypothesis: any value that is not a Message is refused by a remote ref at the call.

``tell``, ``send`` and ``ask`` of it raise ``TypeError``, nothing is sent,
and the asks already in flight on the connection, and the connection, carry on.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import SECRET, WAIT, Echo, Ping

from actors import Actor, ActorSystem
from actors.remote import MemoryNetwork, RemoteNode
from protocol import Message

IN_FLIGHT = 20
NOT_A_MESSAGE = r"only a protocol\.Message"

leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.binary())
values = st.one_of(
    leaves,
    st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=8), children, max_size=4),
            st.tuples(children, children),
        ),
        max_leaves=8,
    ),
    st.sampled_from([{"type": "test.ping", "n": 1}, ["test.ping", 1], object(), Ping]),
)


class Gate(Actor[Message]):
    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate

    async def receive(self, message: Message) -> Any:
        await self.gate.wait()
        return message


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample=st.lists(values, min_size=1, max_size=10))
def test_a_remote_ref_refuses_every_non_message_at_the_call(sample: list[Any]) -> None:
    async def main() -> None:
        network = MemoryNetwork()
        async with AsyncExitStack() as stack:
            sa = await stack.enter_async_context(ActorSystem("a"))
            sb = await stack.enter_async_context(ActorSystem("b"))
            a = await stack.enter_async_context(
                RemoteNode(sa, secret=SECRET, transport=network.transport("a"))
            )
            b = await stack.enter_async_context(
                RemoteNode(sb, secret=SECRET, transport=network.transport("b"), host="b")
            )
            gate = asyncio.Event()
            await sb.spawn(Gate, gate, name="gate")
            await sb.spawn(Echo, name="echo")
            held = a.ref(f"{b.address}/user/gate")
            echo = a.ref(f"{b.address}/user/echo")
            with anyio.fail_after(WAIT * 2):
                in_flight = [
                    asyncio.ensure_future(held.ask(Ping(i), timeout=WAIT)) for i in range(IN_FLIGHT)
                ]
                assert await echo.ask(Ping(-1), timeout=WAIT) == Ping(-1)
                sent = a.statistics().messages_sent
                for value in sample:
                    with pytest.raises(TypeError, match=NOT_A_MESSAGE):
                        echo.tell(value)
                    with pytest.raises(TypeError, match=NOT_A_MESSAGE):
                        await echo.send(value)
                    with pytest.raises(TypeError, match=NOT_A_MESSAGE):
                        await echo.ask(value, timeout=WAIT)
                    echo.tell(Ping(0))  # a Message between them still goes
                    sent += 1
                assert a.statistics().messages_sent == sent
                assert await echo.ask(Ping(-2), timeout=WAIT) == Ping(-2)
                gate.set()
                assert await asyncio.gather(*in_flight) == [Ping(i) for i in range(IN_FLIGHT)]
                assert a.statistics().connections_closed == 0
                assert b.statistics().connections_closed == 0

    asyncio.run(main())
