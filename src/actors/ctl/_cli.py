"""``tadpole-ctl`` (``python -m actors.ctl``): the operator's view of a running node.

Every command dials the node as a client with the cluster secret and asks its
admin actor one typed query (``top`` asks again every ``--interval``).

Exit status: 0 success; 1 the node answered but has no such thing (an
unknown job, no ledger, no job supervisor...) or the ledger is bad; 2 usage
errors and an unusable secret; 3 the node cannot be reached or refused the
handshake (another secret or cluster name).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

import anyio
import structlog

from ._client import AdminClient, CtlError, read_secret, tls_transport
from ._format import (
    json_line,
    plain,
    render_actors,
    render_alerts,
    render_heat,
    render_job,
    render_jobs,
    render_leases,
    render_records,
    render_replayed,
    render_status,
    render_top,
    render_trace,
    render_verified,
)
from ._queries import (
    MAX_TAIL,
    BadQuery,
    GetActors,
    GetAlerts,
    GetHeat,
    GetJobs,
    GetLeases,
    GetOrderParameters,
    GetStatus,
    LedgerReplay,
    LedgerTail,
    LedgerVerify,
    NoSuchJob,
    OrderParameters,
    TraceJob,
    Unavailable,
)
from ._version import package_version

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Sequence

__all__ = ["main", "run"]

DEFAULT_NODE = "127.0.0.1:7350"

_EPILOG = """\
exit status:
  0  success
  1  the node answered, but has no such thing (an unknown job, no ledger,
     no job supervisor, no territory manager, no stability monitor), or
     verify found the ledger bad
  2  a usage error, or no usable cluster secret
  3  the node cannot be reached, or refused the handshake (another cluster
     secret or cluster name)

The node is --node HOST:PORT, else TADPOLE_CTL_NODE, else 127.0.0.1:7350.
The secret is --secret-file, else TADPOLE_SECRET (the secret itself), else
TADPOLE_SECRET_FILE: the node's own. The cluster name is --cluster, else
TADPOLE_CLUSTER, else "tadpole". A node that listens with TLS needs
--tls-ca (its certificate or CA; env TADPOLE_TLS_CA), and --tls-cert with
--tls-key when it requires client certificates.
For the ledger file of a stopped node, use python -m actors.ledger."""


class _Usage(CtlError):
    exit_status = 2


def _common(*, defaults: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after its name.

    Only the top-level copy has defaults: a subcommand's copy must not
    overwrite what was given before the command's name.
    """

    def default(value: Any) -> Any:  # Any: the option's default
        return value if defaults else argparse.SUPPRESS

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--node", metavar="HOST:PORT", default=default(None), help="the node")
    common.add_argument(
        "--secret-file", metavar="PATH", default=default(None), help="the cluster secret's file"
    )
    common.add_argument("--cluster", default=default(None), help="the cluster's name")
    common.add_argument(
        "--timeout", type=float, default=default(5.0), metavar="S", help="seconds to wait (5)"
    )
    common.add_argument(
        "--json", action="store_true", default=default(False), help="JSON instead of tables"
    )
    for name, text in [
        ("ca", "dial with TLS, trusting this CA file (the node's certificate, say)"),
        ("cert", "dial with TLS, with this client certificate"),
        ("key", "the client certificate's key"),
    ]:
        common.add_argument(f"--tls-{name}", metavar="PATH", default=default(None), help=text)
    return common


def _parser() -> argparse.ArgumentParser:
    common = _common(defaults=False)
    parser = argparse.ArgumentParser(
        prog="tadpole-ctl",
        description="Look into a running Tadpole node.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common(defaults=True)],
    )
    parser.add_argument("--version", action="version", version=f"tadpole-ctl {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, description=text, parents=[common])

    add("status", "the node, its cluster's members and their state, uptime, version")
    add("actors", "the actor tree with mailbox depths")
    jobs = add("jobs", "the job supervisor's jobs, with the unread terminal ones")
    jobs.add_argument("--unread", action="store_true", help="only the unread ones")
    job = add("job", "one job; with --trace, its events from the ledger")
    job.add_argument("job_id", metavar="ID")
    job.add_argument("--trace", action="store_true", help="list the job's ledger records")
    add("leases", "the territory manager's leases")
    add("heat", "the territories' heat, hottest first")
    add("alerts", "the active stability alerts")
    top = add("top", "a refreshing view: order parameters as sparklines, the busiest actors")
    top.add_argument("--interval", type=float, default=1.0, metavar="S", help="default: 1")
    top.add_argument("--iterations", type=int, metavar="N", help="stop after N frames")
    top.add_argument("--once", action="store_true", help="one frame, then exit")
    top.add_argument("--width", type=int, default=40, help="sparkline points (default: 40)")
    top.add_argument("--rows", type=int, default=10, help="actors shown (default: 10)")
    add("verify", "walk the node's ledger's hash chain; name the first bad record")
    tail = add("tail", "the node's last ledger records")
    tail.add_argument("-n", "--lines", type=int, default=10, metavar="N", help="default: 10")
    replay = add("replay", "replay the node's ledger (record counts) and print the digest")
    replay.add_argument("--epoch", type=int, help="replay only this epoch")
    replay.add_argument("--from-start", action="store_true", help="ignore checkpoints")
    return parser


def _target(args: argparse.Namespace) -> tuple[str, int]:
    spec = args.node or os.environ.get("TADPOLE_CTL_NODE") or DEFAULT_NODE
    host, sep, port = spec.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _Usage(f"--node expects HOST:PORT, got {spec!r}")
    return host.strip("[]"), int(port)


class _Session:
    """One command's output and its exit status."""

    def __init__(self, args: argparse.Namespace, client: AdminClient) -> None:
        self.args = args
        self.client = client

    def out(self, text: str) -> None:
        print(text, file=sys.stdout, flush=True)

    def emit(self, reply: Any, render: Callable[[Any], str]) -> int:  # Any: a reply Struct
        self.out(json_line(plain(reply)) if self.args.json else render(reply))
        return 0

    async def ask(self, query: Any) -> Any:  # Any: the query's declared reply
        reply = await self.client.ask(query)
        if isinstance(reply, Unavailable):
            raise CtlError(f"node {self.client.node}: {reply.reason}")
        if isinstance(reply, BadQuery):
            raise _Usage(f"node {self.client.node} refused the query: {reply.error}")
        if isinstance(reply, NoSuchJob):
            raise CtlError(f"node {self.client.node} knows no job {reply.job_id!r}")
        return reply


async def _status(s: _Session) -> int:
    return s.emit(await s.ask(GetStatus()), render_status)


async def _actors(s: _Session) -> int:
    return s.emit(await s.ask(GetActors()), render_actors)


async def _jobs(s: _Session) -> int:
    return s.emit(await s.ask(GetJobs(unread_only=s.args.unread)), render_jobs)


async def _job(s: _Session) -> int:
    trace = await s.ask(TraceJob(s.args.job_id))
    if s.args.trace:
        return s.emit(trace, render_trace)
    if trace.job is None:
        raise CtlError(
            f"node {s.client.node}'s job supervisor no longer holds job {s.args.job_id!r} "
            "(its ledger does: use --trace)"
        )
    return s.emit(trace.job, render_job)


async def _leases(s: _Session) -> int:
    return s.emit(await s.ask(GetLeases()), render_leases)


async def _heat(s: _Session) -> int:
    return s.emit(await s.ask(GetHeat()), render_heat)


async def _alerts(s: _Session) -> int:
    return s.emit(await s.ask(GetAlerts()), render_alerts)


async def _top(s: _Session) -> int:
    args = s.args
    if args.width < 1 or args.rows < 0 or args.interval < 0:
        raise _Usage("--width must be >= 1, --rows and --interval >= 0")
    iterations = 1 if args.once else args.iterations
    if iterations is not None and iterations < 1:
        raise _Usage(f"--iterations must be >= 1, not {iterations}")
    clear = sys.stdout.isatty() and not args.json
    frame = 0
    while iterations is None or frame < iterations:
        if frame:
            await s.client.clock.sleep(args.interval)  # the refresh the operator asked for
        status = await s.ask(GetStatus())
        actors = await s.ask(GetActors())
        reply = await s.client.ask(GetOrderParameters(points=min(args.width, MAX_TAIL)))
        parameters = reply if isinstance(reply, OrderParameters) else None
        if args.json:
            s.out(
                json_line(
                    {
                        "status": plain(status),
                        "actors": plain(actors)["actors"],
                        "order_parameters": None if parameters is None else plain(parameters),
                    }
                )
            )
        else:
            text = render_top(status, actors, parameters, width=args.width, rows=args.rows)
            s.out(("\x1b[H\x1b[2J" if clear else ("\n" if frame else "")) + text)
        frame += 1
    return 0


async def _verify(s: _Session) -> int:
    verified = await s.ask(LedgerVerify())
    s.emit(verified, render_verified)
    return 0 if verified.ok else 1


async def _tail(s: _Session) -> int:
    if not 0 <= s.args.lines <= MAX_TAIL:
        raise _Usage(f"-n must be 0..{MAX_TAIL}, not {s.args.lines}")
    records = await s.ask(LedgerTail(count=s.args.lines))
    if s.args.json:  # JSON lines, as `python -m actors.ledger tail` prints them
        for record in records.records:
            s.out(json_line(plain(record)))
        return 0
    s.out(render_records(records))
    return 0


async def _replay(s: _Session) -> int:
    replayed = await s.ask(LedgerReplay(epoch=s.args.epoch, from_start=s.args.from_start))
    return s.emit(replayed, render_replayed)


_COMMANDS: dict[str, Callable[[_Session], Coroutine[Any, Any, int]]] = {
    "status": _status,
    "actors": _actors,
    "jobs": _jobs,
    "job": _job,
    "leases": _leases,
    "heat": _heat,
    "alerts": _alerts,
    "top": _top,
    "verify": _verify,
    "tail": _tail,
    "replay": _replay,
}


async def _run(args: argparse.Namespace) -> int | CtlError:
    host, port = _target(args)
    if args.timeout <= 0:
        raise _Usage(f"--timeout must be > 0, not {args.timeout}")
    secret = read_secret(args.secret_file)
    cluster = args.cluster or os.environ.get("TADPOLE_CLUSTER") or "tadpole"
    tls = {
        name: getattr(args, f"tls_{name}") or os.environ.get(f"TADPOLE_TLS_{name.upper()}")
        for name in ("ca", "cert", "key")
    }
    if (tls["cert"] is None) != (tls["key"] is None):
        raise _Usage("--tls-cert and --tls-key go together")
    transport = tls_transport(**tls) if any(tls.values()) else None
    async with AdminClient(
        host, port, secret=secret, cluster=cluster, timeout=args.timeout, transport=transport
    ) as c:
        try:
            return await _COMMANDS[args.command](_Session(args, c))
        except CtlError as exc:  # returned, not raised: the node's task group would wrap it
            return exc


def _report(exc: CtlError) -> int:
    print(f"tadpole-ctl: error: {exc}", file=sys.stderr)
    return exc.exit_status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        result = anyio.run(_run, args)
    except CtlError as exc:
        return _report(exc)
    except KeyboardInterrupt:
        return 130
    return _report(result) if isinstance(result, CtlError) else result


def run() -> None:
    """The console script: warnings and errors to stderr, results alone on stdout."""
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    sys.exit(main())
