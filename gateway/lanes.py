"""Two lanes to the broker: a control lane (output states, availability, Home Assistant configs) drained first,
then the durable outbox of readings.

A relay's state report must not wait behind thousands of buffered readings (on a slow broker that was minutes).
Every topic belongs to exactly one lane and each lane is FIFO, so nothing on one topic is ever reordered.
The control lane lives in memory: everything in it is published again after a restart anyway (the outputs'
initial states, availability at start, the Home Assistant announcement on every connection). It takes a
reading `seq` from the outbox for the readings it carries (output states), so `seq` stays one sequence.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Protocol

import structlog

from gateway.errors import InvalidReadingError
from gateway.logs import LogThrottle
from gateway.outbox import Message, Outbox
from gateway.reading import Reading
from gateway.stats import Stats

log = structlog.get_logger(component="lanes")

CONTROL_LIMIT = 1_000  # messages the control lane holds while the broker is away; the oldest go first
DROP_LOG_INTERVAL = 60.0


class ReadingSeqs(Protocol):
    """The durable outbox as the control lane sees it: reading seqs, and the drain's wake-up."""

    def reserve_reading_seq(self) -> int:
        """The next reading `seq`, never handed out before."""

    def wake(self) -> None:
        """Wake the drain waiting on the readings (one wait serves both lanes)."""


class ControlLane:
    """An in-memory FIFO of control messages with the outbox's take/ack/failed/rewind; it has no wait of its own:
    a new message wakes the readings' wait, which `Lanes.wait_unsent` serves for both."""

    def __init__(
        self,
        seqs: ReadingSeqs,
        stats: Stats,
        *,
        max_payload_bytes: int,
        max_attempts: int,
        limit: int = CONTROL_LIMIT,
    ) -> None:
        self._seqs = seqs
        self._stats = stats
        self._max_payload = max_payload_bytes
        self._max_attempts = max_attempts
        self._limit = limit
        self._queue: deque[Message] = deque()  # oldest first; _queue[:_sent] handed out in this session
        self._sent = 0
        self._next_id = 1
        self._attempts: dict[int, int] = {}
        self._empty = asyncio.Event()
        self._empty.set()
        self._drop_log = LogThrottle(DROP_LOG_INTERVAL)

    # --- the producers' side (a Sink) ---------------------------------------------------------------

    def put(self, topic: str, reading: Reading, qos: int, retain: bool) -> Message:
        """Queue a reading (an output's state) with the next reading `seq`."""
        payload = reading.payload(self._seqs.reserve_reading_seq())
        if len(payload) > self._max_payload:
            raise InvalidReadingError(reading.sensor, f"payload of {len(payload)} bytes over mqtt.max_payload_bytes")
        return self.put_raw(topic, payload, qos, retain)

    def put_raw(self, topic: str, payload: bytes, qos: int, retain: bool) -> Message:
        """Queue a message of our own (availability, a discovery config)."""
        message = Message(self._next_id, topic, payload, qos, retain, control=True)
        self._next_id += 1
        if len(self._queue) >= self._limit:
            self._drop_oldest()
        self._queue.append(message)
        self._stats.accepted += 1
        self._seqs.wake()
        self._empty.clear()
        return message

    # --- the publisher's side -----------------------------------------------------------------------

    def take(self) -> Message | None:
        """The next message to send in this session, or None (the drain then waits in `Lanes.wait_unsent`)."""
        if self._sent < len(self._queue):
            self._sent += 1
            return self._queue[self._sent - 1]
        return None

    @property
    def has_unsent(self) -> bool:
        """Whether `take` would hand out a message now."""
        return self._sent < len(self._queue)

    def rewind(self) -> None:
        """A new session: everything unacknowledged is handed out again, oldest first."""
        self._sent = 0
        if self._queue:
            self._seqs.wake()

    def ack(self, message: Message) -> None:
        """The broker has it: forget it."""
        self._remove(message)

    def failed(self, message: Message, reason: str) -> None:
        """One more failed attempt; after `max_attempts` the message is discarded (and counted quarantined)."""
        attempts = self._attempts[message.seq] = self._attempts.get(message.seq, 0) + 1
        if attempts < self._max_attempts or not self._remove(message):
            return
        self._stats.quarantined += 1
        log.error("control message discarded after repeated failures", topic=message.topic, reason=reason)

    def __len__(self) -> int:
        return len(self._queue)

    async def wait_empty(self) -> None:
        """Return once every message has been acknowledged."""
        await self._empty.wait()

    def _remove(self, message: Message) -> bool:
        self._attempts.pop(message.seq, None)
        try:
            index = self._queue.index(message)
        except ValueError:
            return False  # dropped while in flight
        del self._queue[index]
        if index < self._sent:
            self._sent -= 1
        if not self._queue:
            self._empty.set()
        return True

    def _drop_oldest(self) -> None:
        self._remove(self._queue[0])
        self._stats.dropped += 1
        if (dropped := self._drop_log.count(time.monotonic())) is not None:
            log.warning("control lane full: oldest message dropped", dropped_since_last_log=dropped, limit=self._limit)


class Lanes:
    """What the publisher drains: the control lane first, then the readings; each message acked to its own lane."""

    def __init__(self, control: ControlLane, readings: Outbox) -> None:
        # `control` must wake `readings` (it does when built on the same DurableOutbox).
        self.control = control
        self.readings = readings

    def take(self) -> Message | None:
        """The oldest control message not yet sent, else the oldest reading."""
        return self.control.take() or self.readings.take()

    async def wait_unsent(self) -> None:
        """Return when either lane may have something: the control lane wakes the readings' wait when it gets one,
        so one wait serves both (no task per wait on the hot path)."""
        if self.control.has_unsent:
            return
        await self.readings.wait_unsent()

    def rewind(self) -> None:
        """A new session for both lanes."""
        self.control.rewind()
        self.readings.rewind()

    def ack(self, message: Message) -> None:
        """Forget an acknowledged message in its lane."""
        (self.control if message.control else self.readings).ack(message)

    def failed(self, message: Message, reason: str) -> None:
        """Count a failed attempt in the message's lane."""
        (self.control if message.control else self.readings).failed(message, reason)

    def __len__(self) -> int:
        return len(self.control) + len(self.readings)

    async def wait_empty(self) -> None:
        """Return once both lanes are empty."""
        while len(self):
            await self.control.wait_empty()
            await self.readings.wait_empty()
