"""Seeded simulations on virtual time: a scenario's result, its seed and a trace digest.

:func:`simulate` runs an async scenario on a fresh :class:`VirtualEventLoop`
and hands it a :class:`Simulation`: the seed, a ``random.Random`` seeded
with it, the virtual clock, and :meth:`Simulation.system` to build actor
systems whose randomness derives from the seed and whose deliveries are
traced. The same seed replays the same run: the same choices, the same
timings, the same trace digest.

A failure keeps its own exception type (so ``pytest.raises`` and Hypothesis
see the real error) with a note naming the seed to replay. A simulation that
can make no more progress raises :class:`SimulationDeadlock`; one still
running at its virtual-time limit raises :class:`SimulationTimeout`.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .. import ActorSystem
from ._clock import VirtualClock
from ._errors import SimulationDeadlock, SimulationError, SimulationTimeout
from ._loop import VirtualEventLoop
from ._trace import Delivery, TraceRecorder, tap

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["DEFAULT_TIMEOUT", "Simulation", "SimulationResult", "simulate"]

T = TypeVar("T")

DEFAULT_TIMEOUT = 24 * 3600.0
"""Virtual seconds a scenario may run before :class:`SimulationTimeout`: one day."""


@dataclass(frozen=True, slots=True)
class SimulationResult(Generic[T]):
    """What a finished simulation returns."""

    value: T
    """The scenario's return value."""
    seed: int
    """The seed that replays this run."""
    digest: str
    """Hex SHA-256 over every delivered message in order (see :class:`Delivery`)."""
    deliveries: int
    """How many messages were delivered in traced systems."""
    virtual_time: float
    """Virtual seconds from the start to the scenario's end."""
    trace: tuple[Delivery, ...] = ()
    """Every delivery, when run with ``keep_trace=True``."""


class Simulation:
    """What a scenario gets: the seed, seeded randomness, virtual time, traced systems."""

    def __init__(self, seed: int, recorder: TraceRecorder) -> None:
        self.seed = seed
        """The run's seed."""
        self.random = random.Random(seed)
        """The scenario's own random choices (which actor fails, when, ...)."""
        self.clock = VirtualClock()
        """The clock given to the systems it builds (virtual ``now`` and ``wall``)."""
        self._recorder = recorder
        self._incarnations: dict[str, int] = {}

    def now(self) -> float:
        """Virtual seconds since the simulation started."""
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass (instantly in real time)."""
        await asyncio.sleep(seconds)

    def random_for(self, label: str) -> random.Random:
        """A ``random.Random`` of its own for ``label``, derived from the seed.

        The same seed and label always give the same stream, and drawing from
        one stream never shifts another: give each component (a network, a
        fault injector, a workload) its own label.
        """
        return random.Random(f"{self.seed}/{label}")

    def system(self, name: str = "sim", **options: Any) -> ActorSystem:
        """A new, traced :class:`~actors.ActorSystem` on the simulation's clock and seed.

        ``options`` go to ``ActorSystem`` (``guardian_flags``, ...). Unless
        they name a ``clock``, ``rng`` or ``seed``, the system gets
        :attr:`clock` and ``random_for(f"system/{name}/{n}")`` for its
        ``n``-th incarnation under that name (a node restarted under the same
        name gets a fresh, still reproducible, stream). ``trace_messages=True``
        keeps the runtime's ``message_received`` debug log as well.
        """
        # Any: forwarded as they are to ActorSystem's keyword arguments.
        n = self._incarnations[name] = self._incarnations.get(name, 0) + 1
        log = bool(options.pop("trace_messages", False))
        options.setdefault("clock", self.clock)
        if "rng" not in options and "seed" not in options:
            options["rng"] = self.random_for(f"system/{name}/{n}")
        system = ActorSystem(name, **options)
        tap(system, self._recorder, log=log)
        return system

    def trace(self, system: ActorSystem, *, log: bool = False) -> ActorSystem:
        """Trace the deliveries of a system built elsewhere (before it spawns anything)."""
        tap(system, self._recorder, log=log)
        return system

    @property
    def digest(self) -> str:
        """The trace digest so far."""
        return self._recorder.digest

    @property
    def deliveries(self) -> int:
        """How many messages have been delivered so far in traced systems."""
        return self._recorder.count


def simulate(
    scenario: Callable[[Simulation], Awaitable[T]],
    *,
    seed: int | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    stall_timeout: float = 2.0,
    keep_trace: bool = False,
) -> SimulationResult[T]:
    """Run ``await scenario(sim)`` on virtual time with ``seed``; return its result.

    ``seed`` defaults to a fresh random one (read it from the result, or from
    the note on a failure). ``timeout`` bounds the run in virtual seconds
    (``None``: no bound). ``stall_timeout`` is how many *real* seconds the
    loop waits for I/O or another thread, with nothing else left to do,
    before it declares a deadlock. ``keep_trace`` keeps every
    :class:`Delivery` in the result, to compare two runs.

    Call it from synchronous code (a plain ``def`` test): it runs its own
    event loop, on the standard asyncio loop, never uvloop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            "simulate() runs its own virtual-time event loop: call it from synchronous "
            "code (a plain `def` test), not from inside a running loop"
        )
    if seed is None:
        seed = secrets.randbits(32)
    loop = VirtualEventLoop()
    recorder = TraceRecorder(loop.time, keep=keep_trace)
    sim = Simulation(seed, recorder)
    with asyncio.Runner(loop_factory=lambda: loop) as runner:
        try:
            value, ended = runner.run(_drive(sim, scenario, loop, timeout, stall_timeout))
        except SimulationError:
            raise
        except Exception as exc:
            exc.add_note(
                f"simulation seed={seed}: failed at virtual time {loop.time():.6f}s after "
                f"{recorder.count} deliveries; replay it with "
                f"simulate({_name(scenario)}, seed={seed})"
            )
            raise
    return SimulationResult(
        value=value,
        seed=seed,
        digest=recorder.digest,
        deliveries=recorder.count,
        virtual_time=ended,
        trace=recorder.deliveries,
    )


async def _drive(
    sim: Simulation,
    scenario: Callable[[Simulation], Awaitable[T]],
    loop: VirtualEventLoop,
    timeout: float | None,
    stall_timeout: float,
) -> tuple[T, float]:
    task = asyncio.current_task()
    assert task is not None
    reasons: list[tuple[str, float]] = []

    def give_up(reason: str) -> None:
        if not reasons:
            reasons.append((reason, loop.time()))
            task.cancel()

    if timeout is not None:
        loop.set_deadline(loop.time() + timeout, lambda: give_up("timeout"))
    loop.set_stall_handler(lambda: give_up("deadlock"), after=stall_timeout)
    try:
        value = await scenario(sim)
    except asyncio.CancelledError:
        if not reasons or task.cancelling() > 1:
            raise  # cancelled from outside (too): not ours to swallow
        task.uncancel()
        raise _gave_up(sim, *reasons[0], timeout, stall_timeout) from None
    finally:
        loop.set_deadline(None, None)
        loop.set_stall_handler(None)
    if reasons:  # the scenario swallowed our cancellation
        raise _gave_up(sim, *reasons[0], timeout, stall_timeout)
    return value, loop.time()


def _gave_up(
    sim: Simulation, reason: str, now: float, timeout: float | None, stall: float
) -> SimulationError:
    if reason == "timeout":
        return SimulationTimeout(
            f"simulation seed={sim.seed} still running after {timeout:g} virtual seconds "
            f"({sim.deliveries} deliveries); replay it with seed={sim.seed}, or pass a "
            "larger timeout if it needs longer",
            seed=sim.seed,
            virtual_time=now,
        )
    return SimulationDeadlock(
        f"simulation seed={sim.seed} deadlocked at virtual time {now:.6f}s: no callback "
        f"ready, no timer scheduled and no I/O for {stall:g}s of real time, so every task "
        f"waits on something that can never come; replay it with seed={sim.seed}",
        seed=sim.seed,
        virtual_time=now,
    )


def _name(scenario: object) -> str:
    name: str = getattr(scenario, "__qualname__", None) or repr(scenario)
    return name
