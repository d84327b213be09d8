"""``python -m actors.ctl``: see :mod:`actors.ctl._cli`."""

from __future__ import annotations

from ._cli import run

if __name__ == "__main__":
    run()
