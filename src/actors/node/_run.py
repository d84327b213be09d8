"""Run one node: system, transport, cluster, the user's app, graceful shutdown.

With a data directory the node keeps its ledger there (``ledger.db``): the
system's ledger, which the app's actors may record into, and where the node
records its own life (``node.started``, ``node.stopping``, ``node.stopped``)
and every membership event it sees (``cluster.member_up``, ...). Leaving the
node closes the ledger last, after the system stopped: everything appended is
committed and the file is marked as closed cleanly.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import logging
import signal
import ssl
import stat
import sys
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Final

import anyio
import structlog

from .. import Actor, ActorSystem
from ..cluster import (
    Cluster,
    ClusterConfig,
    MemberDown,
    MemberEvent,
    MemberLeft,
    MemberReachable,
    MemberUnreachable,
    MemberUp,
)
from ..ctl import AdminSources, spawn_admin
from ..ledger import Ledger
from ..ops import Operations, start_operations
from ..remote import RemoteConfig, RemoteNode, TcpTransport
from ..roles.tickets import SQLiteTicketStore, Tickets
from ._config import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from .. import ActorRef
    from ..roles.tickets import TicketStore
    from ._config import NodeConfig

__all__ = [
    "LEDGER_FILE",
    "NodeContext",
    "configure_logging",
    "run_node",
    "warn_if_secret_readable",
]

logger = structlog.get_logger(__name__)

LEDGER_FILE: Final = "ledger.db"
"""The node's ledger, in its data directory."""
TICKETS_FILE: Final = "tickets.db"
"""The node's ticket table (a checkpoint of the ledger's tickets), in its data directory."""


def _http_modules() -> tuple[Any, Any]:  # Any: modules imported only when HTTP is on
    try:
        from .. import web
        from ..roles.tickets import http as _http
    except ImportError as exc:
        raise ConfigError(
            f"--http-listen needs the http extra (pip install 'tadpole-actors[http]'): {exc}"
        ) from None
    return web, _http


async def _start_tickets_http(
    config: NodeConfig,
    system: ActorSystem,
    ledger: Ledger | None,
    tg: Any,
    cluster: Cluster,
    *,
    registry: Any = None,  # Any: a prometheus CollectorRegistry (the ops metrics' registry)
    monitor: Any = None,  # Any: an actors.web.MonitorLike (the ops stability monitor)
) -> tuple[ActorRef[Any], Any]:  # Any: the task group and the HttpServer (optional extra)
    """Spawn the Tickets actor and serve the node's HTTP listener as a task of ``tg``:
    the tickets API under /api, ``registry`` at /metrics, the dashboard at /."""
    assert config.http_listen is not None
    web, http = _http_modules()
    store: TicketStore | None = None
    if config.data_dir is not None:
        store = SQLiteTicketStore(config.data_dir / TICKETS_FILE)
    tickets = await system.spawn(Tickets, ledger, store, name="tickets")
    token = config.http_token if config.http_token is not None else config.secret.hex()
    api = http.build_app(tickets, token, max_body=config.http_max_body)
    source = web.NodeSource(members=lambda: cluster.members, monitor=monitor)
    app = web.build_app(api=api, registry=registry, source=source, token=token, title=config.name)
    host, port = config.http_listen
    try:
        server = web.HttpServer(
            app,
            host,
            port,
            certfile=None if config.tls_cert is None else str(config.tls_cert),
            keyfile=None if config.tls_key is None else str(config.tls_key),
        )
    except OSError as exc:
        raise ConfigError(f"cannot listen for HTTP on {host}:{port}: {exc}") from None
    tg.start_soon(server.run_until_stopped)
    await server.wait_started()
    logger.info("http_listening", node=config.name, url=server.url)
    return tickets, server


_MEMBER_KINDS: Final[dict[type[MemberEvent], str]] = {
    MemberUp: "cluster.member_up",
    MemberUnreachable: "cluster.member_unreachable",
    MemberReachable: "cluster.member_reachable",
    MemberDown: "cluster.member_down",
    MemberLeft: "cluster.member_left",
}


@dataclasses.dataclass(frozen=True)
class NodeContext:
    """What ``--app module:callable`` receives: the running node's parts."""

    system: ActorSystem
    remote: RemoteNode
    cluster: Cluster
    config: NodeConfig
    data_dir: Path | None
    ledger: Ledger | None = None
    """The node's ledger (``data_dir / LEDGER_FILE``), also ``system.ledger``; ``None``
    without a data directory."""
    tickets: ActorRef[Any] | None = None
    """The node's :class:`~actors.roles.tickets.Tickets` actor, when ``http_listen`` is set."""
    operations: Operations | None = None
    """The node's stability monitor and (with the ``metrics`` extra) its Prometheus
    registry, served at ``/metrics`` when ``http_listen`` is set."""
    http_url: str | None = None
    """The node's HTTP listener's base URL (tickets API under /api, dashboard at /),
    when ``http_listen`` is set."""
    admin: AdminSources | None = None
    """What the node's admin actor (``tadpole-ctl``) reports on: set ``jobs``,
    ``territories`` or ``stability`` here to name them (a job supervisor or
    territory manager left unset is found among the live actors)."""


class _MembershipRecorder(Actor[MemberEvent]):
    """Records each membership event the node sees in its ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def receive(self, message: MemberEvent) -> None:
        kind = _MEMBER_KINDS.get(type(message))
        if kind is not None:
            self.ledger.append_nowait(kind, {"node": message.node, "address": message.address})


def configure_logging(log_format: str, level: str = "info") -> None:
    """The node's logging: JSON (one object per line, with ``event``) or console."""
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if log_format == "json":
        processors += [
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(),
        ]
    else:
        processors.append(structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )


def load_app(spec: str) -> Any:
    """Import ``module:callable``; raises :class:`ConfigError`."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"--app expects MODULE:CALLABLE, got {spec!r}")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"--app: cannot import {module_name!r}: {exc}") from None
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(f"--app: {module_name!r} has no attribute {attr!r}") from None
    if not callable(target):
        raise ConfigError(f"--app: {spec!r} is not callable")
    return target


def _tls(config: NodeConfig) -> TcpTransport:
    if config.tls_cert is None or config.tls_key is None:
        return TcpTransport()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=config.tls_ca)
    server.load_cert_chain(config.tls_cert, config.tls_key)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=config.tls_ca)
    client.load_cert_chain(config.tls_cert, config.tls_key)
    client.check_hostname = False  # peers are authenticated by the CA and the cluster secret
    if config.tls_ca is not None:
        server.verify_mode = ssl.CERT_REQUIRED
    return TcpTransport(server_ssl=server, client_ssl=client)


def warn_if_secret_readable(path: Path | None) -> bool:
    """Log ``secret_file_readable_by_others`` if the secret file's group or others may read it."""
    if path is None:
        return False
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return False
    logger.warning(
        "secret_file_readable_by_others",
        path=str(path),
        mode=f"{stat.S_IMODE(mode):04o}",
        fix=f"chmod 600 {path}",
    )
    return True


async def run_node(config: NodeConfig, *, started: anyio.Event | None = None) -> None:
    """Run the node until SIGTERM/SIGINT, then shut down gracefully.

    Raises :class:`ConfigError` before anything starts when a setting cannot
    be used (an app that does not import, TLS files that do not load, a
    value the runtime's own config structs refuse).
    """
    warn_if_secret_readable(config.secret_file)
    app = load_app(config.app) if config.app else None
    try:
        cluster_config = ClusterConfig(
            heartbeat_interval=config.heartbeat_interval,
            phi_threshold=config.phi_threshold,
            down_after=config.down_after,
        )
        remote_config = RemoteConfig(handshake_timeout=config.handshake_timeout)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        transport = _tls(config)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS files: {exc}") from None
    stop = anyio.Event()
    received: list[str] = []

    async def watch_signals() -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                received.append(signal.Signals(signum).name)
                stop.set()
                return

    # The ledger's stack is outside the task group: it closes after the signal
    # watcher is cancelled, never inside a cancelled scope.
    async with AsyncExitStack() as outer, anyio.create_task_group() as tg:
        tg.start_soon(watch_signals)
        ledger = None
        if config.data_dir is not None:
            config.data_dir.mkdir(parents=True, exist_ok=True)
            # Outside the system: closed last, after every actor that records into it.
            ledger = await outer.enter_async_context(Ledger(config.data_dir / LEDGER_FILE))
        async with AsyncExitStack() as stack:
            system = await stack.enter_async_context(
                ActorSystem(config.name, seed=config.seed, ledger=ledger)
            )
            remote = await stack.enter_async_context(
                RemoteNode(
                    system,
                    name=config.name,
                    cluster=config.cluster,
                    secret=config.secret,
                    host=config.listen[0],
                    port=config.listen[1],
                    advertise_host=config.advertise_host,
                    transport=transport,
                    config=remote_config,
                )
            )
            cluster = await stack.enter_async_context(
                Cluster(remote, seeds=config.seeds, config=cluster_config)
            )
            if ledger is not None:
                ledger.append_nowait(
                    "node.started",
                    {"node": config.name, "address": remote.address, "cluster": config.cluster},
                )
                recorder = await system.spawn(_MembershipRecorder, ledger, name="node-ledger")
                cluster.subscribe(recorder)
            operations = start_operations(
                system, remote=remote, cluster=cluster, ledger=ledger, metrics=None
            )
            admin = AdminSources(
                remote=remote, cluster=cluster, ledger=ledger, stability=operations.monitor
            )
            await spawn_admin(system, admin)
            tickets = server = None
            if config.http_listen is not None:
                tickets, server = await _start_tickets_http(
                    config,
                    system,
                    ledger,
                    tg,
                    cluster,
                    registry=None if operations.metrics is None else operations.metrics.registry,
                    monitor=operations.monitor,
                )
            if app is not None:
                context = NodeContext(
                    system,
                    remote,
                    cluster,
                    config,
                    config.data_dir,
                    ledger,
                    tickets=tickets,
                    operations=operations,
                    http_url=None if server is None else server.url,
                    admin=admin,
                )
                result = app(context)
                if inspect.isawaitable(result):
                    await result
            logger.info(
                "node_started",
                node=config.name,
                address=remote.address,
                cluster=config.cluster,
                seeds=[f"{h}:{p}" for h, p in config.seeds],
                detection_time=round(cluster_config.detection_time(), 3),
            )
            if started is not None:
                started.set()
            await stop.wait()
            logger.info("node_stopping", node=config.name, signal=received[:1])
            if ledger is not None:
                ledger.append_nowait("node.stopping", {"node": config.name, "signal": received[:1]})
            if server is not None:
                await server.shutdown_and_wait()
            finished = await remote.drain(config.drain_timeout)
            logger.info(
                "node_drained",
                node=config.name,
                complete=finished,
                in_flight=remote.statistics().asks_in_flight,
            )
            # Leaving the stack leaves the cluster (announcing it) and stops the system.
        if ledger is not None:
            ledger.append_nowait("node.stopped", {"node": config.name, "drained": finished})
        tg.cancel_scope.cancel()
    logger.info("node_exited", node=config.name)
