"""Quorum across three `python -m actors.node` processes, one voter node SIGKILLed mid-vote.

Each node runs two voters (``--app``); n1 also runs two quorum actors on its
ledger and one lease store: ``quorum`` (a majority of the six voters) and
``strict`` (all six). n3's voters answer late, so the SIGKILL lands while
ballots to them are out. Proposals come from a client node in this process.
Afterwards: every proposal has exactly one ``quorum.decided`` record on n1,
equal to the decision its proposer got; the records keep one holder per
territory and consecutive tokens; the strict quorum's failures raised alerts;
every node's ledger verifies (n3's too, killed mid-write).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from actors import Actor, ActorSystem
from actors.cluster import MemberUp
from actors.ledger import LedgerReader
from actors.node import LEDGER_FILE
from actors.remote import RemoteNode
from actors.roles.quorum import (
    QUORUM_ALERT,
    QUORUM_DECIDED,
    Decision,
    Propose,
    Quorum,
    QuorumConfig,
    Registered,
    RegisterVoter,
    Voter,
)
from actors.roles.territories import MemoryLeaseStore
from tests.helpers import SECRET
from tests.integration.test_node_cluster import BOOT, NodeProcess, event, free_port
from tests.quorum_ledger import check_records

if TYPE_CHECKING:
    from actors.node import NodeContext

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.integration.test_quorum_nodes:app"
VOTERS = 2
LATE = 0.5  # n3's voters answer this late: a kill lands mid-vote
DEADLINE = 2.0


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, bool]]:
    return ("asyncio", {"use_uvloop": False})


async def app(ctx: NodeContext) -> None:
    """Two voters on every node; on n1, the two quorums and who registers the voters."""
    import structlog

    log = structlog.get_logger("quorum_app")
    me = ctx.config.name

    async def policy(ballot: Any) -> Any:
        log.info("ballot_received", proposal=ballot.proposal, voter=ballot.voter)
        if me == "n3":
            await anyio.sleep(LATE)
        if me == "n2" and ballot.territory.startswith("no/"):
            return False, "n2 objects"
        return True

    for i in range(VOTERS):
        await ctx.system.spawn(Voter, policy, name=f"voter{i}")
    if me != "n1":
        return
    shared = {"store": MemoryLeaseStore(), "ledger": ctx.ledger}
    quorums = {
        "quorum": await ctx.system.spawn(
            Quorum, QuorumConfig(timeout=DEADLINE), kwargs=shared, name="quorum"
        ),
        "strict": await ctx.system.spawn(
            Quorum, QuorumConfig(threshold=1.0, timeout=DEADLINE), kwargs=shared, name="strict"
        ),
    }

    class Registrar(Actor[Any]):
        async def receive(self, message: Any) -> Any:
            if not isinstance(message, MemberUp):
                return None
            for i in range(VOTERS):
                local = message.node == me
                address = f"/user/voter{i}" if local else f"{message.address}/user/voter{i}"
                for key, quorum in quorums.items():
                    done = await quorum.ask(RegisterVoter(f"{message.node}.voter{i}", address))
                    assert isinstance(done, Registered), done
                    log.info("voters_registered", quorum=key, count=len(done.voters))
            return None

    ctx.cluster.subscribe(await ctx.system.spawn(Registrar, name="registrar"))


def decided_records(path: Path) -> tuple[bool, list[tuple[str, dict[str, Any]]]]:
    with LedgerReader(path) as reader:
        report = reader.verify()
        assert report.fault is None, report.fault
        return reader.state().clean, [(r.kind, r.value()) for r in reader.records()]


async def test_decisions_across_nodes_survive_a_voter_node_killed_mid_vote(
    tmp_path: Path,
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    secret_file.chmod(0o600)
    ports = [free_port() for _ in range(3)]
    seeds = f"127.0.0.1:{ports[0]}"
    names = ["n1", "n2", "n3"]
    nodes = [
        NodeProcess(name, port, seeds, secret_file, tmp_path / name, app=APP)
        for name, port in zip(names, ports, strict=True)
    ]
    n1, _, n3 = nodes
    answered: dict[str, Decision] = {}
    try:
        for key in ("quorum", "strict"):
            await n1.wait_for(
                event("voters_registered", quorum=key, count=3 * VOTERS), BOOT, "six voters"
            )
        async with (
            ActorSystem("client") as system,
            RemoteNode(system, name="client", cluster="mp-test", secret=SECRET) as cn,
        ):
            base = f"tadpole://n1@127.0.0.1:{ports[0]}/user/"
            refs = {key: cn.ref(base + key) for key in ("quorum", "strict")}

            async def ask(key: str, pid: str, territory: str) -> Decision:
                reply = await refs[key].ask(
                    Propose(territory, f"agent-{pid}", 30.0, proposal=pid), timeout=20.0
                )
                assert isinstance(reply, Decision), reply
                answered[pid] = reply
                return reply

            assert (await ask("quorum", "p1", "t1")).outcome == "granted"
            assert (await ask("strict", "p2", "no/t2")).outcome == "rejected"
            held = await ask("quorum", "p3", "t1")
            assert (held.outcome, held.reason) == ("rejected", "held")

            async with anyio.create_task_group() as tasks:
                # The strict quorum needs n3's answers: kill n3 while they are out.
                tasks.start_soon(ask, "strict", "p4", "t4")
                await n3.wait_for(
                    event("ballot_received", proposal="p4"), 10.0, "p4's ballot at n3"
                )
                n3.proc.send_signal(signal.SIGKILL)
                tasks.start_soon(ask, "quorum", "p5", "t5")  # while n1 learns n3 is gone
                n3.proc.wait(10)
            assert answered["p4"].outcome == "failed"  # all six needed
            assert answered["p5"].outcome == "granted"  # four of six still say yes
            assert (await ask("quorum", "p6", "t6")).outcome == "granted"
            p7 = await ask("strict", "p7", "t7")
            assert p7.outcome == "failed"
            assert p7.reason in ("unreachable", "timeout")
        for node in nodes[:2]:
            node.proc.send_signal(signal.SIGTERM)
            await node.wait_for(event("node_exited"), 15.0, "node_exited")
            assert node.proc.wait(10) == 0, node.stderr_tail()
    finally:
        for node in nodes:
            node.kill()

    ledgers = {node.name: decided_records(node.data / LEDGER_FILE) for node in nodes}
    clean, entries = ledgers["n1"]
    assert clean
    decided = [value for kind, value in entries if kind == QUORUM_DECIDED]
    assert sorted(value["proposal"] for value in decided) == sorted(answered)
    for value in decided:
        decision = answered[value["proposal"]]
        assert (value["outcome"], value["reason"]) == (decision.outcome, decision.reason)
        token = None if decision.lease is None else decision.lease.token
        assert (value["lease"] or {}).get("token") == token
    assert check_records(entries) == []
    alerts = [value for kind, value in entries if kind == QUORUM_ALERT]
    assert {value["proposal"] for value in alerts} == {"p4", "p7"}
    assert not ledgers["n3"][0]  # killed: not closed cleanly, and still verifies
