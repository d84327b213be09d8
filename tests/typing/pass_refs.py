"""User code that must type-check under ``mypy --strict`` (tests/typing/test_mypy.py).

Never run, only checked: it shows what typed refs let a program say.
"""

from __future__ import annotations

from typing import Any, assert_type

from actors import Actor, ActorRef, ActorSystem, Request, VirtualRef
from actors.ctl import (
    AdminClient,
    BadQuery,
    GetJobs,
    GetStatus,
    Jobs,
    JobTrace,
    NoSuchJob,
    Status,
    TraceJob,
    Unavailable,
)
from protocol import Message


class Total(Message):
    value: int


class Add(Message):
    amount: int


class Get(Message, Request[Total]):
    pass


class Reset(Message, Request[None]):
    pass


class Counter(Actor[Add | Get | Reset]):
    def __init__(self, start: int, label: str = "") -> None:
        self.total = start

    async def receive(self, message: Add | Get | Reset) -> Total | None:
        match message:
            case Add(amount=n):
                self.total += n
            case Get():
                return Total(self.total)
            case Reset():
                self.total = 0
        return None


class Loose(Actor[Message]):
    """Takes any Message: every Message type-checks, requests keep their reply type."""

    async def receive(self, message: Message) -> Any:
        return None


class Untyped(Actor[Any]):
    """Takes anything, as before typed refs."""

    async def receive(self, message: Any) -> Any:
        return message


class Conversation(Actor[Add | Get]):
    def __init__(self, key: str) -> None:
        self.key = key


class Parent(Actor[Message]):
    async def on_start(self) -> None:
        child = await self.context.spawn(Counter, 1, name="child")
        assert_type(child, ActorRef[Add | Get | Reset])
        now = self.context.spawn_nowait(Counter, 2, "label")
        assert_type(now, ActorRef[Add | Get | Reset])
        me = self.self_ref
        assert_type(me, ActorRef[Message])


async def main(system: ActorSystem, remote: ActorRef[Any]) -> None:
    counter = await system.spawn(Counter, 0, name="counter")
    assert_type(counter, ActorRef[Add | Get | Reset])
    counter.tell(Add(1))
    await counter.send(Add(2))
    assert_type(await counter.ask(Get(), timeout=1.0), Total)
    assert_type(await counter.ask(Reset()), None)
    assert_type(await counter.ask(Add(3)), Any)  # declares no reply

    # Constructor arguments: positional ones are checked; defaults may be left out.
    await system.spawn(Counter, 0, "with label")
    # Keyword arguments are checked through a factory; a ``kwargs`` mapping is not.
    labelled = await system.spawn(lambda: Counter(0, label="x"), name="labelled")
    assert_type(labelled, ActorRef[Add | Get | Reset])
    mapped = await system.spawn(Counter, kwargs={"start": 0})
    assert_type(mapped, ActorRef[Add | Get | Reset])

    # A ref that accepts more messages stands in for one that accepts fewer.
    adder: ActorRef[Add] = counter
    adder.tell(Add(1))

    loose = await system.spawn(Loose)
    loose.tell(Add(1))
    assert_type(await loose.ask(Get()), Total)

    untyped = await system.spawn(Untyped)
    untyped.tell("anything")
    assert_type(await untyped.ask(Get()), Total)
    assert_type(await untyped.ask({"k": 1}), Any)

    # Actors by key: the factory takes the key.
    chat = system.virtual(Conversation, "user-42")
    assert_type(chat, VirtualRef[Add | Get])
    assert_type(await chat.ask(Get()), Total)

    # Remote refs (or system.ref(address)) are typed by annotation: the address
    # alone cannot say what the actor takes.
    far: ActorRef[Add | Get] = remote
    far.tell(Add(1))
    assert_type(await far.ask(Get()), Total)

    # A spec is data: its ref is untyped unless annotated.
    from actors import ChildSpec

    spec_ref: ActorRef[Add | Get] = await system.spawn_spec(ChildSpec(Counter, (0,)))
    assert_type(await spec_ref.ask(Get()), Total)


async def operator(client: AdminClient) -> None:
    """The admin actor's queries are typed asks: each declares its replies."""
    assert_type(await client.ask(GetStatus()), Status)
    assert_type(await client.ask(GetJobs()), Jobs | Unavailable)
    assert_type(await client.ask(TraceJob("j-1")), JobTrace | NoSuchJob | Unavailable | BadQuery)
