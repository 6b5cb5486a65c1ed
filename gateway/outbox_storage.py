"""The outbox's persistence: group commits to the SQLite file, paging back, seq marks, and memory-only mode.

A new message joins the head of `OutboxQueue` (published at once) and is written in a group commit (at most
`commit_readings` messages or `commit_interval` seconds later); one acknowledged before its commit is never
written at all. What is to be written and read back is `WriteBack`'s bookkeeping (gateway.outbox_writeback);
this class writes it on its own thread, records the seq marks (gateway.outbox_seq), and when the disk fails
(full, read-only) keeps messages in memory within `memory_readings`, says so in `stats.storage`, and retries
every `RETRY_INTERVAL` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import Protocol, TypeVar

import structlog

from gateway.config import OutboxSection
from gateway.outbox_queue import OutboxQueue
from gateway.outbox_seq import Marks, SeqMarks
from gateway.outbox_writeback import PAGE, CommitRequests, Pending, WriteBack
from gateway.stats import Stats
from gateway.store import Batch, Message, StoredState, read_summary

log = structlog.get_logger(component="outbox")

RETRY_INTERVAL = 5.0  # seconds between attempts to write again after a storage error
T = TypeVar("T")


class Store(Protocol):
    """The file behind the outbox (`gateway.store.OutboxStore`); blocking, called from the writer thread only."""

    path: Path

    def open(self) -> StoredState:
        """Open (or create) the file and report what it holds."""

    def write(self, batch: Batch) -> None:
        """Apply one batch in one transaction."""

    def load(self, after_seq: int, limit: int) -> list[Message]:
        """Up to `limit` stored messages above `after_seq`, oldest first."""

    def close(self, next_seq: int | None, next_reading: int | None = None) -> None:
        """Record the exact seq marks and close."""

    def close_quietly(self) -> None:
        """Close without writing anything."""


class OutboxStorage:
    """Keeps the queue's messages on disk: `open()`, then `run()` as a task, then `stop()` and `close()`."""

    def __init__(self, store: Store, queue: OutboxQueue, seqs: SeqMarks, settings: OutboxSection, stats: Stats) -> None:
        self._store = store
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self._queue, self._seqs, self._settings, self._stats = queue, seqs, settings, stats
        self._requests = CommitRequests()
        self._writeback = WriteBack(queue, settings, self._requests)
        self._writable = False  # the file is open
        self._degraded = False  # the last write failed: memory bound, no seq-mark wait
        self._stop_requested = asyncio.Event()
        self._stopping = False

    # --- life cycle ---------------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the file (moving a corrupt one aside), reserve seq numbers, and count what waits."""
        try:
            state = await self._in_thread(self._store.open)
        except Exception as exc:  # noqa: BLE001 - any storage failure falls back to memory
            await self._open_in_memory(exc)
            return
        if state.moved_aside is not None:
            log.error("outbox file was corrupt: moved aside, starting afresh", moved_to=str(state.moved_aside))
        self._seqs.resume(state.next_seq, state.next_reading)
        self._queue.resume(state.rows, state.bytes)
        self._writeback.resume(state.rows)
        self._stats.quarantined = state.quarantined
        if state.rows:
            log.info("resuming from the outbox", waiting=state.rows, next_seq=state.next_seq)
        self._writable = True
        await self._flush()  # records the first seq mark before anything can be published

    async def _open_in_memory(self, exc: Exception) -> None:
        # Without a readable file the last seq is unknown: start above any plausible one (epoch ms).
        summary = await self._in_thread(read_summary, self._store.path)
        self._seqs.start_above(max(summary[2] if summary else 1, int(time.time() * 1000)))
        self._set_degraded(exc)
        log.error(
            "cannot open the outbox file: readings kept in memory only", error=str(exc), next_seq=self._seqs.next_seq
        )

    async def run(self) -> None:
        """Group-commit until `stop()`: after `commit_interval` seconds, or at once when a batch is full."""
        while not self._stopping:
            await self._requests.due(self._settings.commit_interval)
            if not await self._flush() and not self._stopping:
                self._requests.soon()  # what failed is still pending: try again after a pause
                with suppress(TimeoutError):
                    async with asyncio.timeout(RETRY_INTERVAL):
                        await self._stop_requested.wait()

    async def commit_now(self) -> bool:
        """Write what is pending at once, as a full batch would be; False if storage failed."""
        return await self._flush()

    def stop(self) -> None:
        """Let `run()` finish its current write and return (`close()` writes the rest)."""
        self._stopping = True
        self._stop_requested.set()
        self._requests.now()

    async def close(self) -> None:
        """Commit what is unsaved, record the exact seq marks, and close the file."""
        try:
            if self._writable and await self._flush():
                await self._in_thread(self._store.close, self._seqs.next_seq, self._seqs.next_reading)
            if lost := self._writeback.unstored:
                log.error("stopping with readings that could not be stored", lost=lost)
        except Exception as exc:  # noqa: BLE001 - a failing disk at exit must not hide the rest of the shutdown
            log.error("cannot close the outbox file", error=str(exc))
        finally:
            self.abandon()

    def abandon(self) -> None:
        """Close the file without writing anything more (what a crash leaves behind)."""
        self._store.close_quietly()
        self._thread.shutdown(wait=False)

    # --- what comes in and goes out -----------------------------------------------------------------

    @property
    def durable(self) -> bool:
        """Whether new messages reach the disk (the file is open and the last write worked)."""
        return self._writable and not self._degraded

    def memory_full(self) -> bool:
        """Whether memory-only mode already holds `memory_readings` messages: the outbox is full."""
        return not self.durable and self._writeback.unstored >= self._settings.memory_readings

    def add(self, message: Message) -> None:
        """Keep a new message (counted, with its seq) for the next group commit; a full batch commits now."""
        self._writeback.add(message, durable=self.durable)
        if self._writeback.unstored >= self._settings.commit_readings or self._mark_low():
            self._requests.now()
        else:
            self._requests.soon()

    def reserve_reading_seq(self) -> int:
        """A reading seq for a reading sent outside the outbox; a low mark is recorded now."""
        seq = self._seqs.reserve_reading()
        if self._mark_low():
            self._requests.now()
        return seq

    def covers(self, seq: int) -> bool:
        """Whether the message with `seq` may be handed out; if its seq mark is not durable yet, commit one."""
        if self._seqs.covers(seq) or not self.durable:
            return True
        self._requests.now()
        return False

    def oldest_to_drop(self) -> Message | None:
        """What drop_oldest discards, if it is in memory (else `drop_from_disk`)."""
        return self._writeback.oldest_to_drop(durable=self.durable)

    def drop_from_disk(self) -> bool:
        """Drop the oldest row only on disk, once it is read back; False if there is none."""
        return self.durable and self._writeback.drop_from_disk()

    def forget(self, message: Message, *, store_delete: bool = True) -> bool:
        """A message no longer waits: delete its row later (if it has one); True if it was in the tail."""
        return self._writeback.forget(message, store_delete=store_delete)

    def quarantine(self, message: Message, reason: str) -> None:
        """Move a message to the quarantine table with a commit now (`forget` it too)."""
        self._writeback.quarantine(message, reason)

    def refill(self) -> None:
        """Top the queue's head up: from the tail, or by reading a page back from disk."""
        self._writeback.refill()

    def _mark_low(self) -> bool:
        return self._writable and self._seqs.low()

    # --- writing --------------------------------------------------------------------------------------

    async def _flush(self) -> bool:
        """Write what changed (and read a page back if one is wanted); False if storage failed."""
        if not self._writable:
            return True
        marks = self._seqs.due()
        pending = self._writeback.take(marks)
        try:
            page = await self._in_thread(self._write_and_load, pending)
        except Exception as exc:  # noqa: BLE001 - full disk, read-only file system, I/O error
            self._writeback.undo(pending)
            self._set_degraded(exc)
            return False
        self._written(marks)
        if page is not None:
            self._writeback.take_page(page)
        return True

    def _write_and_load(self, pending: Pending) -> list[Message] | None:
        self._store.write(pending.batch)
        return None if pending.page_after is None else self._store.load(pending.page_after, PAGE)

    def _written(self, marks: Marks | None) -> None:
        if marks is not None:
            self._seqs.recorded(marks)
            self._queue.wake()  # messages held back for want of a durable mark may go now
        if self._degraded:
            log.warning("storage works again: the outbox is durable again", waiting=len(self._queue))
            self._degraded = False
            self._stats.storage = "ok"

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
