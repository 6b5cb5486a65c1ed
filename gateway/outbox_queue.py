"""The publisher's view of the outbox: what waits, in order, what is in flight, and what gives when it is full.

`OutboxQueue` knows nothing of files. It holds the in-memory head of the backlog (oldest first), which of it
was handed out in this session, which was acknowledged out of order, the failed attempts per message, and the
length and bytes of the whole backlog (head, unsaved tail and disk rows alike: `gateway.outbox_writeback`
feeds the head and keeps the counts in step).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable

import structlog

from gateway.config import OutboxSection
from gateway.logs import LogThrottle
from gateway.stats import Stats
from gateway.store import Message

log = structlog.get_logger(component="outbox")

DROP_LOG_INTERVAL = 60.0


class OutboxQueue:
    """The backlog as the publisher drains it: take, then ack (or fail) each message; counts and bounds."""

    def __init__(self, settings: OutboxSection, stats: Stats) -> None:
        self._settings = settings
        self._stats = stats
        self._head: deque[Message] = deque()  # the in-memory head of the backlog, oldest first
        self._acked: set[int] = set()  # acknowledged (or dropped) but not yet at the front of _head
        self._sent = 0  # _head[:_sent] has been handed out in this session
        self._attempts: dict[int, int] = {}
        self._count = 0
        self._bytes = 0
        self._loaded_upto = 0
        self._drop_log = LogThrottle(DROP_LOG_INTERVAL)
        self._unsent = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()

    # --- counts and bounds ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._count

    @property
    def bytes(self) -> int:
        """The bytes (topics and payloads) of the messages waiting."""
        return self._bytes

    @property
    def in_memory(self) -> int:
        """How many waiting messages are in the head (the rest are in the unsaved tail or on disk)."""
        return len(self._head)

    @property
    def unsent_in_memory(self) -> int:
        """How many messages of the head are still to be handed out in this session."""
        return len(self._head) - self._sent

    @property
    def loaded_upto(self) -> int:
        """The highest seq that went into the head: paging reads back what is above it."""
        return self._loaded_upto

    def resume(self, rows: int, size: int) -> None:
        """Count what a previous run left on disk (none of it is in the head yet)."""
        self._count, self._bytes = rows, size
        if rows:
            self._empty.clear()

    def is_full(self, size: int) -> bool:
        """Whether a message of `size` bytes would go over `max_readings` or `max_bytes`."""
        settings = self._settings
        return self._count >= settings.max_readings or self._bytes + size > settings.max_bytes

    @property
    def rejects_new(self) -> bool:
        """Whether the on-full policy refuses newcomers (`reject_new`) rather than dropping the oldest."""
        return self._settings.on_full == "reject_new"

    def note_drop(self) -> None:
        """Count one message dropped or refused by the on-full policy, and say so (at most once a minute)."""
        self._stats.dropped += 1
        if (dropped := self._drop_log.count(time.monotonic())) is not None:
            log.warning(
                "outbox full: reading dropped",
                policy=self._settings.on_full,
                dropped_since_last_log=dropped,
                dropped_total=self._stats.dropped,
                waiting=self._count,
            )

    def admit(self, message: Message) -> None:
        """Count a new message (the storage decides whether it goes into the head now or waits in the tail)."""
        self._stats.accepted += 1
        self._count += 1
        self._bytes += message.size
        self._empty.clear()

    def discount(self, *, rows: int = 0, size: int = 0) -> None:
        """Stop counting rows or bytes of messages dropped outside the head (on disk or in the unsaved tail)."""
        self._count -= rows
        self._bytes -= size

    # --- the head -------------------------------------------------------------------------------------

    def push(self, message: Message) -> None:
        """Append the newest message to the head."""
        self._head.append(message)
        self._loaded_upto = message.seq
        self._unsent.set()

    def load(self, page: Iterable[Message], upto: int) -> None:
        """Append messages read back from disk; everything up to seq `upto` has been seen."""
        self._head.extend(page)
        self._loaded_upto = upto
        self._unsent.set()

    def oldest(self) -> Message | None:
        """The oldest message in the head (never one already acknowledged)."""
        return self._head[0] if self._head else None

    def is_gone(self, seq: int) -> bool:
        """Whether `seq` no longer waits in the head (acknowledged, dropped, quarantined) or never came into it."""
        head = self._head
        return not head or seq < head[0].seq or seq > self._loaded_upto or seq in self._acked

    def remove(self, message: Message, *, in_head: bool = True) -> None:
        """Forget a waiting message (acknowledged, dropped or quarantined); `in_head=False`: it was in the tail."""
        seq = message.seq
        self._count -= 1
        self._bytes -= message.size
        self._attempts.pop(seq, None)
        head = self._head
        if in_head and head and head[0].seq == seq:
            head.popleft()
            self._sent = max(0, self._sent - 1)
            while head and head[0].seq in self._acked:
                self._acked.discard(head.popleft().seq)
                self._sent = max(0, self._sent - 1)
        elif in_head:
            self._acked.add(seq)  # out of order: it leaves the head when everything before it has
        if self._count <= 0:
            self._empty.set()

    # --- the publisher's side -------------------------------------------------------------------------

    def take(self, may_send: Callable[[int], bool]) -> Message | None:
        """The next message not yet handed out in this session, if `may_send(seq)`; None clears the wake-up."""
        head = self._head
        while self._sent < len(head) and head[self._sent].seq in self._acked:
            self._sent += 1
        if self._sent < len(head) and may_send(head[self._sent].seq):
            self._sent += 1
            return head[self._sent - 1]
        self._unsent.clear()
        return None

    async def wait_unsent(self) -> None:
        """Return when `take` may have something new."""
        await self._unsent.wait()

    def wake(self) -> None:
        """Wake `wait_unsent`: there may be something to take."""
        self._unsent.set()

    def rewind(self) -> None:
        """Hand everything unacknowledged out again, oldest first (a new session)."""
        self._sent = 0
        self._unsent.set()

    def count_failure(self, message: Message, reason: str) -> bool:
        """One more failed attempt; True once it reaches `max_attempts` (counted as quarantined: remove it)."""
        attempts = self._attempts.get(message.seq, 0) + 1
        self._attempts[message.seq] = attempts
        if attempts < self._settings.max_attempts:
            return False
        log.error("reading quarantined after repeated failures", seq=message.seq, topic=message.topic, reason=reason)
        self._stats.quarantined += 1
        return True

    async def wait_empty(self) -> None:
        """Return once every waiting message has been acknowledged (or dropped)."""
        await self._empty.wait()
