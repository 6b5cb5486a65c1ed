"""The outbox's write-back bookkeeping: what the file does not reflect yet, and what only the file holds.

No I/O here (`gateway.outbox_storage` does the writing): messages in the queue's head not committed yet
(`unsaved`), newer ones waiting behind the head (the tail, which spills to disk), rows to delete or to
quarantine, and how many committed rows are only on disk, to be paged back into the head in order. A drop
that falls on a row only on disk is deferred until the page holding it is read back.
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextlib import suppress
from dataclasses import dataclass

from gateway.config import OutboxSection
from gateway.outbox_queue import OutboxQueue
from gateway.outbox_seq import Marks
from gateway.store import Batch, Message

PAGE = 1_000  # messages read back from disk at a time
MEMORY_ROWS = 2 * PAGE  # beyond this many waiting in the head, new messages wait in the tail and spill to disk


class CommitRequests:
    """Requests to the group-commit loop: a commit `soon` (within `commit_interval`) or `now`."""

    def __init__(self) -> None:
        self._work = asyncio.Event()
        self._urgent = asyncio.Event()

    def soon(self) -> None:
        """Something changed: commit within `commit_interval`."""
        self._work.set()

    def now(self) -> None:
        """Commit at once (a full batch, a seq mark or a page is wanted, or stopping)."""
        self._urgent.set()
        self._work.set()

    async def due(self, interval: float) -> None:
        """Return when a commit is due: at once when urgent, else `interval` after the first request."""
        await self._work.wait()
        if not self._urgent.is_set():
            with suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._urgent.wait()
        self._work.clear()
        self._urgent.clear()


@dataclass(frozen=True, slots=True)
class Pending:
    """One commit's worth of changes, taken out of the write-back (and put back if the write fails)."""

    batch: Batch
    from_head: int  # batch.inserts[:from_head] were unsaved in the head, the rest was the tail
    page_after: int | None  # read a page back above this seq, if one is wanted


class WriteBack:
    """Tracks, for the queue's backlog, what must still be written and what must be read back."""

    def __init__(self, queue: OutboxQueue, settings: OutboxSection, requests: CommitRequests) -> None:
        self._queue, self._settings, self._requests = queue, settings, requests
        self._unsaved: dict[int, Message] = {}  # in the queue's head, not committed yet
        self._tail: deque[Message] = deque()  # newer than anything stored, not in the head, not committed yet
        self._stored_beyond = 0  # committed rows newer than the head, only on disk
        self._deletes: list[int] = []
        self._quarantine: list[tuple[Message, str]] = []
        self._deferred_drops = 0  # oldest rows to drop from the next page read back
        self._page_wanted = False

    @property
    def unstored(self) -> int:
        """How many waiting messages are in memory only (not committed)."""
        return len(self._unsaved) + len(self._tail)

    def resume(self, rows: int) -> None:
        """A previous run left `rows` on disk: page them back first."""
        self._stored_beyond = rows
        self._page_wanted = self._page_wanted or rows > 0

    def add(self, message: Message, *, durable: bool) -> None:
        """Keep a new message until it is committed: in the head, or in the tail behind older rows on disk
        (and, while the disk works, behind a full head)."""
        if self._tail or self._stored_beyond or (self._queue.in_memory >= MEMORY_ROWS and durable):
            self._tail.append(message)
        else:
            self._enqueue(message)

    def oldest_to_drop(self, *, durable: bool) -> Message | None:
        """What drop_oldest discards: the oldest not on disk if the disk fails, else the oldest waiting;
        None when that one is only on disk (see `drop_from_disk`) or nothing waits."""
        if not durable:
            return next(iter(self._unsaved.values()), None) or (self._tail[0] if self._tail else None)
        if (oldest := self._queue.oldest()) is not None or self._stored_beyond:
            return oldest
        return self._tail[0] if self._tail else None

    def drop_from_disk(self) -> bool:
        """Drop the oldest row only on disk, once it is read back; False if there is none."""
        if not self._stored_beyond:
            return False
        self._stored_beyond -= 1
        self._queue.discount(rows=1)  # its bytes are known once the page holding it is read back
        self._deferred_drops += 1
        self._want_page()
        return True

    def forget(self, message: Message, *, store_delete: bool = True) -> bool:
        """A message no longer waits: delete its row later (if it has one); True if it was in the tail."""
        seq = message.seq
        if self._unsaved.pop(seq, None) is None and store_delete and seq <= self._queue.loaded_upto:
            self._deletes.append(seq)
            self._requests.soon()
        if self._tail and self._tail[0].seq == seq:
            self._tail.popleft()
            return True
        return False

    def quarantine(self, message: Message, reason: str) -> None:
        """Move a message to the quarantine table with a commit now (`forget` it too)."""
        self._unsaved.pop(message.seq, None)
        self._quarantine.append((message, reason))
        self._requests.now()

    def refill(self) -> None:
        """Top the head up: straight from the tail, or by asking for a page from disk."""
        if self._stored_beyond or self._deferred_drops:
            self._want_page()
            return
        while self._tail and self._queue.in_memory < MEMORY_ROWS:
            self._enqueue(self._tail.popleft())

    def take(self, marks: Marks | None) -> Pending:
        """Everything to write now, with `marks`; from here on the tail counts as stored."""
        inserts, tail = list(self._unsaved.values()), list(self._tail)
        rows, readings = (marks.rows, marks.readings) if marks else (None, None)
        batch = Batch([*inserts, *tail], self._deletes, self._quarantine, rows, readings)
        pending = Pending(batch, len(inserts), self._queue.loaded_upto if self._page_wanted else None)
        self._unsaved, self._deletes, self._quarantine, self._page_wanted = {}, [], [], False
        self._tail.clear()
        self._stored_beyond += len(tail)
        return pending

    def undo(self, pending: Pending) -> None:
        """The write failed: everything it carried is pending again, and nothing of the tail was stored."""
        batch = pending.batch
        inserts, tail = batch.inserts[: pending.from_head], list(batch.inserts[pending.from_head :])
        self._unsaved = {m.seq: m for m in inserts if not self._queue.is_gone(m.seq)} | self._unsaved
        self._deletes = [*batch.deletes, *self._deletes]
        self._quarantine = [*batch.quarantine, *self._quarantine]
        self._stored_beyond -= len(tail)
        if self._stored_beyond < 0:
            # Drops deferred to the disk rows in fact fell on the tail that was never stored.
            eaten, self._stored_beyond = -self._stored_beyond, 0
            self._deferred_drops -= eaten
            self._queue.discount(size=sum(m.size for m in tail[:eaten]))
            tail = tail[eaten:]
        self._tail.extendleft(reversed(tail))
        self._page_wanted = self._page_wanted or pending.page_after is not None

    def take_page(self, page: list[Message]) -> None:
        """Messages read back from disk join the head (after the deferred drops take theirs)."""
        page = [m for m in page if m.seq > self._queue.loaded_upto]
        victims = page[: self._deferred_drops]
        page = page[len(victims) :]
        self._deferred_drops -= len(victims)
        self._deletes.extend(m.seq for m in victims)
        self._queue.discount(size=sum(m.size for m in victims))
        self._stored_beyond = max(0, self._stored_beyond - len(page))
        if victims or page:
            self._queue.load(page, (page or victims)[-1].seq)
        if len(victims) + len(page) < PAGE:
            self._stored_beyond = 0  # everything stored has been read back
            self._drop_from_tail()
        if self._stored_beyond or self._deferred_drops:
            self._want_page()
        else:
            self.refill()

    def _enqueue(self, message: Message) -> None:
        self._queue.push(message)
        self._unsaved[message.seq] = message

    def _want_page(self) -> None:
        if not self._page_wanted:
            self._page_wanted = True
            self._requests.now()

    def _drop_from_tail(self) -> None:
        while self._deferred_drops and self._tail:
            self._queue.discount(size=self._tail.popleft().size)
            self._deferred_drops -= 1
        self._deferred_drops = 0
