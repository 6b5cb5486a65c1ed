"""The outbox's write-back bookkeeping (gateway.outbox_writeback), without a file: placement, batches, paging."""

from __future__ import annotations

import asyncio

from gateway.config import OutboxSection
from gateway.outbox_queue import OutboxQueue
from gateway.outbox_seq import Marks
from gateway.outbox_writeback import MEMORY_ROWS, PAGE, CommitRequests, Pending, WriteBack
from gateway.stats import Stats
from gateway.store import Message


def message(seq: int) -> Message:
    """A message of 6 bytes."""
    return Message(seq, "t", b"12345", 1, False)


class Parts:
    """A queue and its write-back, wired as the storage wires them."""

    def __init__(self) -> None:
        self.queue = OutboxQueue(OutboxSection(), Stats())
        self.requests = CommitRequests()
        self.writeback = WriteBack(self.queue, OutboxSection(), self.requests)

    def add(self, *seqs: int, durable: bool = True) -> None:
        """New messages, counted and kept as the outbox would."""
        for seq in seqs:
            self.queue.admit(message(seq))
            self.writeback.add(message(seq), durable=durable)

    def commit(self) -> Pending:
        """Take a batch as if it was written."""
        return self.writeback.take(None)


def inserted(pending: Pending) -> list[int]:
    """The seqs a batch inserts."""
    return [m.seq for m in pending.batch.inserts]


class TestPlacement:
    def test_new_messages_join_the_head_until_it_is_full(self) -> None:
        """Up to MEMORY_ROWS go to the head (handed out at once); the rest wait in the tail."""
        parts = Parts()
        parts.add(*range(1, MEMORY_ROWS + 3))
        assert parts.queue.in_memory == MEMORY_ROWS
        assert parts.writeback.unstored == MEMORY_ROWS + 2
        assert inserted(parts.commit()) == list(range(1, MEMORY_ROWS + 3))  # head first, then the tail

    def test_without_a_working_disk_the_head_takes_everything(self) -> None:
        """durable=False: nothing spills, everything stays in the head."""
        parts = Parts()
        parts.add(*range(1, MEMORY_ROWS + 3), durable=False)
        assert parts.queue.in_memory == MEMORY_ROWS + 2

    def test_behind_rows_on_disk_new_messages_wait_in_the_tail(self) -> None:
        """After rows were resumed from disk, a new message waits behind them, to keep the order."""
        parts = Parts()
        parts.queue.resume(1, 6)
        parts.writeback.resume(1)
        parts.add(2)
        assert parts.queue.in_memory == 0
        assert parts.commit().page_after == 0  # the first page is asked for


class TestForgetAndUndo:
    def test_a_message_forgotten_before_its_commit_is_never_written(self) -> None:
        """No insert and no delete for a message acknowledged while unsaved."""
        parts = Parts()
        parts.add(1, 2)
        parts.writeback.forget(message(1))
        pending = parts.commit()
        assert (inserted(pending), list(pending.batch.deletes)) == ([2], [])

    def test_a_committed_message_forgotten_is_deleted_with_the_next_commit(self) -> None:
        """After its commit, forgetting a message queues the delete of its row."""
        parts = Parts()
        parts.add(1)
        parts.commit()
        parts.writeback.forget(message(1))
        assert list(parts.commit().batch.deletes) == [1]

    def test_forgetting_the_oldest_of_the_tail_says_so(self) -> None:
        """forget returns True for the tail's first message (it is not in the head)."""
        parts = Parts()
        parts.add(*range(1, MEMORY_ROWS + 2))
        assert parts.writeback.forget(message(MEMORY_ROWS + 1))
        assert not parts.writeback.forget(message(1))

    def test_undo_puts_a_failed_batch_back(self) -> None:
        """After a failed write the same inserts, deletes and quarantines are pending again."""
        parts = Parts()
        parts.add(1)
        parts.commit()
        parts.add(2)
        parts.writeback.forget(message(1))
        parts.writeback.quarantine(message(3), "refused")
        failed = parts.commit()
        parts.writeback.undo(failed)
        again = parts.commit()
        assert (inserted(again), list(again.batch.deletes), len(again.batch.quarantine)) == ([2], [1], 1)

    def test_a_batch_carries_the_marks(self) -> None:
        """take records the given marks with the batch."""
        parts = Parts()
        batch = parts.writeback.take(Marks(100, 50)).batch
        assert (batch.next_seq, batch.next_reading) == (100, 50)


class TestPaging:
    def test_a_page_joins_the_head_in_order(self) -> None:
        """Rows read back join the head; seqs already loaded are skipped."""
        parts = Parts()
        parts.queue.resume(3, 18)
        parts.writeback.resume(3)
        parts.writeback.take_page([message(1), message(2), message(3)])
        parts.writeback.take_page([message(2), message(3)])
        assert [parts.queue.take(lambda _seq: True) for _ in range(4)] == [message(1), message(2), message(3), None]

    def test_a_drop_on_disk_falls_on_the_next_page(self) -> None:
        """drop_from_disk uncounts the oldest row at once; its bytes and delete come with the page."""
        parts = Parts()
        parts.queue.resume(2, 12)
        parts.writeback.resume(2)
        assert parts.writeback.drop_from_disk()
        assert (len(parts.queue), parts.queue.bytes) == (1, 12)
        parts.writeback.take_page([message(1), message(2)])
        assert (len(parts.queue), parts.queue.bytes, parts.queue.oldest()) == (1, 6, message(2))
        assert list(parts.commit().batch.deletes) == [1]

    def test_refill_moves_the_tail_into_the_head_when_nothing_is_on_disk(self) -> None:
        """Once the head drains, refill tops it up from the tail."""
        parts = Parts()
        parts.add(*range(1, MEMORY_ROWS + 2))
        for seq in range(1, PAGE + 1):
            parts.writeback.forget(message(seq))
            parts.queue.remove(message(seq))
        parts.writeback.refill()
        assert parts.queue.in_memory == MEMORY_ROWS - PAGE + 1

    def test_the_oldest_to_drop(self) -> None:
        """Durable: the head's oldest; memory only: the oldest unsaved one (what is on disk is safe)."""
        parts = Parts()
        parts.add(1)
        parts.commit()
        parts.add(2)
        assert parts.writeback.oldest_to_drop(durable=True) == message(1)
        assert parts.writeback.oldest_to_drop(durable=False) == message(2)


class TestCommitRequests:
    async def test_now_is_due_at_once(self) -> None:
        """An urgent request makes the commit due without waiting for the interval."""
        requests = CommitRequests()
        requests.soon()
        requests.now()
        await asyncio.wait_for(requests.due(60), 1)

    async def test_soon_is_due_after_the_interval(self) -> None:
        """A plain request waits for the interval; nothing requested, nothing due."""
        requests = CommitRequests()
        waiter = asyncio.create_task(requests.due(0.01))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        requests.soon()
        await asyncio.wait_for(waiter, 1)
