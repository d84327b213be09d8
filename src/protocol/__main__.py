"""``python -m protocol schemas``: print every message type's JSON Schema.

Usage::

    python -m protocol schemas [--import MODULE]... [--indent N] [--output FILE]

``--import`` imports a module first, so that the message types it defines are
registered (repeat it for several modules). Tadpole's own runtime messages,
such as ``tadpole.none`` (the ``None`` reply), are defined in
``actors.remote``: add ``--import actors.remote`` to include them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from ._schema import export_schemas


def main(argv: list[str] | None = None) -> int:
    """Run the command line; the exit status (0 on success, 2 on a bad argument)."""
    parser = argparse.ArgumentParser(
        prog="python -m protocol", description="Tadpole wire-protocol tools."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    schemas = commands.add_parser(
        "schemas", help="print the JSON Schema of every registered message type"
    )
    schemas.add_argument(
        "--import",
        dest="modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first, registering its message types (repeatable)",
    )
    schemas.add_argument("--indent", type=int, default=2, help="JSON indent (default 2)")
    schemas.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    args = parser.parse_args(argv)
    for module in args.modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            parser.error(f"--import {module}: cannot import it: {exc}")
    text = json.dumps(export_schemas(), indent=args.indent, sort_keys=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
