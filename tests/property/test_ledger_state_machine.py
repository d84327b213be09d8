"""A state machine of append / checkpoint / prune / epoch / reopen against a model."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from typing import TYPE_CHECKING, Any, TypeVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from actors.ledger import Ledger, MemoryStore, Record, Reducers, open_ledger, state_digest

if TYPE_CHECKING:
    from collections.abc import Coroutine

T = TypeVar("T")

payloads = st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 99), max_size=2)
kinds = st.sampled_from(["put", "drop", "note"])


def fold(state: dict[str, Any], kind: str, payload: dict[str, int]) -> dict[str, Any]:
    for key, value in payload.items():
        if kind == "put":
            state["keys"][key] = value
        elif kind == "drop":
            state["keys"].pop(key, None)
    state["count"] += 1
    return state


def initial() -> dict[str, Any]:
    return {"keys": {}, "count": 0}


def reducers() -> Reducers[dict[str, Any]]:
    return Reducers(
        "model", initial, fallback=lambda state, record: fold(state, record.kind, record.value())
    )


class LedgerMachine(RuleBasedStateMachine):
    """The ledger must agree with a list of (kind, payload, epoch) and its checkpoints."""

    on_disk = True

    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="ledger-machine-")
        self.memory = MemoryStore()
        self.loop = asyncio.new_event_loop()
        self.model: list[tuple[str, dict[str, int], int]] = []
        self.checkpoints: set[int] = set()
        self.base = 0
        self.epoch = 0
        self.ledger = self.open()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def open(self) -> Ledger:
        target = os.path.join(self.directory, "ledger.db") if self.on_disk else self.memory
        ledger = open_ledger(target, reducers=reducers())
        self.run(ledger.__aenter__())
        return ledger

    @rule(kind=kinds, payload=payloads)
    def append(self, kind: str, payload: dict[str, int]) -> None:
        record = self.run(self.ledger.append(kind, payload))
        self.model.append((kind, payload, self.epoch))
        assert (record.seq, record.epoch) == (len(self.model), self.epoch)

    @rule(entries=st.lists(st.tuples(kinds, payloads), min_size=1, max_size=5))
    def append_nowait(self, entries: list[tuple[str, dict[str, int]]]) -> None:
        for kind, payload in entries:
            self.ledger.append_nowait(kind, payload)
            self.model.append((kind, payload, self.epoch))

    @rule()
    def start_epoch(self) -> None:
        self.epoch = self.ledger.start_epoch()

    @rule()
    def checkpoint(self) -> None:
        checkpoint = self.run(self.ledger.checkpoint())
        assert checkpoint.seq == len(self.model)
        self.checkpoints.add(checkpoint.seq)

    @precondition(lambda self: any(seq > self.base for seq in self.checkpoints))
    @rule()
    def prune(self) -> None:
        upto = max(self.checkpoints)
        assert self.run(self.ledger.prune()) == upto - self.base
        self.base = upto
        self.checkpoints = {seq for seq in self.checkpoints if seq >= upto}

    @rule()
    def reopen(self) -> None:
        self.run(self.ledger.aclose())
        self.ledger = self.open()
        self.epoch = self.model[-1][2] if self.model else 0

    @invariant()
    def agrees_with_the_model(self) -> None:
        ledger = self.ledger
        assert ledger.head_seq == len(self.model)
        report = self.run(ledger.verify())
        assert report.ok, report.fault
        assert (report.base_seq, report.records) == (self.base, len(self.model) - self.base)
        records: list[Record] = self.run(ledger.records())
        retained = [(r.kind, r.value(), r.epoch) for r in records]
        assert retained == self.model[self.base :]
        state = initial()
        for kind, payload, _ in self.model:
            fold(state, kind, payload)
        assert self.run(ledger.replay()).digest == state_digest(state)

    def teardown(self) -> None:
        try:
            self.run(self.ledger.aclose())
        finally:
            self.loop.close()
            shutil.rmtree(self.directory, ignore_errors=True)


class MemoryLedgerMachine(LedgerMachine):
    on_disk = False


TestSQLiteLedgerMachine = LedgerMachine.TestCase
TestSQLiteLedgerMachine.settings = settings(max_examples=15, stateful_step_count=15, deadline=None)
TestMemoryLedgerMachine = MemoryLedgerMachine.TestCase
TestMemoryLedgerMachine.settings = settings(max_examples=20, stateful_step_count=20, deadline=None)
