"""The command-line entry point: parse settings, configure logging, run.

``python -m actors.node gen-secret PATH`` writes a fresh cluster secret instead.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import anyio

from protocol import generate_secret

from ._config import ConfigError, load_config
from ._run import configure_logging, run_node

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["gen_secret", "main"]

_PROG = "python -m actors.node"


def gen_secret(path: str | os.PathLike[str]) -> None:
    """Write a fresh random secret (64 hex digits, 256 bits) to a new file of mode 0600.

    Raises :class:`FileExistsError` rather than overwrite a file, ``OSError`` if
    the file cannot be created.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, generate_secret())
        os.fsync(fd)
    finally:
        os.close(fd)


def _gen_secret_command(args: Sequence[str]) -> int:
    if len(args) != 1 or args[0].startswith("-"):
        print(
            f"usage: {_PROG} gen-secret PATH  (writes a new secret file of mode 0600)",
            file=sys.stderr,
        )
        return 2
    try:
        gen_secret(args[0])
    except FileExistsError:
        print(f"{_PROG} gen-secret: error: {args[0]} exists; not overwritten", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{_PROG} gen-secret: error: cannot create {args[0]}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote a new cluster secret to {args[0]} (mode 0600)", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run a node; returns the process exit code (0 after a graceful stop, 2 on bad settings)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["gen-secret"]:
        return _gen_secret_command(args[1:])
    try:
        config = load_config(args)
    except ConfigError as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_format, config.log_level, lifecycle=config.lifecycle_log)
    try:
        use_uvloop = False
        try:
            import uvloop  # noqa: F401

            use_uvloop = True
        except ImportError:
            pass
        anyio.run(run_node, config, backend="asyncio", backend_options={"use_uvloop": use_uvloop})
    except ConfigError as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return 2
    return 0
