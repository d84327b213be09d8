"""Bounded mailboxes with an overflow policy and counters of what was dropped.

The mailbox is the hot path of every in-process ``tell``: an append to a
:class:`collections.deque` and, only when the owner is parked, the wake-up of
one future. It deliberately avoids :class:`asyncio.Queue` (and anyio's memory
streams, several times slower still): the actor loop reads the deque directly.

An idle actor's mailbox holds no deque at all; it is created on the first
message and released when the owner drains it and parks, so a hundred
thousand idle actors cost no buffers.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from typing import Any, Final, Protocol

import msgspec

from ._errors import ActorStopped, MailboxFull
from ._validate import check_enum, check_int

__all__ = ["Mailbox", "MailboxConfig", "MailboxStatistics", "Overflow"]

DEFAULT_CAPACITY: Final = 1024


class Activatable(Protocol):
    """The owner of a mailbox that starts its loop only when there is work."""

    def activate(self) -> None: ...


class Overflow(enum.Enum):
    """What ``tell`` does when the mailbox is full (``send`` and ``ask`` wait for room)."""

    FAIL = "fail"
    """Raise :class:`~actors.MailboxFull` to the sender; nothing is enqueued."""
    DROP_NEWEST = "drop_newest"
    """Drop the message being told; count it and send it to dead letters."""
    DROP_OLDEST = "drop_oldest"
    """Evict the oldest queued message to make room; count it and dead-letter it."""


class MailboxConfig(msgspec.Struct, frozen=True, gc=False):
    """How big a mailbox is and what happens when it is full."""

    capacity: int = DEFAULT_CAPACITY
    overflow: Overflow = Overflow.FAIL

    def __post_init__(self) -> None:
        check_int("MailboxConfig", "capacity", self.capacity, minimum=1)
        check_enum("MailboxConfig", "overflow", self.overflow, Overflow)


class MailboxStatistics(msgspec.Struct, frozen=True):
    """A snapshot of one mailbox."""

    capacity: int
    overflow: Overflow
    size: int
    enqueued: int
    dropped_newest: int
    dropped_oldest: int
    rejected: int
    waiting_senders: int


class Mailbox:
    """A bounded FIFO of messages (or pending asks) for one actor.

    Single consumer (the actor's loop), many producers on the same event loop.
    """

    __slots__ = (
        "_closed",
        "_dormant",
        "_items",
        "_putters",
        "_waiter",
        "capacity",
        "dropped_newest",
        "dropped_oldest",
        "enqueued",
        "overflow",
        "owner",
        "rejected",
    )

    def __init__(self, owner: str, config: MailboxConfig) -> None:
        self.owner = owner
        self.capacity = config.capacity
        self.overflow = config.overflow
        # Any: user messages or the runtime's pending-ask records.
        self._items: deque[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._putters: deque[asyncio.Future[None]] | None = None
        self._closed = False
        # The owner to activate on the next item while it has no running loop.
        self._dormant: Activatable | None = None
        self.enqueued = 0
        self.dropped_newest = 0
        self.dropped_oldest = 0
        self.rejected = 0

    def __len__(self) -> int:
        items = self._items
        return 0 if items is None else len(items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put_nowait(self, item: object) -> object | None:
        """Enqueue by the overflow policy, never waiting.

        Returns ``None`` when ``item`` was enqueued without loss, else the item
        that was dropped (``item`` itself, or the evicted oldest) so the
        caller can dead-letter it. Raises :class:`MailboxFull` under
        :attr:`Overflow.FAIL` and :class:`ActorStopped` once closed.
        """
        if self._closed:
            raise ActorStopped(self.owner)
        items = self._items
        if items is None:
            items = self._items = deque()
        dropped: object | None = None
        if len(items) >= self.capacity:
            overflow = self.overflow
            if overflow is Overflow.FAIL:
                self.rejected += 1
                raise MailboxFull(self.owner, self.capacity)
            if overflow is Overflow.DROP_NEWEST:
                self.dropped_newest += 1
                return item
            dropped = items.popleft()
            self.dropped_oldest += 1
        items.append(item)
        self.enqueued += 1
        # _item_arrived(), inlined: this is every in-process tell.
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        elif self._dormant is not None:
            self._activate()
        return dropped

    def offer(self, item: object) -> bool:
        """Enqueue ``item`` if there is room (never drops, never raises); ``False`` if not."""
        if self._closed:
            return False
        items = self._items
        if items is None:
            items = self._items = deque()
        elif len(items) >= self.capacity:
            return False
        # put_nowait() with room, inlined: this is every local ask.
        items.append(item)
        self.enqueued += 1
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        elif self._dormant is not None:
            self._activate()
        return True

    def offer_many(self, batch: list[Any], start: int) -> int:
        """Enqueue ``batch[start:]`` in order, as much as there is room for, with one
        wake-up (never drops, never raises); how many were enqueued."""
        items = self._items
        if self._closed:
            return 0
        if items is None:
            items = self._items = deque()
        count = min(self.capacity - len(items), len(batch) - start)
        if count <= 0:
            return 0
        items.extend(batch[start : start + count] if start or count < len(batch) else batch)
        self.enqueued += count
        self._item_arrived()
        return count

    def _item_arrived(self) -> None:
        """Wake the parked owner, or start a dormant one (inlined in ``put_nowait``)."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        elif self._dormant is not None:
            self._activate()

    async def put(self, item: object) -> None:
        """Enqueue, waiting for room whatever the overflow policy."""
        while True:
            if self._closed:
                raise ActorStopped(self.owner)
            items = self._items
            if items is None or len(items) < self.capacity:
                self.put_nowait(item)
                return
            putters = self._putters
            if putters is None:
                putters = self._putters = deque()
            room = asyncio.get_running_loop().create_future()
            putters.append(room)
            try:
                await room
            except BaseException:
                if room.done() and not room.cancelled():
                    self._wake_putter()  # pass the room we were given on
                elif room in putters:
                    putters.remove(room)
                raise

    def get_nowait(self) -> object:
        """The oldest item; the mailbox must not be empty."""
        items = self._items
        assert items, "get_nowait on an empty mailbox"
        item = items.popleft()
        if self._putters:
            self._wake_putter()
        return item

    async def wait(self) -> None:
        """Park until an item arrives or the mailbox is woken (close, halt)."""
        if self._items:
            return
        # Release the buffer while idle: an idle actor holds no deque.
        self._items = None
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            if self._waiter is waiter:
                self._waiter = None

    def sleep_until_item(self, owner: Activatable) -> None:
        """Have ``owner.activate()`` called on the next item (the owner has no loop yet)."""
        self._dormant = owner

    def cancel_sleep(self) -> None:
        self._dormant = None

    def _activate(self) -> None:
        owner, self._dormant = self._dormant, None
        if owner is not None:
            owner.activate()

    def wake(self) -> None:
        """Wake the parked owner without an item (to notice a halt request)."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _wake_putter(self) -> None:
        putters = self._putters
        while putters:
            room = putters.popleft()
            if not room.done():
                room.set_result(None)
                return

    def close_after(self, marker: object) -> None:
        """Refuse further items, and queue ``marker`` behind what is already queued.

        The marker goes in even when the mailbox is full (it is the runtime's,
        never a user message); the owner sees it after everything accepted before.
        """
        self._closed = True
        items = self._items
        if items is None:
            items = self._items = deque()
        items.append(marker)
        putters, self._putters = self._putters, None
        for room in putters or ():
            if not room.done():
                room.set_exception(ActorStopped(self.owner))
        self._item_arrived()

    def close(self) -> list[object]:
        """Refuse further items; return what was queued; fail waiting senders."""
        self._closed = True
        self._dormant = None
        items = list(self._items or ())
        self._items = None
        putters, self._putters = self._putters, None
        for room in putters or ():
            if not room.done():
                room.set_exception(ActorStopped(self.owner))
        self.wake()
        return items

    def statistics(self) -> MailboxStatistics:
        return MailboxStatistics(
            capacity=self.capacity,
            overflow=self.overflow,
            size=len(self),
            enqueued=self.enqueued,
            dropped_newest=self.dropped_newest,
            dropped_oldest=self.dropped_oldest,
            rejected=self.rejected,
            waiting_senders=len(self._putters or ()),
        )
