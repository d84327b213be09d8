"""The job table alone, against a simple model of the job lifecycle (no actors).

queued -> running -> completed | failed | needs_review; a failure with
attempts left is retried (same id, next attempt) when its backoff is due; a
settled job is unread until acknowledged and holds a window slot until then;
an acknowledgement may accept (a needs_review job then completes) or retry
(with amended input, same id, next attempt); a cancel ends any unsettled job.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from tests.unit.actors.roles.swarm_helpers import TableEffectsLog, job

from actors.roles import (
    Acknowledge,
    Acknowledged,
    Acknowledgement,
    JobState,
    JobView,
    Refused,
    Submitted,
    WindowConfig,
    parse_job,
)
from actors.roles._table import JobTable
from actors.roles._window import ConcurrencyWindow

MAX_ATTEMPTS = 3


@dataclass
class Model:
    state: JobState = JobState.QUEUED
    attempt: int = 1
    unread: bool = False
    final: bool = False
    external: bool = False
    """Declares external acceptance: a completion stops at needs_review."""
    amended: int = 0


job_ids = st.sampled_from([f"j{i}" for i in range(8)])


class JobTableMachine(RuleBasedStateMachine):
    @initialize(
        window=st.integers(min_value=1, max_value=4), auto=st.booleans(), extra=st.integers(0, 4)
    )
    def start_table(self, window: int, auto: bool, extra: int) -> None:
        self.effects = TableEffectsLog()
        self.window = ConcurrencyWindow(
            WindowConfig(minimum=1, initial=window, maximum=window + extra, sample=4)
        )
        self.table = JobTable(
            self.effects, self.window, max_attempts=MAX_ATTEMPTS, auto_acknowledge=auto
        )
        self.effects.table = self.table
        self.auto = auto
        self.model: dict[str, Model] = {}
        self.now = 0.0

    def _tick(self) -> float:
        self.now += 1.0
        return self.now

    def _settle(self, m: Model) -> None:
        m.unread = not (self.auto and m.state is not JobState.NEEDS_REVIEW)

    # -- rules -----------------------------------------------------------------------------

    @rule(job_id=job_ids, external=st.booleans())
    def submit(self, job_id: str, external: bool) -> None:
        metadata = {"acceptance": "external"} if external else {}
        spec = parse_job(job(job_id, metadata=metadata))
        reply = self.table.accept(spec, self._tick())
        if job_id in self.model:
            assert not isinstance(reply, Submitted)
            assert reply.field == "job_id"
            return
        assert reply == Submitted(job_id=job_id)
        self.model[job_id] = Model(external=external)

    @rule(data=st.data())
    def start(self, data: st.DataObject) -> None:
        startable = [
            job_id
            for job_id in self.table.ready
            if self.table.jobs[job_id].state is JobState.QUEUED
        ]
        if not startable or not self.table.has_room():
            return
        job_id = data.draw(st.sampled_from(startable))
        self.table.ready.remove(job_id)
        self.table.start(self.table.jobs[job_id], self._tick())
        assert len(self.table.running) + self.table.unread_held <= self.window.size
        self.model[job_id].state = JobState.RUNNING

    def _running(self) -> list[str]:
        return sorted(self.table.running)

    @precondition(lambda self: self.table.running)
    @rule(data=st.data(), value=st.integers())
    def complete(self, data: st.DataObject, value: int) -> None:
        job_id = data.draw(st.sampled_from(self._running()))
        record = self.table.jobs[job_id]
        record.results[0] = value
        self.table.complete(record, self._tick())
        m = self.model[job_id]
        if m.external:
            m.state = JobState.NEEDS_REVIEW
        else:
            m.state, m.final = JobState.COMPLETED, True
        self._settle(m)
        assert record.result == value

    @precondition(lambda self: self.table.running)
    @rule(data=st.data())
    def fail(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(self._running()))
        retry = self.table.fail(self.table.jobs[job_id], "boom", self._tick())
        m = self.model[job_id]
        m.state = JobState.FAILED
        assert retry == (m.attempt < MAX_ATTEMPTS)
        if not retry:
            m.final = True
            self._settle(m)

    @rule(job_id=job_ids)
    def retry_due(self, job_id: str) -> None:
        m = self.model.get(job_id)
        attempt = 0 if m is None else m.attempt
        self.table.retry_due(job_id, attempt)
        if m is not None and m.state is JobState.FAILED and not m.final:
            m.state, m.attempt = JobState.QUEUED, m.attempt + 1

    @rule(job_id=job_ids)
    def cancel(self, job_id: str) -> None:
        reply = self.table.cancel(job_id)
        m = self.model.get(job_id)
        if m is None:
            assert isinstance(reply, Refused)
            assert reply.unknown
            return
        if m.final or m.state is JobState.NEEDS_REVIEW:
            assert isinstance(reply, Refused)
            return
        assert isinstance(reply, JobView)
        m.state, m.final = JobState.FAILED, True
        self._settle(m)
        assert self.table.jobs[job_id].cancel_requested

    @rule(
        job_id=job_ids,
        action=st.sampled_from([Acknowledgement.ACCEPT, Acknowledgement.RETRY]),
        amend=st.booleans(),
    )
    def acknowledge(self, job_id: str, action: Acknowledgement, amend: bool) -> None:
        request = Acknowledge(
            job_id=job_id, action=action, amend={"note": "focus"} if amend else None
        )
        reply = self.table.acknowledge(request, self._tick())
        m = self.model.get(job_id)
        settled = m is not None and (m.final or m.state is JobState.NEEDS_REVIEW)
        if m is None or not (settled and m.unread):
            assert isinstance(reply, Refused)
            assert reply.unknown == (m is None)
            return
        assert isinstance(reply, Acknowledged)
        m.unread = False
        if action is Acknowledgement.RETRY:
            m.state, m.attempt, m.final = JobState.QUEUED, m.attempt + 1, False
            m.amended += amend
        elif m.state is JobState.NEEDS_REVIEW:
            m.state, m.final = JobState.COMPLETED, True

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def agrees_with_the_model(self) -> None:
        if not hasattr(self, "table"):
            return
        assert set(self.table.jobs) == set(self.model)
        for job_id, m in self.model.items():
            record = self.table.jobs[job_id]
            assert record.spec.job_id == job_id  # retries keep the job's identity
            assert (record.state, record.attempt, record.unread, record.final) == (
                m.state,
                m.attempt,
                m.unread,
                m.final,
            ), job_id
            assert record.spec.metadata.get("note") == ("focus" if m.amended else None)
            view = self.table.view(record)
            assert (view.state, view.attempt, view.unread) == (m.state, m.attempt, m.unread)

    @invariant()
    def window_accounting(self) -> None:
        if not hasattr(self, "table"):
            return
        table = self.table
        unread = sum(m.unread for m in self.model.values())
        running = sum(m.state is JobState.RUNNING for m in self.model.values())
        assert table.unread_held == unread >= 0
        assert len(table.running) == running
        # Only a start takes a free slot (checked in ``start``); a job cancelled
        # before it ran still holds one while unread, so only running is capped.
        assert 0 <= running <= self.window.config.maximum
        assert table.has_room() == (running + unread < self.window.size)

    @invariant()
    def every_transition_is_told(self) -> None:
        if not hasattr(self, "table"):
            return
        last = {job_id: state for job_id, _, state, _ in self.effects.changes}
        assert last == {job_id: m.state.value for job_id, m in self.model.items()}


JobTableMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
test_job_table_follows_the_lifecycle_model = JobTableMachine.TestCase
