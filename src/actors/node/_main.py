"""The command-line entry point: parse settings, configure logging, run."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import anyio

from ._config import ConfigError, load_config
from ._run import configure_logging, run_node

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run a node; returns the process exit code (0 after a graceful stop, 2 on bad settings)."""
    try:
        config = load_config(argv)
    except ConfigError as exc:
        print(f"python -m actors.node: error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_format, config.log_level)
    try:
        use_uvloop = False
        try:
            import uvloop  # noqa: F401

            use_uvloop = True
        except ImportError:
            pass
        anyio.run(run_node, config, backend="asyncio", backend_options={"use_uvloop": use_uvloop})
    except ConfigError as exc:
        print(f"python -m actors.node: error: {exc}", file=sys.stderr)
        return 2
    return 0
