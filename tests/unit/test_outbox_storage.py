"""The outbox's persistence (gateway.outbox_storage) against a fake file in memory: commits, marks, faults."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from gateway.config import OutboxSection
from gateway.outbox_queue import OutboxQueue
from gateway.outbox_seq import SEQ_BLOCK, SeqMarks
from gateway.outbox_storage import OutboxStorage
from gateway.stats import Stats
from gateway.store import Batch, Message, StoredState


class FakeStore:
    """An outbox file in memory; `failure` makes every open or write raise it (a full or read-only disk)."""

    def __init__(self, path: Path, rows: tuple[Message, ...] = ()) -> None:
        self.path = path
        self.rows = {m.seq: m for m in rows}
        self.quarantined: dict[int, str] = {}
        self.marks: tuple[int | None, int | None] = (None, None)
        self.failure: Exception | None = None
        self.open_files = 0

    def open(self) -> StoredState:
        """Report the rows, as the real file would."""
        self._maybe_fail()
        self.open_files += 1
        size = sum(m.size for m in self.rows.values())
        return StoredState(max(self.rows, default=0) + 1, len(self.rows), size, 0, None)

    def write(self, batch: Batch) -> None:
        """Apply a batch."""
        self._maybe_fail()
        self.rows |= {m.seq: m for m in batch.inserts}
        for message, reason in batch.quarantine:
            self.quarantined[message.seq] = reason
            self.rows.pop(message.seq, None)
        for seq in batch.deletes:
            self.rows.pop(seq, None)
        if batch.next_seq is not None:
            self.marks = (batch.next_seq, batch.next_reading)

    def load(self, after_seq: int, limit: int) -> list[Message]:
        """Rows above `after_seq`, oldest first."""
        return [self.rows[seq] for seq in sorted(self.rows) if seq > after_seq][:limit]

    def close(self, next_seq: int | None, next_reading: int | None = None) -> None:
        """Record the exact marks and close."""
        self.write(Batch(next_seq=next_seq, next_reading=next_reading))
        self.close_quietly()

    def close_quietly(self) -> None:
        """Close."""
        self.open_files = 0

    def _maybe_fail(self) -> None:
        if self.failure is not None:
            raise self.failure


class StorageParts:
    """The storage with its queue and seqs, and the facade's put (seq, count, keep)."""

    def __init__(self, store: FakeStore, **settings: object) -> None:
        self.store, self.stats, self.seqs = store, Stats(), SeqMarks()
        section = OutboxSection.model_validate(settings)
        self.queue = OutboxQueue(section, self.stats)
        self.storage = OutboxStorage(store, self.queue, self.seqs, section, self.stats)

    def put(self) -> Message:
        """A new message with the next seq."""
        message = Message(self.seqs.next_seq, "t", b"12345", 1, False)
        self.seqs.advance(reading=True)
        self.queue.admit(message)
        self.storage.add(message)
        return message


def disk_full() -> sqlite3.OperationalError:
    """What SQLite raises on a full disk."""
    return sqlite3.OperationalError("database or disk is full")


async def opened(tmp_path: Path, *rows: Message, **settings: object) -> StorageParts:
    """An opened outbox on a fake file holding `rows`."""
    outbox = StorageParts(FakeStore(tmp_path / "outbox.db", rows), **settings)
    await outbox.storage.open()
    return outbox


class TestCommits:
    async def test_open_records_the_first_seq_marks(self, tmp_path: Path) -> None:
        """Before anything can be handed out, a block of row and reading seqs is reserved in the file."""
        outbox = await opened(tmp_path)
        assert outbox.store.marks == (1 + SEQ_BLOCK, 1 + SEQ_BLOCK)
        assert outbox.storage.covers(SEQ_BLOCK)
        assert not outbox.storage.covers(SEQ_BLOCK + 1)

    async def test_a_commit_writes_what_waits_and_deletes_what_was_acknowledged(self, tmp_path: Path) -> None:
        """commit_now inserts the unsaved messages; once forgotten, the next commit deletes the row."""
        outbox = await opened(tmp_path)
        first, second = outbox.put(), outbox.put()
        outbox.storage.forget(second)  # acknowledged before its commit: never written
        assert await outbox.storage.commit_now()
        assert list(outbox.store.rows) == [first.seq]
        outbox.storage.forget(first)
        await outbox.storage.commit_now()
        assert outbox.store.rows == {}

    async def test_run_commits_a_full_batch_at_once(self, tmp_path: Path) -> None:
        """commit_readings messages are written without waiting for commit_interval; stop ends run."""
        outbox = await opened(tmp_path, commit_interval=60, commit_readings=2)
        runner = asyncio.create_task(outbox.storage.run())
        outbox.put()
        outbox.put()
        for _poll in range(500):
            if len(outbox.store.rows) == 2:
                break
            await asyncio.sleep(0.01)
        assert len(outbox.store.rows) == 2
        outbox.storage.stop()
        await asyncio.wait_for(runner, 5)

    async def test_a_quarantined_message_moves_to_its_table(self, tmp_path: Path) -> None:
        """quarantine writes the message to the quarantine table instead of the outbox."""
        outbox = await opened(tmp_path)
        message = outbox.put()
        outbox.storage.quarantine(message, "Not authorized")
        outbox.storage.forget(message, store_delete=False)
        await outbox.storage.commit_now()
        assert (outbox.store.rows, outbox.store.quarantined) == ({}, {message.seq: "Not authorized"})

    async def test_close_records_the_exact_marks(self, tmp_path: Path) -> None:
        """A clean close writes what waits and the marks right after the last seq (no gap)."""
        outbox = await opened(tmp_path)
        outbox.put()
        await outbox.storage.close()
        assert (len(outbox.store.rows), outbox.store.marks, outbox.store.open_files) == (1, (2, 2), 0)

    async def test_abandon_writes_nothing(self, tmp_path: Path) -> None:
        """abandon (a crash) closes the file with the unsaved message unwritten."""
        outbox = await opened(tmp_path)
        outbox.put()
        outbox.storage.abandon()
        assert (outbox.store.rows, outbox.store.open_files) == ({}, 0)


class TestResume:
    async def test_rows_left_on_disk_are_counted_and_paged_back(self, tmp_path: Path) -> None:
        """A previous run's rows are counted at open and read back into the head in order."""
        rows = tuple(Message(seq, "t", b"x", 1, False) for seq in (3, 7, 9))
        outbox = await opened(tmp_path, *rows)
        assert (len(outbox.queue), outbox.queue.bytes) == (3, 6)
        assert [outbox.queue.take(outbox.storage.covers) for _ in range(3)] == list(rows)
        assert outbox.put().seq == 10


class TestFaults:
    async def test_a_failing_disk_keeps_messages_in_memory_within_the_bound(self, tmp_path: Path) -> None:
        """A failed write says "memory only", keeps the messages, and fills up at memory_readings."""
        outbox = await opened(tmp_path, memory_readings=2)
        outbox.store.failure = disk_full()
        outbox.put()
        assert not await outbox.storage.commit_now()
        assert outbox.stats.storage == "memory only: database or disk is full"
        assert not outbox.storage.memory_full()
        outbox.put()
        assert outbox.storage.memory_full()
        assert outbox.storage.covers(SEQ_BLOCK + 5)  # no seq-mark wait while nothing can be written

    async def test_a_working_disk_again_writes_everything_kept(self, tmp_path: Path) -> None:
        """Once writes work again, what was kept is written and stats say "ok"."""
        outbox = await opened(tmp_path)
        outbox.store.failure = disk_full()
        outbox.put()
        await outbox.storage.commit_now()
        outbox.put()
        outbox.store.failure = None
        assert await outbox.storage.commit_now()
        assert (len(outbox.store.rows), outbox.stats.storage) == (2, "ok")

    async def test_an_unopenable_file_starts_in_memory_above_any_old_seq(self, tmp_path: Path) -> None:
        """If the file cannot be opened, seqs start above any plausible old one and nothing waits on a mark."""
        store = FakeStore(tmp_path / "outbox.db")
        store.failure = disk_full()
        outbox = StorageParts(store)
        await outbox.storage.open()
        assert not outbox.storage.durable
        assert outbox.stats.storage.startswith("memory only")
        assert outbox.put().seq > 1_600_000_000_000
        assert await outbox.storage.commit_now()  # nothing to write to
