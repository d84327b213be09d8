"""Run one node: system, transport, cluster, the user's app, graceful shutdown.

With a data directory the node keeps its ledger there (``ledger.db``): the
system's ledger, which the app's actors may record into, and where the node
records its own life (``node.started``, ``node.stopping``, ``node.stopped``)
and every membership event it sees (``cluster.member_up``, ...). Leaving the
node closes the ledger last, after the system stopped: everything appended is
committed and the file is marked as closed cleanly. The data directory is
locked (``fcntl.flock`` on ``node.lock``) for the node's life: one node per
directory.

Anything that keeps the node from starting (an address in use, a data
directory it cannot use, a corrupt ledger, seeds that refuse it) is a
:class:`ConfigError`, which ``python -m actors.node`` prints as one line and
exit status 2.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import importlib
import inspect
import logging
import os
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
    JoinRefused,
    MemberDown,
    MemberEvent,
    MemberLeft,
    MemberReachable,
    MemberUnreachable,
    MemberUp,
)
from ..ctl import AdminSources, spawn_admin
from ..ledger import Ledger, LedgerError
from ..ops import Operations, start_operations
from ..remote import RemoteConfig, RemoteNode, TcpTransport
from ..roles.tickets import SQLiteTicketStore, Tickets
from ._config import ConfigError
from ._dashboard import job_listing

if TYPE_CHECKING:
    from pathlib import Path

    from .. import ActorRef
    from ..roles.tickets import TicketStore
    from ._config import NodeConfig

__all__ = [
    "LEDGER_FILE",
    "LOCK_FILE",
    "NodeContext",
    "configure_logging",
    "lock_data_dir",
    "run_node",
    "warn_if_secret_readable",
]

logger = structlog.get_logger(__name__)

LEDGER_FILE: Final = "ledger.db"
"""The node's ledger, in its data directory."""
LOCK_FILE: Final = "node.lock"
"""Locked by the node that uses the data directory (it holds that node's pid)."""
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
"""Signals that stop the node gracefully (SIGHUP: its terminal or session ended)."""
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
    monitor: Any = None,  # Any: an actors.ops.MonitorLike (the stability monitor)
    jobs: Any = None,  # Any: a callable of the admin's and monitor's supervisor, given web.JobRow
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
    source = web.NodeSource(
        members=lambda: cluster.members,
        monitor=monitor,
        jobs=None if jobs is None else jobs(web.JobRow),
    )
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


LIFECYCLE_EVENTS: Final = frozenset({"actor_started", "actor_stopped"})
"""Per-actor lifecycle events, logged only with ``lifecycle_log`` (or at warning and above)."""


def _drop_lifecycle(_logger: Any, method: str, event_dict: Any) -> Any:  # structlog's processor
    if method in ("debug", "info") and event_dict.get("event") in LIFECYCLE_EVENTS:
        raise structlog.DropEvent
    return event_dict


def configure_logging(log_format: str, level: str = "info", *, lifecycle: bool = False) -> None:
    """The node's logging: JSON (one object per line, with ``event``) or console.

    Per-actor lifecycle events (``actor_started``, ``actor_stopped``: two lines
    per actor) are dropped unless ``lifecycle`` is true.
    """
    processors: list[Any] = [] if lifecycle else [_drop_lifecycle]
    processors += [
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


def lock_data_dir(path: Path) -> int:
    """Create ``path`` if needed and lock it for this process; returns the lock's descriptor.

    The lock is ``fcntl.flock`` on ``path / LOCK_FILE`` (which holds the
    owner's pid), held until the descriptor is closed or the process ends, so
    a second node on the same directory refuses to start instead of writing
    the same ledger. Raises :class:`ConfigError` when the directory cannot be
    made or written, or another process holds the lock.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise ConfigError(f"cannot use data_dir {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        if isinstance(exc, BlockingIOError):
            raise ConfigError(
                f"data_dir {path} is in use by another process (pid {holder}); "
                "each node needs its own --data-dir"
            ) from None
        raise ConfigError(f"cannot lock data_dir {path}: {exc.strerror or exc}") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError as exc:
        os.close(fd)
        raise ConfigError(f"cannot write in data_dir {path}: {exc.strerror or exc}") from None
    return fd


async def _open_ledger(stack: AsyncExitStack, path: Path) -> Ledger:
    try:
        return await stack.enter_async_context(Ledger(path))
    except (LedgerError, OSError) as exc:
        raise ConfigError(f"cannot open the ledger {path}: {exc}") from None


def _config_error(group: BaseExceptionGroup[BaseException]) -> ConfigError | None:
    """The first :class:`ConfigError` of ``group`` if it holds nothing else."""
    match, rest = group.split(ConfigError)
    if match is None or rest is not None:
        return None
    leaf: BaseException = match
    while isinstance(leaf, BaseExceptionGroup):
        leaf = leaf.exceptions[0]
    return leaf if isinstance(leaf, ConfigError) else None


async def _join_or_stop(cluster: Cluster, stop: anyio.Event) -> bool:
    """Wait until the node joined (or formed) the cluster, or a stop signal came first.

    Returns whether it joined; raises :class:`ConfigError` when the seeds
    refused it for good (:class:`~actors.cluster.JoinRefused`).
    """
    refused: list[JoinRefused] = []
    done = anyio.Event()

    async def join() -> None:
        try:
            await cluster.wait_joined()
        except JoinRefused as exc:
            refused.append(exc)
        done.set()

    async def stopped() -> None:
        await stop.wait()
        done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(join)
        tg.start_soon(stopped)
        await done.wait()
        tg.cancel_scope.cancel()
    if refused:
        raise ConfigError(str(refused[0]))
    return cluster.joined.is_set()


async def run_node(config: NodeConfig, *, started: anyio.Event | None = None) -> None:
    """Run the node until SIGTERM, SIGINT or SIGHUP, then shut down gracefully.

    The node has *started* (``node_started`` is logged, the ``node.started``
    record appended, the app run, ``started`` set) once it is a member: it
    joined through a seed, or it formed the cluster (no seeds, or it is the
    first seed and no other seed answers). Until then it retries unreachable
    seeds with backoff, logging ``join_retrying`` at warning.

    Raises :class:`ConfigError` when the node cannot start: a setting that
    cannot be used (an app that does not import, TLS files that do not load,
    a value the runtime's own config structs refuse), a data directory that
    cannot be made or is locked by another process, a ledger that does not
    open, an address it cannot listen on, or seeds that refuse it for good.
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
    # The lock and the ledger are outside the task group: the ledger closes
    # after the signal watcher is cancelled, never inside a cancelled scope,
    # and the lock is released last.
    async with AsyncExitStack() as outer:
        ledger = None
        if config.data_dir is not None:
            outer.callback(os.close, lock_data_dir(config.data_dir))
            # Outside the system: closed last, after every actor that records into it.
            ledger = await _open_ledger(outer, config.data_dir / LEDGER_FILE)
        try:
            await _serve(config, app, ledger, transport, cluster_config, remote_config, started)
        except BaseExceptionGroup as group:
            error = _config_error(group)
            if error is None:
                raise
            raise error from None
    logger.info("node_exited", node=config.name)


async def _serve(
    config: NodeConfig,
    app: Any,
    ledger: Ledger | None,
    transport: TcpTransport,
    cluster_config: ClusterConfig,
    remote_config: RemoteConfig,
    started: anyio.Event | None,
) -> None:
    stop = anyio.Event()
    received: list[str] = []

    async def watch_signals() -> None:
        with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
            async for signum in signals:
                received.append(signal.Signals(signum).name)
                stop.set()
                return

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch_signals)
        async with AsyncExitStack() as stack:
            system = await stack.enter_async_context(
                ActorSystem(config.name, seed=config.seed, ledger=ledger)
            )
            host, port = config.listen
            try:
                remote = await stack.enter_async_context(
                    RemoteNode(
                        system,
                        name=config.name,
                        cluster=config.cluster,
                        secret=config.secret,
                        host=host,
                        port=port,
                        advertise_host=config.advertise_host,
                        transport=transport,
                        config=remote_config,
                    )
                )
            except OSError as exc:
                raise ConfigError(
                    f"cannot listen on {host}:{port}: {exc.strerror or exc}"
                ) from None
            cluster = await stack.enter_async_context(
                Cluster(remote, seeds=config.seeds, config=cluster_config)
            )
            operations = start_operations(
                system, remote=remote, cluster=cluster, ledger=ledger, metrics=None
            )
            admin = AdminSources(
                remote=remote, cluster=cluster, ledger=ledger, stability=operations.monitor
            )
            await spawn_admin(system, admin)
            # The app runs while the node joins, so its actors are there when
            # the other members first see it.
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
                    jobs=functools.partial(job_listing, admin, operations.monitor),
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
            if config.seeds and not cluster.joined.is_set():
                logger.info(
                    "node_joining", node=config.name, seeds=[f"{h}:{p}" for h, p in config.seeds]
                )
            if await _join_or_stop(cluster, stop):
                await _started(config, ledger, system, remote, cluster, cluster_config)
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


async def _started(
    config: NodeConfig,
    ledger: Ledger | None,
    system: ActorSystem,
    remote: RemoteNode,
    cluster: Cluster,
    cluster_config: ClusterConfig,
) -> None:
    """The node is a member: record and log that it started."""
    if ledger is not None:
        ledger.append_nowait(
            "node.started",
            {"node": config.name, "address": remote.address, "cluster": config.cluster},
        )
        recorder = await system.spawn(_MembershipRecorder, ledger, name="node-ledger")
        cluster.subscribe(recorder)  # a MemberUp per current member first: none is missed
    logger.info(
        "node_started",
        node=config.name,
        address=remote.address,
        cluster=config.cluster,
        seeds=[f"{h}:{p}" for h, p in config.seeds],
        members=len(cluster.members),
        detection_time=round(cluster_config.detection_time(), 3),
    )
