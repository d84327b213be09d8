"""User code that must fail ``mypy --strict`` with exactly the errors marked on its lines.

A line's mark is a trailing comment "E: <text>"; tests/typing/test_mypy.py
checks that each marked line has an error containing the text, and that no
other line has one. Never run, only checked.
"""

from __future__ import annotations

from typing import Any

from actors import Actor, ActorRef, ActorSystem, Request
from actors.ctl import AdminClient, GetStatus
from protocol import Message


class Total(Message):
    value: int


class Add(Message):
    amount: int


class Get(Message, Request[Total]):
    pass


class Stop(Message, Request[bool]):
    pass


class Counter(Actor[Add | Get]):
    def __init__(self, start: int, label: str = "") -> None:
        self.total = start

    async def receive(self, message: Add | Get) -> Total | None:
        return None


class Conversation(Actor[Add]):
    def __init__(self, key: int) -> None:
        self.key = key


class Loose(Actor[Message]):
    async def receive(self, message: Message) -> Any:
        return None


async def main(system: ActorSystem) -> None:
    counter = await system.spawn(Counter, 0)
    counter.tell(Stop())  # E: Argument 1 to "tell" of "ActorRef" has incompatible type "Stop"
    counter.tell("add 1")  # E: Argument 1 to "tell" of "ActorRef" has incompatible type "str"
    await counter.send(Total(1))  # E: Argument 1 to "send" of "ActorRef" has incompatible type
    await counter.ask(Stop())  # E: Argument 1 to "ask" of "ActorRef" has incompatible type "Stop"
    await counter.ask(Total(1))  # E: No overload variant of "ask" of "ActorRef" matches
    total = await counter.ask(Get())
    print(total.amount)  # E: "Total" has no attribute "amount"

    await system.spawn(Counter)  # E: Argument 1 to "spawn" of "ActorSystem" has incompatible type
    await system.spawn(Counter, "0")  # E: Argument 1 to "spawn" of "ActorSystem" has incompatible
    await system.spawn(Counter, 0, "label", 3)  # E: Argument 1 to "spawn" of "ActorSystem" has
    await system.spawn(lambda: Counter(0, colour="red"))  # E: Unexpected keyword argument "colour"

    system.virtual(Conversation, "user-42")  # E: Argument 1 to "virtual" of "ActorSystem" has
    chat = system.virtual(Counter, "user-42")  # E: Argument 1 to "virtual" of "ActorSystem" has

    loose = await system.spawn(Loose)
    loose.tell(42)  # E: Argument 1 to "tell" of "ActorRef" has incompatible type "int"
    flag = await loose.ask(Stop())
    print(flag.upper())  # E: "bool" has no attribute "upper"

    narrow: ActorRef[Add] = counter
    narrow.tell(Get())  # E: Argument 1 to "tell" of "ActorRef" has incompatible type "Get"
    wider: ActorRef[Add | Stop] = counter  # E: Incompatible types in assignment
    print(chat, wider)


class Parent(Actor[Message]):
    async def on_start(self) -> None:
        child = await self.context.spawn(Counter, 0)
        child.tell(Stop())  # E: Argument 1 to "tell" of "ActorRef" has incompatible type "Stop"
        self.context.spawn_nowait(Counter, 0.5)  # E: Argument 1 to "spawn_nowait" of "ActorContext"


async def operator(client: AdminClient) -> None:
    await client.ask(Get())  # E: Argument 1 to "ask" of "AdminClient" has incompatible type "Get"
    status = await client.ask(GetStatus())
    print(status.jobs)  # E: "Status" has no attribute "jobs"
