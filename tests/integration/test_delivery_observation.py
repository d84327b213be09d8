"""Observing deliveries: the on_deliver hook and recording into a ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from structlog.testing import capture_logs

from actors import Actor, ActorSystem
from protocol import Message
from tests.helpers import WAIT, Echo, Ping, Pong

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.anyio


class ListLedger:
    """Stands in for a ledger: keeps what is appended; can refuse payloads."""

    def __init__(self, refuse_objects: bool = False) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []
        self.refuse_objects = refuse_objects

    def append_nowait(self, kind: str, payload: object) -> object:
        assert isinstance(payload, dict)
        message = payload["message"]
        if self.refuse_objects and message is not None and not isinstance(message, Message):
            raise TypeError("cannot encode")
        self.records.append((kind, dict(payload)))
        return len(self.records)


async def test_on_deliver_sees_every_message_with_its_correlation_id() -> None:
    seen: list[tuple[str, object, int | None]] = []
    async with ActorSystem("t", on_deliver=lambda *d: seen.append(d)) as system:
        ref = await system.spawn(Echo, name="e")
        ref.tell(Ping(1))
        await ref.ask(Pong(), timeout=WAIT)
    assert [(path, msg) for path, msg, _ in seen] == [("/user/e", Ping(1)), ("/user/e", Pong())]
    assert seen[0][2] is None
    assert isinstance(seen[1][2], int)


async def test_recording_deliveries_appends_one_record_per_message() -> None:
    ledger = ListLedger()
    async with ActorSystem("t", ledger=ledger, record_deliveries=True) as system:
        ref = await system.spawn(Echo, name="e")
        ref.tell(Ping(1))
        await ref.ask(Ping(2), timeout=WAIT)
    assert [kind for kind, _ in ledger.records] == ["delivery", "delivery"]
    first, second = (payload for _, payload in ledger.records)
    assert first == {
        "actor": "/user/e",
        "msg_type": "test.ping",
        "correlation_id": None,
        "message": Ping(1),
    }
    assert second["message"] == Ping(2)
    assert isinstance(second["correlation_id"], int)


async def test_an_actor_class_opts_in_or_out_of_recording() -> None:
    class Recorded(Echo):
        record_deliveries: ClassVar[bool | None] = True

    class Private(Echo):
        record_deliveries: ClassVar[bool | None] = False

    ledger = ListLedger()
    async with ActorSystem("t", ledger=ledger) as system:
        for cls, name in ((Recorded, "rec"), (Private, "priv"), (Echo, "plain")):
            await (await system.spawn(cls, name=name)).ask(Ping(), timeout=WAIT)
    assert [payload["actor"] for _, payload in ledger.records] == ["/user/rec"]

    ledger = ListLedger()
    async with ActorSystem("t", ledger=ledger, record_deliveries=True) as system:
        for cls, name in ((Recorded, "rec"), (Private, "priv"), (Echo, "plain")):
            await (await system.spawn(cls, name=name)).ask(Ping(), timeout=WAIT)
    assert [payload["actor"] for _, payload in ledger.records] == ["/user/rec", "/user/plain"]


async def test_an_unencodable_message_is_recorded_by_type_and_still_delivered() -> None:
    class Anything(Actor[Any]):
        async def receive(self, message: Any) -> Any:
            return message

    ledger = ListLedger(refuse_objects=True)
    async with ActorSystem("t", ledger=ledger, record_deliveries=True) as system:
        ref = await system.spawn(Anything, name="a")
        token = object()
        assert await ref.ask(token, timeout=WAIT) is token
    assert ledger.records[0][1]["message"] is None
    assert ledger.records[0][1]["msg_type"] == "object"


def test_recording_without_a_ledger_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a ledger"):
        ActorSystem("t", record_deliveries=True)


async def test_opting_in_without_a_ledger_is_logged_not_fatal() -> None:
    class Recorded(Echo):
        record_deliveries: ClassVar[bool | None] = True

    with capture_logs() as logs:
        async with ActorSystem("t") as system:
            ref = await system.spawn(Recorded, name="r")
            assert await ref.ask(Ping(), timeout=WAIT) == Ping()
    assert any(entry["event"] == "delivery_recording_unavailable" for entry in logs)


async def test_deliveries_recorded_in_a_real_ledger_verify_and_replay_identically(
    tmp_path: Path,
) -> None:
    from actors.ledger import Reducers, open_ledger

    path = tmp_path / "deliveries.db"

    def count(state: dict[str, int], record: Any) -> dict[str, int]:
        actor = record.value()["actor"]
        return {**state, actor: state.get(actor, 0) + 1}

    reducers: Reducers[dict[str, int]] = Reducers("deliveries", initial=dict)
    reducers.on("delivery")(count)
    async with open_ledger(path) as ledger:
        async with ActorSystem("t", ledger=ledger, record_deliveries=True) as system:
            a = await system.spawn(Echo, name="a")
            b = await system.spawn(Echo, name="b")
            for n in range(10):
                a.tell(Ping(n))
            await b.ask(Ping(), timeout=WAIT)
            await a.ask(Pong(), timeout=WAIT)
        await ledger.flush()
        report = await ledger.verify()
        assert report.fault is None
        assert report.records == 12
        first = await ledger.replay(reducers)
        second = await ledger.replay(reducers)
    assert first.state == {"/user/a": 11, "/user/b": 1}
    assert first.digest == second.digest
