"""``python -m actors.roles``: see :mod:`actors.roles._cli`."""

from __future__ import annotations

import logging
import sys

import structlog

from ._cli import main

if __name__ == "__main__":
    # Warnings and errors go to stderr, so standard output carries only the plan.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    sys.exit(main())
