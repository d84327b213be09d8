"""The README's first example, kept runnable (the tests run it)."""

import anyio

from actors import Actor, ActorSystem, Request
from protocol import Message


class Add(Message):
    amount: int


class Total(Message):
    value: int


class Get(Message, Request[Total]):  # a Get is answered with a Total
    pass


class Counter(Actor[Add | Get]):  # its refs accept an Add or a Get, nothing else
    def __init__(self) -> None:
        self.total = 0

    async def receive(self, message: Add | Get) -> Total | None:
        match message:
            case Add(amount=n):
                self.total += n
            case Get():
                return Total(self.total)
        return None


async def main() -> None:
    async with ActorSystem("demo") as system:
        counter = await system.spawn(Counter, name="counter")
        counter.tell(Add(2))  # never blocks
        total = await counter.ask(Get(), timeout=1.0)  # typed: Total
        assert total == Total(2)
        print(total)


anyio.run(main)
