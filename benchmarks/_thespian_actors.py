"""Thespian actors for bench_peers.py, at module level so multiprocTCPBase can import them.

Only imported when Thespian is installed (the ``bench`` extra).
"""

from __future__ import annotations

from typing import Any

from thespian.actors import Actor


class TCounter(Actor):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def receiveMessage(self, message: Any, sender: Any) -> None:  # noqa: N802
        if message == "count":
            self.send(sender, self.count)
        elif isinstance(message, int):
            self.count += 1


class TEcho(Actor):  # type: ignore[misc]
    def receiveMessage(self, message: Any, sender: Any) -> None:  # noqa: N802
        if isinstance(message, int):
            self.send(sender, message)
