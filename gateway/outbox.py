"""The outbox between the sampler and the publisher: it assigns `seq` and never blocks the sampler.

This is the bounded in-memory outbox; the durable SQLite outbox implements the same `Outbox` protocol.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Literal, Protocol

from gateway.reading import Reading
from gateway.sequence import SequenceCounter
from gateway.stats import Stats


@dataclass(frozen=True, slots=True)
class Message:
    """A stored reading, ready to publish: its `seq` is fixed, so a resend carries the same one."""

    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


class Outbox(Protocol):
    """What the sampler puts into and the publisher drains, in order."""

    def put(self, topic: str, reading: Reading, qos: int, retain: bool) -> Message | None:
        """Store a reading (assigning its seq); None when the on-full policy rejected it."""

    async def head(self) -> Message:
        """The oldest unacknowledged message, waiting until there is one."""

    def ack(self, message: Message) -> None:
        """The broker has the message: forget it."""

    def __len__(self) -> int:
        """How many messages wait."""

    async def wait_empty(self) -> None:
        """Return once every message has been acknowledged."""


class MemoryOutbox:
    """A bounded FIFO in memory: `drop_oldest` or `reject_new` when full, every drop counted."""

    def __init__(
        self,
        sequence: SequenceCounter,
        stats: Stats,
        *,
        max_readings: int,
        on_full: Literal["drop_oldest", "reject_new"],
    ) -> None:
        self._queue: deque[Message] = deque()
        self._sequence = sequence
        self._stats = stats
        self._max = max_readings
        self._on_full = on_full
        self._not_empty = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()

    def put(self, topic: str, reading: Reading, qos: int, retain: bool) -> Message | None:
        """Store a reading; when full, drop the oldest or reject this one as configured."""
        if len(self._queue) >= self._max:
            self._stats.dropped += 1
            if self._on_full == "reject_new":
                return None
            self._queue.popleft()
        seq = self._sequence.take()
        message = Message(seq, topic, reading.payload(seq), qos, retain)
        self._queue.append(message)
        self._not_empty.set()
        self._empty.clear()
        return message

    async def head(self) -> Message:
        """The oldest message, waiting for one if the outbox is empty."""
        while not self._queue:
            self._not_empty.clear()
            await self._not_empty.wait()
        return self._queue[0]

    def ack(self, message: Message) -> None:
        """Remove `message` if it is still the oldest (drop_oldest may have discarded it meanwhile)."""
        if self._queue and self._queue[0] is message:
            self._queue.popleft()
        if not self._queue:
            self._empty.set()

    def __len__(self) -> int:
        return len(self._queue)

    async def wait_empty(self) -> None:
        """Return once every message has been acknowledged."""
        await self._empty.wait()
