"""The durable outbox between the sampler and the publisher: it assigns `seq`, stores, and never blocks.

Readings wait in memory at the head of the backlog (`_queue`, what the publisher takes from) and in the
SQLite file (`gateway.store`) behind it. A reading is published at once and written in a group commit
(at most `commit_readings` readings or `commit_interval` seconds); one acknowledged before its commit is
never written at all, so a connected gateway barely touches the SD card. A long backlog spills to disk
and is paged back in order. If the disk fails (full, read-only) the outbox keeps readings in memory
within `memory_readings`, says so, and retries.

`seq` comes from a mark stored in the file ahead of use (`SEQ_BLOCK` numbers at a time): a message is only
handed out once its seq is below a durable mark, so a seq is never reused, even after power loss; a
crash leaves a gap of unused numbers. A clean stop records the exact mark (no gap).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import Protocol, TypeVar

import structlog

from gateway.config import OutboxSection
from gateway.errors import InvalidReadingError
from gateway.logs import LogThrottle
from gateway.reading import Reading
from gateway.stats import Stats
from gateway.store import DB_FILE, Batch, Message, OutboxStore, StoredState, read_summary

log = structlog.get_logger(component="outbox")

SEQ_BLOCK = 10_000  # seq numbers reserved per durable mark
PAGE = 1_000  # messages read back from disk at a time
MEMORY_ROWS = 2 * PAGE  # beyond this many waiting in memory, new readings spill to disk
DROP_LOG_INTERVAL = 60.0
RETRY_INTERVAL = 5.0  # seconds between attempts to write again after a storage error
T = TypeVar("T")

__all__ = ["DB_FILE", "DurableOutbox", "Message", "Outbox", "read_summary"]


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
        self._store = OutboxStore(state_dir / DB_FILE)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self._settings = settings
        self._stats = stats
        self._max_payload = max_payload_bytes
        # The publisher's view: the head of the backlog, oldest first.
        self._queue: deque[Message] = deque()
        self._acked: set[int] = set()  # acknowledged (or dropped) but not yet at the head of _queue
        self._sent = 0  # _queue[:_sent] has been handed out in this session
        self._attempts: dict[int, int] = {}
        # Persistence.
        self._unsaved: dict[int, Message] = {}  # in _queue, not committed yet
        self._tail: deque[Message] = deque()  # newer than anything stored, not in _queue, not committed yet
        self._stored_beyond = 0  # committed rows newer than _queue, only on disk
        self._loaded_upto = 0  # highest seq that went into _queue
        self._deletes: list[int] = []
        self._quarantine: list[tuple[Message, str]] = []
        self._deferred_drops = 0  # oldest rows to drop from the next page read back
        self._page_wanted = False
        self._writable = False  # the file is open
        self._degraded = False  # the last write failed: memory bound, no seq-mark wait
        # Counters.
        self._count = 0
        self._bytes = 0
        self._next_seq = 1
        self._next_reading = 1  # the `seq` in reading payloads; other messages take none (no gaps for them)
        self._seq_mark = 1  # seqs below this are covered by a durable mark
        self._drop_log = LogThrottle(DROP_LOG_INTERVAL)
        # Wake-ups.
        self._work = asyncio.Event()
        self._urgent = asyncio.Event()
        self._unsent = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()
        self._stopping = False
        self._stop_requested = asyncio.Event()

    # --- life cycle ---------------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the file (moving a corrupt one aside), reserve seq numbers, and find what waits."""
        try:
            state = await self._in_thread(self._store.open)
        except Exception as exc:  # noqa: BLE001 - any storage failure falls back to memory
            await self._open_in_memory(exc)
            return
        if state.moved_aside is not None:
            log.error("outbox file was corrupt: moved aside, starting afresh", moved_to=str(state.moved_aside))
        self._adopt(state)
        self._writable = True
        await self._flush()  # records the first seq mark before anything can be published

    def _adopt(self, state: StoredState) -> None:
        self._next_seq = self._seq_mark = state.next_seq
        self._next_reading = state.next_reading
        self._count, self._bytes, self._stored_beyond = state.rows, state.bytes, state.rows
        self._stats.quarantined = state.quarantined
        if state.rows:
            self._empty.clear()
            self._page_wanted = True
            log.info("resuming from the outbox", waiting=state.rows, next_seq=state.next_seq)

    async def _open_in_memory(self, exc: Exception) -> None:
        # Without a readable file the last seq is unknown: start above any plausible one (epoch ms).
        summary = await self._in_thread(read_summary, self._store.path)
        self._next_seq = self._next_reading = max(summary[2] if summary else 1, int(time.time() * 1000))
        self._set_degraded(exc)
        log.error("cannot open the outbox file: readings kept in memory only", error=str(exc), next_seq=self._next_seq)

    async def run(self) -> None:
        """Group-commit until `stop()`: after `commit_interval` seconds, or at once when a batch is full."""
        while not self._stopping:
            await self._work.wait()
            if not self._urgent.is_set():
                with suppress(TimeoutError):
                    async with asyncio.timeout(self._settings.commit_interval):
                        await self._urgent.wait()
            self._work.clear()
            self._urgent.clear()
            if not await self._flush() and not self._stopping:
                self._work.set()  # what failed is still pending: try again after a pause
                with suppress(TimeoutError):
                    async with asyncio.timeout(RETRY_INTERVAL):
                        await self._stop_requested.wait()

    async def commit_now(self) -> bool:
        """Write what is pending at once, as a full batch would be; False if storage failed."""
        return await self._flush()

    def abandon(self) -> None:
        """Close the file without writing anything more (what a crash leaves behind; for tests and tools)."""
        self._store.close_quietly()
        self._thread.shutdown(wait=False)

    @property
    def in_memory(self) -> int:
        """How many waiting messages are held in memory at the head of the backlog (the rest are on disk)."""
        return len(self._queue)

    def stop(self) -> None:
        """Let `run()` finish its current write and return (`close()` writes the rest)."""
        self._stopping = True
        self._stop_requested.set()
        self._work.set()
        self._urgent.set()

    async def close(self) -> None:
        """Commit what is unsaved, record the exact seq mark, and close the file."""
        try:
            if self._writable and await self._flush():
                await self._in_thread(self._store.close, self._next_seq, self._next_reading)
            if self._unsaved or self._tail:
                log.error("stopping with readings that could not be stored", lost=len(self._unsaved) + len(self._tail))
        except Exception as exc:  # noqa: BLE001 - a failing disk at exit must not hide the rest of the shutdown
            log.error("cannot close the outbox file", error=str(exc))
        finally:
            self._store.close_quietly()
            self._thread.shutdown(wait=False)

    # --- the sampler's side ---------------------------------------------------------------------------

    def put(self, topic: str, reading: Reading, qos: int, retain: bool) -> Message | None:
        """Store a reading with the next seq; None when the on-full policy rejected it."""
        payload = reading.payload(self._next_reading)
        if len(payload) > self._max_payload:
            raise InvalidReadingError(reading.sensor, f"payload of {len(payload)} bytes over mqtt.max_payload_bytes")
        stored = self._append(Message(self._next_seq, topic, payload, qos, retain))
        if stored is not None:
            self._next_reading += 1
        return stored

    def put_raw(self, topic: str, payload: bytes, qos: int, retain: bool) -> Message | None:
        """Store a message of our own (an availability `online`/`offline`), in order with the readings."""
        return self._append(Message(self._next_seq, topic, payload, qos, retain))

    def reserve_reading_seq(self) -> int:
        """A reading `seq` for a reading sent outside the outbox (the control lane), never handed out again.

        It takes a row number too: the durable marks move with the rows, so they cover it as they cover ours.
        """
        seq = self._next_reading
        self._next_reading += 1
        self._next_seq += 1
        if self._mark_low():
            self._urgent.set()
            self._work.set()
        return seq

    def _append(self, message: Message) -> Message | None:
        seq = message.seq
        if self._is_full(message.size):
            if self._settings.on_full == "reject_new":
                self._note_drop()
                return None
            while self._is_full(message.size) and self._drop_oldest():
                self._note_drop()
        self._next_seq = seq + 1
        self._stats.accepted += 1
        self._count += 1
        self._bytes += message.size
        self._empty.clear()
        if self._tail or self._stored_beyond or (len(self._queue) >= MEMORY_ROWS and self._durable):
            self._tail.append(message)
        else:
            self._enqueue(message)
        self._work.set()
        if len(self._unsaved) + len(self._tail) >= self._settings.commit_readings or self._mark_low():
            self._urgent.set()
        return message

    def _is_full(self, size: int) -> bool:
        settings = self._settings
        if self._count >= settings.max_readings or self._bytes + size > settings.max_bytes:
            return True
        return not self._durable and len(self._unsaved) + len(self._tail) >= settings.memory_readings

    @property
    def _durable(self) -> bool:
        return self._writable and not self._degraded

    def _drop_oldest(self) -> bool:
        """Drop one reading to make room; False when there is nothing left to drop."""
        if not self._durable:  # make room in memory: the oldest reading not on disk
            victim = next(iter(self._unsaved.values()), None) or (self._tail[0] if self._tail else None)
        else:
            victim = self._queue[0] if self._queue else None
            if victim is None and self._stored_beyond:
                # The oldest rows are only on disk: drop them from the next page read back.
                self._stored_beyond -= 1
                self._count -= 1
                self._deferred_drops += 1
                self._want_page()
                return True
            victim = victim or (self._tail[0] if self._tail else None)
        if victim is None:
            return False
        self._forget(victim)
        return True

    def _note_drop(self) -> None:
        self._stats.dropped += 1
        if (dropped := self._drop_log.count(time.monotonic())) is not None:
            log.warning(
                "outbox full: reading dropped",
                policy=self._settings.on_full,
                dropped_since_last_log=dropped,
                dropped_total=self._stats.dropped,
                waiting=self._count,
            )

    # --- the publisher's side -------------------------------------------------------------------------

    def take(self) -> Message | None:
        """The next message to send in this session, or None (then `wait_unsent`)."""
        queue = self._queue
        while self._sent < len(queue):
            message = queue[self._sent]
            if message.seq in self._acked:
                self._sent += 1
                continue
            if message.seq >= self._seq_mark and self._durable:
                self._urgent.set()  # not covered by a durable seq mark yet: commit one first
                self._work.set()
                break
            self._sent += 1
            if len(queue) - self._sent < PAGE // 2:
                self._refill()
            return message
        self._unsent.clear()
        self._refill()
        return None

    async def wait_unsent(self) -> None:
        """Return when `take` may have something new."""
        await self._unsent.wait()

    def wake(self) -> None:
        """Wake `wait_unsent` from outside (the control lane has something): the drain takes again."""
        self._unsent.set()

    def rewind(self) -> None:
        """Hand everything unacknowledged out again, oldest first (a new connection)."""
        self._sent = 0
        self._unsent.set()

    def ack(self, message: Message) -> None:
        """The broker has it: forget it (a row is deleted, or never written at all)."""
        if self._is_gone(message.seq):
            return
        self._forget(message)

    def failed(self, message: Message, reason: str) -> None:
        """One more failed attempt; after `max_attempts` the message is quarantined and the rest move on."""
        if self._is_gone(message.seq):
            return
        attempts = self._attempts.get(message.seq, 0) + 1
        self._attempts[message.seq] = attempts
        if attempts < self._settings.max_attempts:
            return
        log.error("reading quarantined after repeated failures", seq=message.seq, topic=message.topic, reason=reason)
        self._stats.quarantined += 1
        self._unsaved.pop(message.seq, None)
        self._forget(message, store_delete=False)
        self._quarantine.append((message, reason))
        self._urgent.set()
        self._work.set()

    def __len__(self) -> int:
        return self._count

    @property
    def bytes(self) -> int:
        """The bytes (topics and payloads) of the readings waiting."""
        return self._bytes

    async def wait_empty(self) -> None:
        """Return once every reading has been acknowledged."""
        await self._empty.wait()

    # --- bookkeeping ------------------------------------------------------------------------------------

    def _enqueue(self, message: Message) -> None:
        self._queue.append(message)
        self._unsaved[message.seq] = message
        self._loaded_upto = message.seq
        self._unsent.set()

    def _is_gone(self, seq: int) -> bool:
        queue = self._queue
        return not queue or seq < queue[0].seq or seq > self._loaded_upto or seq in self._acked

    def _forget(self, message: Message, *, store_delete: bool = True) -> None:
        """Remove a waiting message (acknowledged, dropped or quarantined) from memory and, later, disk."""
        seq = message.seq
        self._count -= 1
        self._bytes -= message.size
        self._attempts.pop(seq, None)
        if self._unsaved.pop(seq, None) is None and store_delete and seq <= self._loaded_upto:
            self._deletes.append(seq)
            self._work.set()
        queue = self._queue
        if queue and queue[0].seq == seq:
            queue.popleft()
            self._sent = max(0, self._sent - 1)
            while queue and queue[0].seq in self._acked:
                self._acked.discard(queue.popleft().seq)
                self._sent = max(0, self._sent - 1)
        elif self._tail and self._tail[0].seq == seq:
            self._tail.popleft()
        else:
            self._acked.add(seq)
        if self._count <= 0:
            self._empty.set()

    def _refill(self) -> None:
        """Top the in-memory head up: straight from the unsaved tail, or by reading a page from disk."""
        if self._stored_beyond or self._deferred_drops:
            self._want_page()
            return
        while self._tail and len(self._queue) < MEMORY_ROWS:
            self._enqueue(self._tail.popleft())

    def _want_page(self) -> None:
        if not self._page_wanted:
            self._page_wanted = True
            self._urgent.set()
            self._work.set()

    def _mark_low(self) -> bool:
        return self._writable and self._next_seq + SEQ_BLOCK // 2 > self._seq_mark

    # --- writing --------------------------------------------------------------------------------------

    async def _flush(self) -> bool:
        """Write what changed (and read a page back if one is wanted); False if storage failed."""
        if not self._writable:
            return True
        inserts = list(self._unsaved.values())
        tail = list(self._tail)
        deletes, quarantine = self._deletes, self._quarantine
        mark = self._next_seq + SEQ_BLOCK if self._mark_low() or self._seq_mark == self._next_seq else None
        self._unsaved, self._deletes, self._quarantine = {}, [], []
        self._tail.clear()
        self._stored_beyond += len(tail)
        page_after = self._loaded_upto if self._page_wanted else None
        self._page_wanted = False
        # The readings' mark moves with the row mark: readings are a subset of rows, so a reading handed out
        # under a durable row mark is under its durable reading mark too.
        reading_mark = self._next_reading + SEQ_BLOCK if mark is not None else None
        batch = Batch([*inserts, *tail], deletes, quarantine, mark, reading_mark)
        try:
            page = await self._in_thread(self._write_and_load, batch, page_after)
        except Exception as exc:  # noqa: BLE001 - full disk, read-only file system, I/O error
            self._undo(inserts, tail, deletes, quarantine, page_after)
            self._set_degraded(exc)
            return False
        if mark is not None:
            self._seq_mark = mark
            self._unsent.set()
        if self._degraded:
            log.warning("storage works again: the outbox is durable again", waiting=self._count)
            self._degraded = False
            self._stats.storage = "ok"
        if page is not None:
            self._take_page(page)
        return True

    def _write_and_load(self, batch: Batch, page_after: int | None) -> list[Message] | None:
        self._store.write(batch)
        return None if page_after is None else self._store.load(page_after, PAGE)

    def _undo(
        self,
        inserts: list[Message],
        tail: list[Message],
        deletes: list[int],
        quarantine: list[tuple[Message, str]],
        page_after: int | None,
    ) -> None:
        """A write failed: everything it carried is pending again, and nothing of the tail was stored."""
        self._unsaved = {m.seq: m for m in inserts if not self._is_gone(m.seq)} | self._unsaved
        self._deletes = deletes + self._deletes
        self._quarantine = quarantine + self._quarantine
        self._stored_beyond -= len(tail)
        if self._stored_beyond < 0:
            # Drops deferred to the disk rows in fact fell on the tail that was never stored.
            eaten, self._stored_beyond = -self._stored_beyond, 0
            self._deferred_drops -= eaten
            self._bytes -= sum(m.size for m in tail[:eaten])
            tail = tail[eaten:]
        self._tail.extendleft(reversed(tail))
        self._page_wanted = self._page_wanted or page_after is not None

    def _take_page(self, page: list[Message]) -> None:
        """Messages read back from disk join the in-memory head (after the deferred drops take theirs)."""
        page = [m for m in page if m.seq > self._loaded_upto]
        victims = page[: self._deferred_drops]
        page = page[len(victims) :]
        self._deferred_drops -= len(victims)
        self._deletes.extend(m.seq for m in victims)
        self._bytes -= sum(m.size for m in victims)
        self._queue.extend(page)
        self._stored_beyond = max(0, self._stored_beyond - len(page))
        if victims or page:
            self._loaded_upto = (page or victims)[-1].seq
            self._unsent.set()
        if len(victims) + len(page) < PAGE:
            self._stored_beyond = 0  # everything stored has been read back
            self._drop_from_tail()
        if self._stored_beyond or self._deferred_drops:
            self._want_page()
        else:
            self._refill()

    def _drop_from_tail(self) -> None:
        while self._deferred_drops and self._tail:
            victim = self._tail.popleft()
            self._bytes -= victim.size
            self._deferred_drops -= 1
        self._deferred_drops = 0

    def _set_degraded(self, exc: Exception) -> None:
        reason = f"memory only: {exc}"
        self._degraded = True
        if self._stats.storage != reason:
            log.error(
                "cannot write the outbox file: keeping new readings in memory and retrying",
                error=str(exc),
                memory_limit=self._settings.memory_readings,
            )
        self._stats.storage = reason

    async def _in_thread(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)
