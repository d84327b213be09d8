"""Topics: publish/subscribe by name inside one actor system.

``system.topics.subscribe("control_plane.job_events", ref)`` makes ``ref``
receive every message published on that topic. A subscription to a name
ending in ``.*`` receives every topic below that prefix
(``control_plane.*`` gets ``control_plane.job_events``). Publishing never
blocks: each subscriber gets a ``tell``; a subscriber whose mailbox is full
(or whose delivery filter refuses the message) gets it as a dead letter
instead, so one slow subscriber cannot stall the publisher or the others.
Stopped actors are unsubscribed automatically.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from ._errors import MailboxFull

if TYPE_CHECKING:
    from ._deadletters import DeadLetters
    from ._ref import ActorRef

__all__ = ["TopicStatistics", "Topics"]


class TopicStatistics(msgspec.Struct, frozen=True):
    topics: int
    subscriptions: int
    published: int
    delivered: int
    undelivered: int


class Topics:
    """The topic registry of one system."""

    def __init__(self, dead_letters: DeadLetters) -> None:
        self._dead_letters = dead_letters
        self._exact: dict[str, dict[ActorRef[Any], None]] = {}
        self._prefixes: dict[str, dict[ActorRef[Any], None]] = {}
        self.published = 0
        self.delivered = 0
        self.undelivered = 0

    def subscribe(self, topic: str, ref: ActorRef[Any]) -> None:
        """Deliver messages published on ``topic`` (or below ``prefix.*``) to ``ref``."""
        table, key = self._table(topic)
        table.setdefault(key, {})[ref] = None

    def unsubscribe(self, topic: str, ref: ActorRef[Any]) -> None:
        table, key = self._table(topic)
        subscribers = table.get(key)
        if subscribers is not None:
            subscribers.pop(ref, None)
            if not subscribers:
                del table[key]

    def unsubscribe_all(self, ref: ActorRef[Any]) -> None:
        """Remove every subscription of ``ref`` (called when its actor stops)."""
        for table in (self._exact, self._prefixes):
            for key in [key for key, subs in table.items() if ref in subs]:
                del table[key][ref]
                if not table[key]:
                    del table[key]

    def subscribers(self, topic: str) -> tuple[ActorRef[Any], ...]:
        """Everyone a message published on ``topic`` reaches, in subscription order."""
        _check_name(topic, allow_wildcard=False)
        found: dict[ActorRef[Any], None] = dict(self._exact.get(topic, {}))
        for prefix, subs in self._prefixes.items():
            if topic.startswith(prefix):
                found.update(subs)
        return tuple(found)

    def publish(self, topic: str, message: object) -> int:
        """Tell ``message`` to every subscriber of ``topic``; returns how many got it."""
        self.published += 1
        delivered = 0
        for ref in self.subscribers(topic):
            try:
                ref.tell(message)
            except MailboxFull:
                self.undelivered += 1
                self._dead_letters.publish(ref.path, message, f"topic {topic}: mailbox full")
                continue
            except Exception as error:  # refused by the subscriber (its delivery filter)
                self.undelivered += 1
                self._dead_letters.publish(ref.path, message, f"topic {topic}: refused: {error!r}")
                continue
            delivered += 1
        self.delivered += delivered
        return delivered

    def statistics(self) -> TopicStatistics:
        return TopicStatistics(
            topics=len(self._exact) + len(self._prefixes),
            subscriptions=sum(len(s) for s in self._exact.values())
            + sum(len(s) for s in self._prefixes.values()),
            published=self.published,
            delivered=self.delivered,
            undelivered=self.undelivered,
        )

    def _table(self, topic: str) -> tuple[dict[str, dict[ActorRef[Any], None]], str]:
        _check_name(topic, allow_wildcard=True)
        if topic.endswith(".*"):
            return self._prefixes, topic[:-1]  # keep the dot: "a.*" matches "a.b", not "ab"
        return self._exact, topic


def _check_name(topic: str, *, allow_wildcard: bool) -> None:
    body = topic[:-2] if allow_wildcard and topic.endswith(".*") else topic
    if not body or "*" in body or any(not part for part in body.split(".")):
        raise ValueError(
            f"invalid topic name {topic!r}: dot-separated non-empty parts"
            + (", optionally ending in '.*'" if allow_wildcard else "")
        )
