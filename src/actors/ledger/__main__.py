"""``python -m actors.ledger``: see :mod:`actors.ledger._cli`."""

from __future__ import annotations

import logging
import sys

import structlog

from ._cli import main

if __name__ == "__main__":
    # An entry point may configure logging: warnings and errors go to stderr,
    # so standard output carries only the command's results.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    sys.exit(main())
