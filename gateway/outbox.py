"""The durable outbox between the sampler and the publisher: it assigns `seq`, stores, and never blocks.

`DurableOutbox` composes two parts with one job each: `OutboxQueue` (gateway.outbox_queue), the publisher's
view (what waits, in order, in flight, acknowledged, attempts, length, bytes and the on-full policy), and
`OutboxStorage` (gateway.outbox_storage), which keeps it in the SQLite file (`gateway.store`): group commits,
paging a long backlog back from disk (the bookkeeping of both: gateway.outbox_writeback), the seq marks
(gateway.outbox_seq), and memory-only mode while the disk cannot be written. This module assigns each message
its seq and applies the on-full policy, which needs both parts: the queue's counts, the storage's victims.

`seq` comes from a mark stored in the file ahead of use (`SEQ_BLOCK` numbers at a time): a message is only
handed out once its seq is below a durable mark, so a seq is never reused, even after power loss; a
crash leaves a gap of unused numbers. A clean stop records the exact mark (no gap).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from gateway.config import OutboxSection
from gateway.errors import InvalidReadingError
from gateway.outbox_queue import OutboxQueue
from gateway.outbox_seq import SEQ_BLOCK, SeqMarks
from gateway.outbox_storage import OutboxStorage
from gateway.outbox_writeback import MEMORY_ROWS, PAGE
from gateway.reading import Reading
from gateway.stats import Stats
from gateway.store import DB_FILE, Message, OutboxStore, read_summary

__all__ = ["DB_FILE", "MEMORY_ROWS", "SEQ_BLOCK", "DurableOutbox", "Message", "Outbox", "read_summary"]


class Outbox(Protocol):
    """What the publisher drains, in order: take, then ack (or fail) each message."""

    def take(self) -> Message | None:
        """The next message not yet handed out in this session, or None for now."""

    async def wait_unsent(self) -> None:
        """Return when `take` may have something."""

    def rewind(self) -> None:
        """A new session: everything unacknowledged is handed out again, oldest first."""

    def ack(self, message: Message) -> None:
        """The broker has the message: forget it."""

    def failed(self, message: Message, reason: str) -> None:
        """The broker refused the message (or it keeps killing the session): count towards quarantine."""

    def __len__(self) -> int:
        """How many readings wait."""

    async def wait_empty(self) -> None:
        """Return once every reading has been acknowledged."""


class DurableOutbox:
    """The outbox of one gateway run; `open()`, then `run()` as a task, then `close()`."""

    def __init__(self, state_dir: Path, stats: Stats, settings: OutboxSection, *, max_payload_bytes: int) -> None:
        self._max_payload = max_payload_bytes
        self._seqs = SeqMarks()
        self._queue = OutboxQueue(settings, stats)
        self._storage = OutboxStorage(OutboxStore(state_dir / DB_FILE), self._queue, self._seqs, settings, stats)

    # --- life cycle (the storage's) -----------------------------------------------------------------

    async def open(self) -> None:
        """Open the file (moving a corrupt one aside), reserve seq numbers, and find what waits."""
        await self._storage.open()

    async def run(self) -> None:
        """Group-commit until `stop()`: after `commit_interval` seconds, or at once when a batch is full."""
        await self._storage.run()

    async def commit_now(self) -> bool:
        """Write what is pending at once, as a full batch would be; False if storage failed."""
        return await self._storage.commit_now()

    def stop(self) -> None:
        """Let `run()` finish its current write and return (`close()` writes the rest)."""
        self._storage.stop()

    async def close(self) -> None:
        """Commit what is unsaved, record the exact seq mark, and close the file."""
        await self._storage.close()

    def abandon(self) -> None:
        """Close the file without writing anything more (what a crash leaves behind; for tests and tools)."""
        self._storage.abandon()

    @property
    def in_memory(self) -> int:
        """How many waiting messages are held in memory at the head of the backlog (the rest are on disk)."""
        return self._queue.in_memory

    # --- the sampler's side ---------------------------------------------------------------------------

    def put(self, topic: str, reading: Reading, qos: int, retain: bool) -> Message | None:
        """Store a reading with the next seq; None when the on-full policy rejected it."""
        payload = reading.payload(self._seqs.next_reading)
        if len(payload) > self._max_payload:
            raise InvalidReadingError(reading.sensor, f"payload of {len(payload)} bytes over mqtt.max_payload_bytes")
        return self._append(Message(self._seqs.next_seq, topic, payload, qos, retain), reading=True)

    def put_raw(self, topic: str, payload: bytes, qos: int, retain: bool) -> Message | None:
        """Store a message of our own (an availability `online`/`offline`), in order with the readings."""
        return self._append(Message(self._seqs.next_seq, topic, payload, qos, retain), reading=False)

    def reserve_reading_seq(self) -> int:
        """A reading `seq` for a reading sent outside the outbox (the control lane), never handed out again.

        It takes a row number too: the durable marks move with the rows, so they cover it as they cover ours.
        """
        return self._storage.reserve_reading_seq()

    def _append(self, message: Message, *, reading: bool) -> Message | None:
        if self._is_full(message.size):
            if self._queue.rejects_new:
                self._queue.note_drop()
                return None  # refused before it took a seq
            while self._is_full(message.size) and self._drop_oldest():
                self._queue.note_drop()
        self._seqs.advance(reading=reading)
        self._queue.admit(message)
        self._storage.add(message)
        return message

    def _is_full(self, size: int) -> bool:
        return self._queue.is_full(size) or self._storage.memory_full()

    def _drop_oldest(self) -> bool:
        """Drop one message to make room; False when there is nothing left to drop."""
        if (victim := self._storage.oldest_to_drop()) is not None:
            self._forget(victim)
            return True
        return self._storage.drop_from_disk()

    # --- the publisher's side -------------------------------------------------------------------------

    def take(self) -> Message | None:
        """The next message to send in this session, or None (then `wait_unsent`)."""
        message = self._queue.take(self._storage.covers)
        if message is None or self._queue.unsent_in_memory < PAGE // 2:
            self._storage.refill()
        return message

    async def wait_unsent(self) -> None:
        """Return when `take` may have something new."""
        await self._queue.wait_unsent()

    def wake(self) -> None:
        """Wake `wait_unsent` from outside (the control lane has something): the drain takes again."""
        self._queue.wake()

    def rewind(self) -> None:
        """Hand everything unacknowledged out again, oldest first (a new connection)."""
        self._queue.rewind()

    def ack(self, message: Message) -> None:
        """The broker has it: forget it (a row is deleted, or never written at all)."""
        if not self._queue.is_gone(message.seq):
            self._forget(message)

    def failed(self, message: Message, reason: str) -> None:
        """One more failed attempt; after `max_attempts` the message is quarantined and the rest move on."""
        if self._queue.is_gone(message.seq) or not self._queue.count_failure(message, reason):
            return
        self._storage.quarantine(message, reason)
        self._forget(message, store_delete=False)

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def bytes(self) -> int:
        """The bytes (topics and payloads) of the readings waiting."""
        return self._queue.bytes

    async def wait_empty(self) -> None:
        """Return once every reading has been acknowledged."""
        await self._queue.wait_empty()

    def _forget(self, message: Message, *, store_delete: bool = True) -> None:
        """Remove a waiting message (acknowledged, dropped or quarantined) from memory and, later, disk."""
        in_tail = self._storage.forget(message, store_delete=store_delete)
        self._queue.remove(message, in_head=not in_tail)
