"""What a failure means: any exception but cancellation fails an actor cleanly,
and per-actor directives (Akka's resume, restart, stop, escalate) say what follows."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from structlog.testing import capture_logs

from actors import (
    Actor,
    ActorFailed,
    ActorStopped,
    ActorSystem,
    Backoff,
    ChildSpec,
    Directive,
    Directives,
    Restart,
    SupervisorFlags,
    Terminated,
)
from actors.lowlevel import cell_at
from protocol import Message
from tests.helpers import WAIT, Boom, Ping, wait_until

pytestmark = pytest.mark.anyio

NO_BACKOFF = SupervisorFlags(backoff=Backoff(initial=0.0, jitter=0.0))


class Halt(BaseException):
    """A BaseException that is not an Exception."""


class Raise(Message, tag="test.dir.raise"):
    kind: str


class Deposit(Message, tag="test.dir.deposit"):
    amount: int


class Withdraw(Message, tag="test.dir.withdraw"):
    amount: int


class Balance(Message, tag="test.dir.balance"):
    pass


RAISABLE: dict[str, type[BaseException]] = {
    "halt": Halt,
    "keyboard": KeyboardInterrupt,
    "exit": SystemExit,
}


class Lifecycle:
    def __init__(self) -> None:
        self.starts = 0
        self.stops = 0


class Raiser(Actor[Message]):
    def __init__(self, life: Lifecycle) -> None:
        self.life = life

    async def on_start(self) -> None:
        self.life.starts += 1

    async def on_stop(self) -> None:
        self.life.stops += 1

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Raise):
            raise RAISABLE[message.kind]("raised in receive")
        return "ok"


# -- BaseException: never a zombie ---------------------------------------------


@pytest.mark.parametrize("kind", sorted(RAISABLE))
async def test_base_exception_in_receive_fails_the_actor_cleanly_and_it_restarts(
    kind: str,
) -> None:
    life = Lifecycle()
    async with ActorSystem("t", guardian_flags=NO_BACKOFF) as system:
        ref = await system.spawn(Raiser, life, name="r")
        with pytest.raises(ActorFailed) as caught:
            await ref.ask(Raise(kind), timeout=WAIT)
        assert isinstance(caught.value.__cause__, RAISABLE[kind])
        assert caught.value.actor == "/user/r"
        assert await ref.ask(Ping(), timeout=WAIT) == "ok"
        assert life.stops == 1
        assert life.starts == 2
        assert system.statistics().failures == 1


@pytest.mark.parametrize("kind", sorted(RAISABLE))
async def test_base_exception_told_to_a_temporary_actor_stops_and_unregisters_it(
    kind: str,
) -> None:
    life = Lifecycle()
    async with ActorSystem("t") as system:
        ref = await system.spawn(Raiser, life, name="r", restart=Restart.TEMPORARY)
        ref.tell(Raise(kind))
        await wait_until(lambda: cell_at(system, "/user/r") is None)
        assert life.stops == 1
        with pytest.raises(ActorStopped):
            await ref.ask(Ping(), timeout=WAIT)


async def test_base_exception_in_on_start_is_supervised() -> None:
    attempts: list[int] = []

    class BadStart(Actor[Message]):
        async def on_start(self) -> None:
            attempts.append(1)
            if len(attempts) == 1:
                raise Halt("not yet")

        async def receive(self, message: Message) -> Any:
            return "up"

    async with ActorSystem("t", guardian_flags=NO_BACKOFF) as system:
        ref = await system.spawn(BadStart)
        assert await ref.ask(Ping(), timeout=WAIT) == "up"
        assert len(attempts) == 2


async def test_cancellation_of_a_handler_is_not_treated_as_a_failure() -> None:
    entered = asyncio.Event()

    class Stuck(Actor[Message]):
        async def receive(self, message: Message) -> Any:
            entered.set()
            await asyncio.Event().wait()

    async with ActorSystem("t") as system:
        ref = await system.spawn(Stuck, shutdown=0.0)
        ref.tell(Ping())
        await asyncio.wait_for(entered.wait(), WAIT)
        with capture_logs() as logs:
            await system.stop(ref)
        assert [e["event"] for e in logs if e["event"] == "actor_killed"] == ["actor_killed"]
        assert not [e for e in logs if e["event"] == "actor_failed"]
        assert system.statistics().failures == 0


# -- directives -------------------------------------------------------------------


class Bank(Actor[Message]):
    """Refuses an overdraft with ValueError; that must not reset the balances."""

    directives: ClassVar[Directives] = Directives({ValueError: Directive.RESUME})

    def __init__(self) -> None:
        self.balance = 0

    async def receive(self, message: Message) -> Any:
        if isinstance(message, Deposit):
            self.balance += message.amount
        elif isinstance(message, Withdraw):
            if message.amount > self.balance:
                raise ValueError(f"insufficient funds: {self.balance} < {message.amount}")
            self.balance -= message.amount
        elif isinstance(message, Boom):
            raise RuntimeError("bug")
        return self.balance


async def test_resume_keeps_the_state_and_sends_the_error_to_the_asker() -> None:
    async with ActorSystem("t", guardian_flags=NO_BACKOFF) as system:
        with capture_logs() as logs:
            bank = await system.spawn(Bank, name="bank")
            bank.tell(Deposit(100))
            with pytest.raises(ValueError, match="insufficient funds: 100 < 500"):
                await bank.ask(Withdraw(500), timeout=WAIT)
            bank.tell(Withdraw(1000))  # a told failure resumes too
            assert await bank.ask(Withdraw(30), timeout=WAIT) == 70
        resumed = [e for e in logs if e["event"] == "actor_resumed"]
        assert [(e["msg_type"], e["log_level"]) for e in resumed] == [
            ("Withdraw", "warning"),
            ("Withdraw", "warning"),
        ]
        assert "insufficient funds" in resumed[0]["error"]
        assert not [e for e in logs if e["event"] in ("actor_failed", "actor_restarted")]
        cell = cell_at(system, "/user/bank")
        assert cell is not None
        assert cell.restart_count == 0
        # Errors the rules do not name still restart (fresh state).
        with pytest.raises(RuntimeError):
            await bank.ask(Boom(), timeout=WAIT)
        assert await bank.ask(Balance(), timeout=WAIT) == 0


async def test_stop_directive_stops_a_permanent_actor_for_good() -> None:
    class Fragile(Actor[Message]):
        directives: ClassVar[Directives] = Directives(default=Directive.STOP)

        async def receive(self, message: Message) -> Any:
            if isinstance(message, Boom):
                raise RuntimeError("fatal")
            return "ok"

    terminated: list[Terminated] = []
    seen = asyncio.Event()

    class Watcher(Actor[Message]):
        def __init__(self, target: Any) -> None:
            self.target = target

        async def on_start(self) -> None:
            self.context.watch(self.target)

        async def receive(self, message: Message) -> Any:
            if isinstance(message, Terminated):
                terminated.append(message)
                seen.set()

    async with ActorSystem("t", guardian_flags=NO_BACKOFF) as system:
        letters: list[Any] = []
        system.dead_letters.subscribe(letters.append)
        ref = await system.spawn(Fragile, name="f")
        await system.spawn(Watcher, ref)
        ref.tell(Boom())
        ref.tell(Ping(1))  # queued behind the failure: dead-lettered
        await asyncio.wait_for(seen.wait(), WAIT)
        assert cell_at(system, "/user/f") is None
        assert terminated[0].failed
        assert [letter.message for letter in letters] == [Ping(1)]


async def test_escalate_directive_fails_the_supervisor_with_the_same_error() -> None:
    starts: list[str] = []

    class Kid(Actor[Message]):
        directives: ClassVar[Directives] = Directives({KeyError: Directive.ESCALATE})

        async def on_start(self) -> None:
            starts.append("kid")

        async def receive(self, message: Message) -> Any:
            raise KeyError("missing")

    class Parent(Actor[Message]):
        async def on_start(self) -> None:
            starts.append("parent")
            await self.context.spawn(Kid, name="kid")

        async def receive(self, message: Message) -> Any:
            return None

    async with ActorSystem("t", guardian_flags=NO_BACKOFF) as system:
        with capture_logs() as logs:
            await system.spawn(Parent, name="p")
            await wait_until(lambda: starts == ["parent", "kid"])
            with pytest.raises(KeyError):
                await system.lookup("/user/p/kid").ask(Ping(), timeout=WAIT)
            await wait_until(lambda: starts == ["parent", "kid", "parent", "kid"])
        failed = [(e["actor"], e["error"]) for e in logs if e["event"] == "actor_failed"]
        assert failed == [
            ("/user/p/kid", "KeyError('missing')"),
            ("/user/p", "KeyError('missing')"),
        ]
        p = cell_at(system, "/user/p")
        kid = cell_at(system, "/user/p/kid")
        assert p is not None
        assert kid is not None
        assert (p.restart_count, kid.restart_count) == (1, 0)


async def test_child_spec_directives_override_the_actor_class() -> None:
    async with ActorSystem("t", guardian_flags=NO_BACKOFF) as system:
        spec = ChildSpec(Bank, name="strict", directives=Directives(default=Directive.RESTART))
        bank = await system.spawn_spec(spec)
        bank.tell(Deposit(100))
        with pytest.raises(ValueError, match="insufficient"):
            await bank.ask(Withdraw(500), timeout=WAIT)
        assert await bank.ask(Balance(), timeout=WAIT) == 0


def test_directives_match_rules_in_order_by_isinstance() -> None:
    directives = Directives(
        {KeyError: Directive.STOP, LookupError: Directive.RESUME},
        default=Directive.ESCALATE,
    )
    assert directives.decide(KeyError("k")) is Directive.STOP
    assert directives.decide(IndexError(1)) is Directive.RESUME
    assert directives.decide(RuntimeError()) is Directive.ESCALATE
    assert Directives().decide(Halt()) is Directive.RESTART


def test_directives_refuse_what_is_not_an_exception_type_or_a_directive() -> None:
    with pytest.raises(TypeError, match=r"keys must be exception types, got 'ValueError'"):
        Directives({"ValueError": Directive.RESUME})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match=r"rules\[ValueError\] must be a Directive.*RESUME"):
        Directives({ValueError: "resume"})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match=r"Directives.default must be a Directive, got 'stop'"):
        Directives(default="stop")  # type: ignore[arg-type]


async def test_cancelled_error_from_an_awaited_future_is_a_failure_not_a_zombie() -> None:
    life = Lifecycle()

    class AwaitsCancelled(Raiser):
        async def receive(self, message: Message) -> Any:
            if isinstance(message, Raise):
                future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                future.cancel()
                await future  # raises CancelledError, but nobody cancelled this actor
            return "ok"

    async with ActorSystem("t", guardian_flags=NO_BACKOFF) as system:
        ref = await system.spawn(AwaitsCancelled, life, name="c")
        with pytest.raises(ActorFailed) as caught:
            await ref.ask(Raise("cancelled"), timeout=WAIT)
        assert isinstance(caught.value.__cause__, asyncio.CancelledError)
        assert await ref.ask(Ping(), timeout=WAIT) == "ok"
        assert (life.starts, life.stops) == (2, 1)


def test_directives_keep_a_read_only_copy_of_their_rules() -> None:
    rules: dict[type[BaseException], Directive] = {ValueError: Directive.RESUME}
    directives = Directives(rules)
    rules[ValueError] = Directive.STOP
    assert directives.decide(ValueError()) is Directive.RESUME
    with pytest.raises(TypeError):
        directives.rules[KeyError] = Directive.STOP  # type: ignore[index]


async def test_base_exception_from_the_factory_on_restart_is_supervised() -> None:
    calls: list[int] = []

    def factory() -> Actor[Message]:
        calls.append(1)
        if len(calls) == 2:
            raise Halt("factory broke once")
        return Raiser(Lifecycle())

    async with ActorSystem("t", guardian_flags=NO_BACKOFF) as system:
        ref = await system.spawn(factory, name="f")
        with pytest.raises(ActorFailed):
            await ref.ask(Raise("halt"), timeout=WAIT)
        assert await ref.ask(Ping(), timeout=WAIT) == "ok"
        assert len(calls) == 3


async def test_spawn_directives_override_the_actor_class() -> None:
    async with ActorSystem("t", guardian_flags=NO_BACKOFF) as system:
        bank = await system.spawn(Bank, directives=Directives(default=Directive.STOP))
        bank.tell(Deposit(100))
        with pytest.raises(ValueError, match="insufficient"):
            await bank.ask(Withdraw(500), timeout=WAIT)
        await wait_until(lambda: system.statistics().actors == 0)
