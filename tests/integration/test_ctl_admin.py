"""The admin actor over loopback TCP: typed queries only, and it survives bad ones.

A client node with the cluster secret asks it, as ``tadpole-ctl`` does. A
message that is not a query is refused before delivery (the asker gets
``NotAQuery``, a tell from afar goes to dead letters), a query with a value
out of range gets ``BadQuery``, a source that raises gets ``Unavailable``;
through all of it the actor never fails, never restarts, and keeps answering.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors import ActorSystem, RemoteActorError
from actors.ctl import (
    ADMIN_NAME,
    MAX_TAIL,
    Actors,
    AdminClient,
    AdminSources,
    Alerts,
    BadQuery,
    CtlError,
    GetActors,
    GetAlerts,
    GetJobs,
    GetOrderParameters,
    GetStatus,
    LedgerRecords,
    LedgerReplay,
    LedgerTail,
    LedgerVerify,
    NoSuchJob,
    NotAQuery,
    OrderParameters,
    Status,
    TraceJob,
    Unavailable,
    Verified,
    spawn_admin,
)
from actors.ledger import Ledger, MemoryStore
from actors.lowlevel import cell_of, filter_statistics
from actors.remote import RemoteNode
from tests.helpers import SECRET, Echo, Ping, wait_until

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping, Sequence

    from actors import ActorRef

pytestmark = pytest.mark.anyio


@dataclasses.dataclass(frozen=True)
class Alert:
    parameter: str
    level: str
    value: float
    threshold: float
    message: str
    raised_at: float


class Monitor:
    """A stand-in for ``actors.ops.StabilityMonitor`` (the actors.ops.MonitorLike protocol)."""

    def __init__(self) -> None:
        self.broken = False

    def snapshot(self) -> Mapping[str, float]:
        if self.broken:
            raise RuntimeError("window not filled")
        return {"message_rate_variance": 2.0, "lease_churn": 0.25}

    def history(self, name: str) -> Sequence[float]:
        return [float(i) for i in range(100)] if name == "message_rate_variance" else [0.25]

    def active_alerts(self) -> Sequence[Alert]:
        return [Alert("message_rate_variance", "warning", 2.0, 1.5, "rate swings", 10.0)]


@dataclasses.dataclass
class Rig:
    system: ActorSystem
    admin: ActorRef[Any]
    sources: AdminSources
    remote_admin: ActorRef[Any]
    port: int


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with (
        Ledger(MemoryStore()) as ledger,
        ActorSystem("n1", ledger=ledger) as system,
        RemoteNode(system, name="n1", secret=SECRET) as remote,
        ActorSystem("client") as client_system,
        RemoteNode(client_system, name="client", secret=SECRET) as client,
    ):
        ledger.append_nowait("roles.job", {"job_id": "j-1", "from": None, "to": "queued"})
        ledger.append_nowait("other.thing", {"job_id": "j-1"})
        sources = AdminSources(remote=remote, ledger=ledger, stability=Monitor())
        admin = await spawn_admin(system, sources)
        host, port = remote.listen_address
        remote_admin = client.ref(f"tadpole://n1@{host}:{port}/user/{ADMIN_NAME}")
        yield Rig(system, admin, sources, remote_admin, port)


async def test_a_message_that_is_not_a_query_is_refused_before_delivery(rig: Rig) -> None:
    with pytest.raises(RemoteActorError) as refused:
        await rig.remote_admin.ask(Ping(1), timeout=5.0)
    assert refused.value.type_name == "actors.ctl.NotAQuery"
    assert "typed queries only, not Ping" in refused.value.remote_message
    with pytest.raises(NotAQuery, match="not Ping"):
        rig.admin.tell(Ping(2))
    before = rig.system.statistics().dead_letters
    rig.remote_admin.tell(Ping(3))  # from afar, nobody to tell: dead letters
    await wait_until(lambda: rig.system.statistics().dead_letters > before)
    assert filter_statistics(rig.admin).refused == 3
    status = await rig.remote_admin.ask(GetStatus(), timeout=5.0)
    assert isinstance(status, Status)
    assert cell_of(rig.admin).restart_count == 0


async def test_out_of_range_values_get_bad_query_and_the_actor_keeps_answering(rig: Rig) -> None:
    for query in [
        LedgerTail(count=-1),
        LedgerTail(count=MAX_TAIL + 1),
        GetOrderParameters(points=0),
        GetOrderParameters(points=MAX_TAIL + 1),
        TraceJob(job_id=""),
        LedgerReplay(epoch=-1),
    ]:
        reply = await rig.remote_admin.ask(query, timeout=5.0)
        assert isinstance(reply, BadQuery), (query, reply)
        assert reply.query == type(query).__name__
    assert isinstance(await rig.remote_admin.ask(GetActors(), timeout=5.0), Actors)
    assert cell_of(rig.admin).restart_count == 0


async def test_a_failing_source_gets_unavailable_not_a_dead_admin(rig: Rig) -> None:
    monitor = rig.sources.stability
    assert isinstance(monitor, Monitor)
    monitor.broken = True
    reply = await rig.remote_admin.ask(GetOrderParameters(), timeout=5.0)
    assert isinstance(reply, Unavailable)
    assert "window not filled" in reply.reason
    monitor.broken = False
    params = await rig.remote_admin.ask(GetOrderParameters(points=5), timeout=5.0)
    assert isinstance(params, OrderParameters)
    assert [p.name for p in params.parameters] == ["lease_churn", "message_rate_variance"]
    assert params.parameters[1].history == (95.0, 96.0, 97.0, 98.0, 99.0)
    assert cell_of(rig.admin).restart_count == 0


async def test_typed_answers_from_the_sources_it_has(rig: Rig) -> None:
    alerts = await rig.remote_admin.ask(GetAlerts(), timeout=5.0)
    assert isinstance(alerts, Alerts)
    assert [(a.parameter, a.level) for a in alerts.alerts] == [("message_rate_variance", "warning")]
    trace = await rig.remote_admin.ask(TraceJob("j-1"), timeout=5.0)
    assert [e.kind for e in trace.events] == ["roles.job"]  # only the roles' records
    assert trace.job is None
    assert await rig.remote_admin.ask(TraceJob("j-2"), timeout=5.0) == NoSuchJob("j-2")
    tail = await rig.remote_admin.ask(LedgerTail(count=1), timeout=5.0)
    assert isinstance(tail, LedgerRecords)
    assert [r.kind for r in tail.records] == ["other.thing"]
    verified = await rig.remote_admin.ask(LedgerVerify(), timeout=5.0)
    assert isinstance(verified, Verified)
    assert verified.ok
    jobs = await rig.remote_admin.ask(GetJobs(), timeout=5.0)
    assert jobs == Unavailable("jobs", "this node runs no job supervisor")


async def test_a_job_supervisor_named_in_the_sources_is_the_one_asked(rig: Rig) -> None:
    # An Echo answers ListJobs with the query itself: the admin must report its failure
    # to turn that into rows as Unavailable, and still answer afterwards.
    echo = await rig.system.spawn(Echo, name="not-a-supervisor")
    rig.sources.jobs = echo
    reply = await rig.admin.ask(GetJobs(), timeout=5.0)
    assert isinstance(reply, Unavailable)
    assert isinstance(await rig.admin.ask(GetStatus(), timeout=5.0), Status)


async def test_the_client_reaches_the_admin_with_the_secret(rig: Rig) -> None:
    async with AdminClient("127.0.0.1", rig.port, secret=SECRET) as client:
        assert client.node == "n1"
        status = await client.ask(GetStatus())
        assert isinstance(status, Status)
        assert status.node == "n1"
        assert status.ledger_head == 2


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(count=st.integers(-(2**40), 2**40), points=st.integers(-(2**40), 2**40))
async def test_any_count_or_points_is_answered_and_never_kills_the_admin(
    rig: Rig, count: int, points: int
) -> None:
    tail = await rig.admin.ask(LedgerTail(count=count), timeout=5.0)
    assert isinstance(tail, LedgerRecords) == (0 <= count <= MAX_TAIL)
    params = await rig.admin.ask(GetOrderParameters(points=points), timeout=5.0)
    assert isinstance(params, OrderParameters) == (1 <= points <= MAX_TAIL)
    assert cell_of(rig.admin).restart_count == 0


async def test_a_node_without_the_admin_actor_is_named_as_such() -> None:
    async with (
        ActorSystem("plain") as system,
        RemoteNode(system, name="plain", secret=SECRET) as remote,
    ):
        _, port = remote.listen_address
        async with AdminClient("127.0.0.1", port, secret=SECRET) as client:
            with pytest.raises(
                CtlError, match=r"node plain at 127\.0\.0\.1:\d+ runs no admin actor"
            ):
                await client.ask(GetStatus())
