"""Hypothesis: every value an ask's ``timeout`` can be given, on every kind of ref.

The rule (see ``ActorRef.ask``): ``None`` is no timeout; a positive finite
``int``/``float`` is a timeout in seconds; ``0`` is already expired
(``AskTimeout`` at once, nothing delivered); a negative, NaN or infinite
number is a ``ValueError`` and a ``bool`` or a non-number a ``TypeError``,
both raised at the call before anything is sent. On a remote ref, the asks
already in flight on the same connection must not notice any of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from contextlib import AsyncExitStack
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import SECRET, WAIT, Echo, Ping

from actors import Actor, ActorRef, ActorSystem, AskTimeout
from actors.remote import MemoryNetwork, RemoteNode, TcpTransport
from protocol import Message

IN_FLIGHT = 20

timeouts = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-3, 3),
    st.floats(),  # NaN, infinities, negatives, zeros, subnormals, huge
    st.floats(min_value=WAIT, max_value=1e9),
    st.sampled_from([0, 0.0, -0.0, -1, float("nan"), float("inf"), -float("inf"), 10**400]),
    st.text(max_size=3),
    st.sampled_from(["1", b"1", [1.0], 1j, object()]),
)


def expected(timeout: Any) -> type[BaseException] | None:
    """The error the ask must raise at the call (None: a valid timeout)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        return TypeError
    try:
        seconds = float(timeout)
    except OverflowError:  # an int past the largest float
        seconds = math.inf
    if math.isnan(seconds) or seconds < 0 or math.isinf(seconds):
        return ValueError
    if seconds == 0:
        return AskTimeout
    return None


class KeyedEcho(Echo):
    def __init__(self, key: str) -> None:
        self.key = key


class Gate(Actor[Message]):
    """Holds every ask until the test opens the gate."""

    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate

    async def receive(self, message: Message) -> Any:
        await self.gate.wait()
        return message


async def check_values(ref: ActorRef[Any], values: list[Any], sent: Any = None) -> None:
    """Ask ``ref`` with each timeout; ``sent()`` counts messages sent, if remote."""
    for n, timeout in enumerate(values):
        error = expected(timeout)
        before = sent() if sent is not None else None
        if error is not None:
            # A ValueError/TypeError names the argument; an AskTimeout is "already expired".
            match = "timeout" if error is not AskTimeout else None
            with pytest.raises(error, match=match):
                await ref.ask(Ping(n), timeout=timeout)
            if sent is not None:
                assert sent() == before, f"timeout={timeout!r} sent something"
        elif timeout is None or timeout >= WAIT:
            assert await ref.ask(Ping(n), timeout=timeout) == Ping(n)
        else:
            # A tiny timeout may expire first: that is its normal behaviour.
            with contextlib.suppress(AskTimeout):
                assert await ref.ask(Ping(n), timeout=timeout) == Ping(n)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(timeouts, min_size=1, max_size=12))
def test_local_and_keyed_refs_check_the_timeout_at_the_call(values: list[Any]) -> None:
    async def main() -> None:
        async with ActorSystem("local") as system:
            ref = await system.spawn(Echo, name="echo")
            with anyio.fail_after(WAIT * 2):
                await check_values(ref, values)
                await check_values(system.virtual(KeyedEcho, "key"), values)
            # Refused asks reached nobody: the keyed actor was activated only by
            # the valid ones, and the echo actor saw exactly those.
            valid = [t for t in values if expected(t) is None]
            if not valid:
                assert system.virtual_statistics().active == 0

    asyncio.run(main())


async def remote_values(client: Any, server: Any, host: str, values: list[Any]) -> None:
    async with AsyncExitStack() as stack:
        sa = await stack.enter_async_context(ActorSystem("a"))
        sb = await stack.enter_async_context(ActorSystem("b"))
        a = await stack.enter_async_context(
            RemoteNode(sa, secret=SECRET, transport=client, host=host)
        )
        b = await stack.enter_async_context(
            RemoteNode(sb, secret=SECRET, transport=server, host=host)
        )
        gate = asyncio.Event()
        await sb.spawn(Gate, gate, name="gate")
        await sb.spawn(Echo, name="echo")
        held = a.ref(f"{b.address}/user/gate")
        echo = a.ref(f"{b.address}/user/echo")
        with anyio.fail_after(WAIT * 3):
            in_flight = [
                asyncio.ensure_future(held.ask(Ping(i), timeout=WAIT * 2)) for i in range(IN_FLIGHT)
            ]
            await echo.ask(Ping(-1), timeout=WAIT)  # all of them are out on the connection
            opened = a.statistics().connections_opened
            await check_values(echo, values, lambda: a.statistics().messages_sent)
            assert not any(f.done() for f in in_flight)
            gate.set()
            assert await asyncio.gather(*in_flight) == [Ping(i) for i in range(IN_FLIGHT)]
            stats = a.statistics()
            assert stats.connections_opened == opened
            assert stats.connections_closed == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(timeouts, min_size=1, max_size=12))
def test_remote_refs_check_the_timeout_and_spare_the_other_asks_memory(
    values: list[Any],
) -> None:
    async def main() -> None:
        network = MemoryNetwork()
        await remote_values(network.transport("a"), network.transport("b"), "b", values)

    asyncio.run(main())


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(timeouts, min_size=1, max_size=12))
def test_remote_refs_check_the_timeout_and_spare_the_other_asks_tcp(values: list[Any]) -> None:
    async def main() -> None:
        await remote_values(TcpTransport(), TcpTransport(), "127.0.0.1", values)

    asyncio.run(main())
