"""``connection_rejected`` is a warning at most once a minute per peer host and reason.

A node with a wrong secret retries every few seconds; the seed must not log
a warning for each attempt (the issue found it doing so twice a second).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from structlog.testing import capture_logs

from actors import ActorSystem
from actors.remote import RemoteNode
from tests.helpers import SECRET

if TYPE_CHECKING:
    from collections.abc import MutableMapping


class ManualClock:
    """A clock read by the rate limit; the test moves it."""

    def __init__(self) -> None:
        self.time = 100.0

    def now(self) -> float:
        return self.time

    def wall(self) -> float:
        return self.time

    async def sleep(self, delay: float) -> None:  # pragma: no cover - not used here
        raise AssertionError("not used")

    def call_later(self, delay: float, callback: Any) -> Any:  # pragma: no cover
        raise AssertionError("not used")


def warnings(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if e["event"] == "connection_rejected" and e["log_level"] == "warning"]


def test_one_warning_a_minute_per_host_and_reason_with_the_count_left_out() -> None:
    clock = ManualClock()
    node = RemoteNode(ActorSystem("seed", clock=clock), secret=SECRET)
    with capture_logs() as logs:
        for _ in range(120):  # two a second for a minute
            node._log_rejected("10.0.0.2", "AuthenticationFailed", None, "bad proof")
            clock.time += 0.5
        node._log_rejected("10.0.0.2", "AuthenticationFailed", None, "bad proof")
    warned = warnings(logs)
    assert [e["suppressed"] for e in warned] == [0, 119]
    assert len(logs) == 121  # the rest at debug


def test_hosts_and_reasons_are_limited_apart() -> None:
    clock = ManualClock()
    node = RemoteNode(ActorSystem("seed", clock=clock), secret=SECRET)
    with capture_logs() as logs:
        for host in ("10.0.0.2", "10.0.0.3"):
            for reason in ("AuthenticationFailed", "ClusterMismatch"):
                node._log_rejected(host, reason, None, "no")
                node._log_rejected(host, reason, None, "no")
    assert len(warnings(logs)) == 4


def test_the_memory_of_hosts_is_bounded() -> None:
    clock = ManualClock()
    node = RemoteNode(ActorSystem("seed", clock=clock), secret=SECRET)
    with capture_logs():
        for n in range(5000):
            node._log_rejected(f"10.0.{n // 256}.{n % 256}", "AuthenticationFailed", None, "no")
    assert len(node._reject_log) <= 1024
