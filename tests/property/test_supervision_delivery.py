"""Hypothesis invariant of supervision: every accepted tell is either handled
by some incarnation or dead-lettered, exactly once, whatever fails, restarts,
resumes, escalates or stops (gracefully or not) along the way."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import anyio
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import WAIT, wait_until

from actors import (
    Actor,
    ActorSystem,
    Backoff,
    ChildSpec,
    DeadLetter,
    Directive,
    Directives,
    Restart,
    Strategy,
    SupervisorFlags,
)
from actors.lowlevel import cell_at
from protocol import Message


class Job(Message, tag="prop.sup.job"):
    n: int
    fail: str  # "", "error" (RuntimeError), "value" (ValueError), "base" (BaseException)


class Halt(BaseException):
    pass


HANDLED: list[int] = []


class Worker(Actor[Message]):
    async def receive(self, message: Message) -> Any:
        if isinstance(message, Job):
            HANDLED.append(message.n)
            if message.fail == "error":
                raise RuntimeError("induced")
            if message.fail == "value":
                raise ValueError("induced")
            if message.fail == "base":
                raise Halt("induced")
        return None


def supervisor(flags: SupervisorFlags, specs: list[ChildSpec]) -> type[Actor[Message]]:
    class Supervisor(Actor[Message]):
        supervisor_flags: ClassVar[SupervisorFlags] = flags

        async def on_start(self) -> None:
            for spec in specs:
                await self.context.spawn_spec(spec)

        async def receive(self, message: Message) -> Any:
            return None

    return Supervisor


step = st.one_of(
    st.tuples(
        st.just("tell"),
        st.integers(min_value=0, max_value=2),
        st.sampled_from(["", "", "", "error", "value", "base"]),
    ),
    st.tuples(
        st.sampled_from(["stop", "graceful"]),
        st.integers(min_value=0, max_value=2),
        st.just(""),
    ),
    st.tuples(st.just("yield"), st.just(0), st.just("")),
)


@settings(max_examples=100, deadline=None)
@given(
    strategy=st.sampled_from(list(Strategy)),
    intensity=st.integers(min_value=0, max_value=4),
    restarts=st.lists(st.sampled_from(list(Restart)), min_size=3, max_size=3),
    directives=st.lists(st.sampled_from(list(Directive)), min_size=3, max_size=3),
    plan=st.lists(step, min_size=1, max_size=60),
)
def test_every_accepted_tell_is_handled_or_dead_lettered_exactly_once(
    strategy: Strategy,
    intensity: int,
    restarts: list[Restart],
    directives: list[Directive],
    plan: list[tuple[str, int, str]],
) -> None:
    HANDLED.clear()
    told: list[int] = []
    letters: list[DeadLetter] = []
    no_backoff = Backoff(initial=0.0, jitter=0.0)
    flags = SupervisorFlags(strategy=strategy, intensity=intensity, backoff=no_backoff)
    specs = [
        ChildSpec(
            Worker,
            name=f"w{i}",
            restart=restarts[i],
            directives=Directives({ValueError: directives[i]}, default=Directive.RESTART),
        )
        for i in range(3)
    ]

    async def scenario() -> None:
        guardian = SupervisorFlags(intensity=1, backoff=no_backoff)
        async with ActorSystem("prop", guardian_flags=guardian) as system:
            system.dead_letters.subscribe(letters.append)
            sup = await system.spawn(supervisor(flags, specs), name="s")
            await wait_until(lambda: cell_at(system, "/user/s/w2") is not None)
            refs = [system.lookup(f"/user/s/w{i}") for i in range(3)]
            stops: list[asyncio.Task[None]] = []
            for n, (action, who, fail) in enumerate(plan):
                ref = refs[who]
                if action == "tell":
                    ref.tell(Job(n, fail))
                    told.append(n)
                elif action == "yield":
                    await asyncio.sleep(0)
                else:
                    graceful = action == "graceful"
                    stops.append(asyncio.ensure_future(system.stop(ref, graceful=graceful)))
            with anyio.fail_after(WAIT):
                await asyncio.gather(*stops)
            await system.stop(sup, graceful=True)

    with structlog.testing.capture_logs():
        anyio.run(scenario)
    dead = [letter.message.n for letter in letters if isinstance(letter.message, Job)]
    assert len(HANDLED) == len(set(HANDLED)), "a message was handled twice"
    assert len(dead) == len(set(dead)), "a message was dead-lettered twice"
    assert not set(HANDLED) & set(dead), "a message was both handled and dead-lettered"
    assert sorted(HANDLED + dead) == told
