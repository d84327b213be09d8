"""``python -m actors.node``: run a Tadpole cluster node (see ``--help``)."""

from __future__ import annotations

import sys

from ._main import main

if __name__ == "__main__":
    sys.exit(main())
