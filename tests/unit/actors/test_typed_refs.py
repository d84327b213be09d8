"""Typed refs at run time: ``Request`` changes nothing on the wire or in delivery,
and the spawn forms (coroutines and their ``_nowait`` twins) start the same actors.

What the types refuse is proved by mypy in tests/typing/.
"""

from __future__ import annotations

from typing import Any

import pytest

from actors import Actor, ActorRef, ActorSystem, ChildSpec, Request
from protocol import Codec, Message
from tests.helpers import WAIT

pytestmark = pytest.mark.anyio


class Total(Message):
    value: int


class Get(Message, Request[Total]):
    pass


class Query(Message, Request[Total]):
    key: str
    limit: int = 10


class Plain(Message):
    key: str
    limit: int = 10


class Counter(Actor[Get]):
    def __init__(self, start: int = 0) -> None:
        self.total = start

    async def receive(self, message: Get) -> Total:
        return Total(self.total)


class Spawner(Actor[Message]):
    """Spawns children from synchronous code, as a helper of ``receive`` would."""

    def spawn_now(self, start: int) -> tuple[ActorRef[Get], ActorRef[Any]]:
        made = self.context.spawn_nowait(Counter, start, name=f"made-{start}")
        from_spec = self.context.spawn_spec_nowait(
            ChildSpec(Counter, (start + 1,), name=f"spec-{start}")
        )
        return made, from_spec

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Total):
            return self.spawn_now(message.value)
        if isinstance(message, Get):
            child = await self.context.spawn(Counter, 7)
            spec_child = await self.context.spawn_spec(ChildSpec(Counter, (8,)))
            return child, spec_child
        return None


def test_a_request_is_an_ordinary_message_on_the_wire() -> None:
    codec = Codec()
    query = Query("k", 3)
    assert codec.decode(codec.encode(query)) == query
    # The mixin adds no field and no slot: the encoding has the shape of a plain message.
    plain = codec.encode(Plain("k", 3))
    assert len(codec.encode(query)) - len(Query.message_tag()) == len(plain) - len(
        Plain.message_tag()
    )
    assert Request.__slots__ == ()
    assert not hasattr(query, "__dict__")


def test_request_has_no_runtime_member() -> None:
    assert not hasattr(Get(), "__tadpole_request__")
    assert issubclass(Get, Message)
    assert isinstance(Get(), Request)


async def test_ask_of_a_request_returns_the_receive_result() -> None:
    async with ActorSystem("t") as system:
        counter = await system.spawn(Counter, 41)
        assert await counter.ask(Get(), timeout=WAIT) == Total(41)
        chat = system.virtual(lambda key: Counter(len(key)), "four")
        assert await chat.ask(Get(), timeout=WAIT) == Total(4)


async def test_spawn_spec_is_a_coroutine_like_spawn() -> None:
    async with ActorSystem("t") as system:
        ref = await system.spawn_spec(ChildSpec(Counter, (5,), name="five"))
        assert ref.path == "/user/five"
        assert await ref.ask(Get(), timeout=WAIT) == Total(5)


async def test_context_spawns_children_from_sync_and_async_code() -> None:
    async with ActorSystem("t") as system:
        parent = await system.spawn(Spawner, name="parent")
        made, from_spec = await parent.ask(Total(2), timeout=WAIT)
        assert made.path == "/user/parent/made-2"
        assert from_spec.path == "/user/parent/spec-2"
        assert await made.ask(Get(), timeout=WAIT) == Total(2)
        assert await from_spec.ask(Get(), timeout=WAIT) == Total(3)
        child, spec_child = await parent.ask(Get(), timeout=WAIT)
        assert await child.ask(Get(), timeout=WAIT) == Total(7)
        assert await spec_child.ask(Get(), timeout=WAIT) == Total(8)
        assert {ref.path for ref in system.actors} >= {made.path, from_spec.path, child.path}
