"""A supervised pool of workers on embedded defaults (the core's own example).

A coordinator supervises a pool of workers (one-for-one, with backoff) and
feeds them a batch of jobs. One job is poisoned: the worker that takes it
crashes, its supervisor restarts it with a fresh instance, and the
coordinator retries the job elsewhere. A summary is printed at the end.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from typing import Any, ClassVar

import anyio
import structlog

from actors import Actor, ActorRef, ActorSystem, Backoff, SupervisorFlags
from protocol import Message

JOBS = 400
WORKERS = 8
POISONED_JOB = 137


class Job(Message, tag="demo.job"):
    job_id: int
    rounds: int
    attempt: int = 1


class Done(Message, tag="demo.done"):
    job_id: int
    worker: str
    digest: str
    attempt: int


class RunBatch(Message, tag="demo.batch"):
    jobs: list[Job]


class Worker(Actor[Message]):
    """Hashes a job's payload ``rounds`` times; a poisoned job crashes it once."""

    crashed_once: ClassVar[set[int]] = set()

    async def receive(self, message: Message) -> Any:
        if not isinstance(message, Job):
            return None
        if message.job_id == POISONED_JOB and message.job_id not in Worker.crashed_once:
            Worker.crashed_once.add(message.job_id)
            raise RuntimeError(f"job {message.job_id}: worker hit a poisoned input")
        digest = str(message.job_id).encode()
        for _ in range(message.rounds):
            digest = hashlib.blake2b(digest, digest_size=16).digest()
        return Done(message.job_id, self.context.path, digest.hex(), message.attempt)


class Coordinator(Actor[Message]):
    """Supervises the workers and keeps every job moving until it is done."""

    supervisor_flags: ClassVar[SupervisorFlags] = SupervisorFlags(
        intensity=5, period=10.0, backoff=Backoff(initial=0.05, maximum=0.5)
    )

    async def on_start(self) -> None:
        self.workers: list[ActorRef[Message]] = [
            await self.context.spawn(Worker, name=f"worker-{n}") for n in range(WORKERS)
        ]

    async def receive(self, message: Message) -> Any:
        if not isinstance(message, RunBatch):
            return None
        results: dict[int, Done] = {}
        retries: list[str] = []
        pending = list(message.jobs)

        async def run(worker: ActorRef[Message], job: Job) -> None:
            try:
                results[job.job_id] = await worker.ask(job, timeout=5.0)
            except RuntimeError as exc:
                retries.append(f"job {job.job_id} failed on {worker.path} ({exc}); retrying")
                pending.append(Job(job.job_id, job.rounds, job.attempt + 1))

        while pending:
            batch, pending = pending, []
            async with anyio.create_task_group() as tg:
                for index, job in enumerate(batch):
                    tg.start_soon(run, self.workers[index % len(self.workers)], job)
        return results, retries


async def main() -> None:
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%H:%M:%S"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
    )
    started = time.perf_counter()
    async with ActorSystem("demo", seed=7) as system:
        coordinator = await system.spawn(Coordinator, name="coordinator")
        jobs = [Job(job_id=n, rounds=200 + (n * 37) % 800) for n in range(JOBS)]
        results, retries = await coordinator.ask(RunBatch(jobs), timeout=60.0)
        stats = system.statistics()
    elapsed = time.perf_counter() - started

    per_worker = Counter(done.worker.rsplit("/", 1)[-1] for done in results.values())
    print()
    print(f"Tadpole demo: {len(results)}/{JOBS} jobs done by {WORKERS} workers in {elapsed:.2f}s")
    for line in retries:
        print(f"  retry: {line}")
    print(f"  {'worker':<10} {'jobs':>5}")
    for worker, count in sorted(per_worker.items()):
        print(f"  {worker:<10} {count:>5}")
    print(
        f"  restarts: {stats.restarts}   failures: {stats.failures}   "
        f"messages: {stats.messages_processed}   dead letters: {stats.dead_letters}"
    )
    retried = [done for done in results.values() if done.attempt > 1]
    print(f"  retried jobs finished: {[done.job_id for done in retried]}")
    assert len(results) == JOBS, "every job must finish"
    assert stats.restarts >= 1, "the poisoned job must have crashed a worker"


if __name__ == "__main__":
    anyio.run(main)
