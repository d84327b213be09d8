"""``python -m actors.ledger``: verify, tail, replay, checkpoint and append from a shell.

Exit status: 0 on success; 1 when the ledger is bad (verify found a fault,
replay hit a broken chain, the file is a damaged or cut-off ledger) or the
input was rejected; 2 for usage errors and paths that are not ledgers at all.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from ._errors import (
    InvalidPayload,
    LedgerCorrupted,
    LedgerError,
    LedgerNotFound,
    NotALedger,
    ReplayError,
)
from ._ledger import Ledger
from ._reader import LedgerReader
from ._replay import Reducers, summary_reducers

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]

_json_encode = msgspec.json.Encoder().encode


class _UsageError(Exception):
    pass


_EPILOG = """\
exit status:
  0  success
  1  the ledger is bad: verify found a fault (the first bad record is named),
     or the file is a ledger that is damaged or cut off (even to 0 bytes:
     "unreadable" at seq 1); or the input was rejected
  2  a usage error, or the path is not a ledger at all: missing, a directory,
     another SQLite database, a text file

A file is a ledger, damaged or not, if its header carries the ledger's mark,
if its first page holds the ledger's tables, or if it is shorter than a
database header and what it holds is the start of one."""


def _version() -> str:
    try:
        return importlib.metadata.version("tadpole-actors")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m actors.ledger",
        description="Inspect and append to a Tadpole ledger file.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    verify = commands.add_parser("verify", help="walk the hash chain; name the first bad record")
    verify.add_argument("path")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")

    tail = commands.add_parser("tail", help="print the last records as JSON lines")
    tail.add_argument("path")
    tail.add_argument("-n", "--lines", type=int, default=10, metavar="N", help="default: 10")

    replay = commands.add_parser("replay", help="rebuild state and print its digest")
    replay.add_argument("path")
    replay.add_argument("--epoch", type=int, help="replay only the records of this epoch")
    replay.add_argument("--reducers", metavar="MODULE:NAME", help="default: record counts")
    replay.add_argument(
        "--from-start", action="store_true", help="ignore checkpoints, fold every record"
    )
    replay.add_argument("--json", action="store_true", help="print digest and counts as JSON")

    checkpoint = commands.add_parser("checkpoint", help="write a checkpoint at the head")
    checkpoint.add_argument("path")
    checkpoint.add_argument("--reducers", metavar="MODULE:NAME", help="default: record counts")
    checkpoint.add_argument(
        "--prune", action="store_true", help="then delete the records before it"
    )

    append = commands.add_parser(
        "append", help="append one record per JSON object read from standard input"
    )
    append.add_argument("path")
    append.add_argument("--kind", required=True, help="the kind of every record appended")
    append.add_argument("--epoch", type=int, help="start this epoch first")
    append.add_argument(
        "--durability", choices=("always", "group"), default="always", help="default: always"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        handler = _COMMANDS[args.command]
        return handler(args)
    except _UsageError as exc:
        _err(f"error: {exc}")
        return 2
    except (LedgerNotFound, NotALedger) as exc:
        _err(f"error: {exc}")
        return 2
    except LedgerCorrupted as exc:
        _out(f"corrupt: {exc.fault}")
        return 1
    except LedgerError as exc:
        _err(f"error: {exc}")
        return 1


def _verify(args: argparse.Namespace) -> int:
    with LedgerReader(args.path) as reader:
        report = reader.verify()
    if args.json:
        fault = report.fault
        _out(
            _json_encode(
                {
                    "ok": report.ok,
                    "records": report.records,
                    "first_seq": report.first_seq,
                    "head_seq": report.head_seq,
                    "head_hash": report.head_hash.hex(),
                    "base_seq": report.base_seq,
                    "checkpoints": report.checkpoints,
                    "fault": None
                    if fault is None
                    else {"seq": fault.seq, "kind": fault.kind.value, "detail": fault.detail},
                }
            ).decode()
        )
        return 0 if report.ok else 1
    if report.fault is not None:
        _out(f"corrupt: {report.fault}")
        return 1
    anchored = f", anchored on the checkpoint at seq {report.base_seq}" if report.base_seq else ""
    _out(
        f"ok: {report.records} records (seq {report.first_seq}..{report.head_seq}), "
        f"head {report.head_hash.hex()}{anchored}"
    )
    return 0


def _tail(args: argparse.Namespace) -> int:
    if args.lines < 0:
        raise _UsageError(f"-n must be >= 0, not {args.lines}")
    with LedgerReader(args.path) as reader:
        records = reader.tail(args.lines)
    for record in records:
        try:
            line = _json_encode(record.to_builtins()).decode()
        except (msgspec.DecodeError, msgspec.EncodeError, TypeError, ValueError) as exc:
            line = _json_encode(
                {"seq": record.seq, "kind": record.kind, "error": f"undecodable payload: {exc}"}
            ).decode()
        _out(line)
    return 0


def _replay(args: argparse.Namespace) -> int:
    reducers = _load_reducers(args.reducers)
    with LedgerReader(args.path) as reader:
        try:
            if args.epoch is not None:
                result = reader.replay_epoch(args.epoch, reducers)
            else:
                result = reader.replay(reducers, from_checkpoint=not args.from_start)
        except LedgerCorrupted:
            raise
        except ReplayError as exc:
            _err(f"error: {exc}")
            return 1
    if args.json:
        _out(
            _json_encode(
                {
                    "digest": result.digest,
                    "records": result.records,
                    "start_seq": result.start_seq,
                    "last_seq": result.last_seq,
                    "checkpoint": result.checkpoint,
                    "epoch": result.epoch,
                }
            ).decode()
        )
    else:
        _out(result.digest)
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    reducers = _load_reducers(args.reducers)

    async def run() -> None:
        async with Ledger(args.path, durability="always") as ledger:
            checkpoint = await ledger.checkpoint(reducers)
            _out(
                f"checkpoint at seq {checkpoint.seq} (reducers {checkpoint.reducers}), "
                f"digest {checkpoint.digest.hex()}"
            )
            if args.prune:
                removed = await ledger.prune(checkpoint.seq)
                _out(f"pruned {removed} records")

    _require_ledger(args.path)
    anyio.run(run)
    return 0


def _append(args: argparse.Namespace) -> int:
    payloads: list[Any] = []  # Any: decoded JSON objects
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            value = msgspec.json.decode(line)
        except msgspec.DecodeError as exc:
            _err(f"line {number}: invalid JSON: {exc}; nothing was appended")
            return 1
        if not isinstance(value, dict):
            _err(
                f"line {number}: expected a JSON object, got {type(value).__name__}; "
                "nothing was appended"
            )
            return 1
        payloads.append(value)
    if not payloads:
        _out("appended 0 records")
        return 0

    async def run() -> None:
        async with Ledger(args.path, durability=args.durability) as ledger:
            if args.epoch is not None:
                ledger.start_epoch(args.epoch)
            records = await ledger.extend((args.kind, payload) for payload in payloads)
            _out(
                f"appended {len(records)} records (seq {records[0].seq}..{records[-1].seq}), "
                f"head {records[-1].hash.hex()}"
            )

    try:
        anyio.run(run)
    except InvalidPayload as exc:
        _err(f"{exc}; nothing was appended")
        return 1
    return 0


def _require_ledger(path: str) -> None:
    with LedgerReader(path):
        pass


def _load_reducers(spec: str | None) -> Reducers[Any]:
    if spec is None:
        return summary_reducers()
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise _UsageError(f"--reducers must look like MODULE:NAME, not {spec!r}")
    try:
        obj: object = importlib.import_module(module_name)
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise _UsageError(f"cannot load reducers {spec!r}: {exc}") from None
    if not isinstance(obj, Reducers) and callable(obj):
        obj = obj()
    if not isinstance(obj, Reducers):
        raise _UsageError(f"{spec!r} is a {type(obj).__name__}, not Reducers")
    return obj


def _out(text: str) -> None:
    print(text, file=sys.stdout)


def _err(text: str) -> None:
    print(text, file=sys.stderr)


_COMMANDS = {
    "verify": _verify,
    "tail": _tail,
    "replay": _replay,
    "checkpoint": _checkpoint,
    "append": _append,
}
