"""The publisher's view of the outbox (gateway.outbox_queue), in memory only: order, acks, counts, bounds."""

from __future__ import annotations

import asyncio

import pytest

from gateway.config import OutboxSection
from gateway.outbox_queue import OutboxQueue
from gateway.stats import Stats
from gateway.store import Message


def message(seq: int, payload: bytes = b"12345") -> Message:
    """A message of 1 + len(payload) bytes."""
    return Message(seq, "t", payload, 1, False)


def queue_of(*seqs: int, **settings: object) -> tuple[OutboxQueue, Stats]:
    """A queue holding `seqs` in its head, counted, as the storage would leave it."""
    stats = Stats()
    queue = OutboxQueue(OutboxSection.model_validate(settings), stats)
    for seq in seqs:
        queue.admit(message(seq))
        queue.push(message(seq))
    return queue, stats


def always(_seq: int) -> bool:
    """Every seq may be sent."""
    return True


def take_all(queue: OutboxQueue) -> list[int]:
    """Seqs of everything `take` hands out right now."""
    taken = []
    while (taken_message := queue.take(always)) is not None:
        taken.append(taken_message.seq)
    return taken


class TestTake:
    def test_take_hands_out_in_order_once_per_session(self) -> None:
        """Each message is handed out once, oldest first, until rewind starts the session over."""
        queue, _ = queue_of(1, 2, 3)
        assert take_all(queue) == [1, 2, 3]
        queue.rewind()
        assert take_all(queue) == [1, 2, 3]

    def test_take_skips_what_was_acknowledged_out_of_order(self) -> None:
        """After a rewind, a message acknowledged out of order is not handed out again."""
        queue, _ = queue_of(1, 2, 3)
        take_all(queue)
        queue.remove(message(2))
        queue.rewind()
        assert take_all(queue) == [1, 3]

    async def test_a_held_back_message_stops_take_and_clears_the_wake_up(self) -> None:
        """When may_send refuses the next seq, take returns None and wait_unsent sleeps until wake."""
        queue, _ = queue_of(1)
        assert queue.take(lambda seq: seq < 1) is None
        waiter = asyncio.create_task(queue.wait_unsent())
        await asyncio.sleep(0)
        assert not waiter.done()
        queue.wake()
        await asyncio.wait_for(waiter, 5)
        assert queue.take(always) == message(1)

    def test_the_unsent_count_follows_take_and_rewind(self) -> None:
        """unsent_in_memory counts the head not yet handed out in this session."""
        queue, _ = queue_of(1, 2, 3)
        queue.take(always)
        assert (queue.in_memory, queue.unsent_in_memory) == (3, 2)
        queue.rewind()
        assert queue.unsent_in_memory == 3


class TestRemove:
    def test_an_out_of_order_ack_leaves_the_head_with_the_ones_before_it(self) -> None:
        """A message acknowledged out of order stays in the head until every older one is gone."""
        queue, _ = queue_of(1, 2, 3)
        take_all(queue)
        queue.remove(message(2))
        assert (len(queue), queue.in_memory) == (2, 3)
        queue.remove(message(1))
        assert (len(queue), queue.in_memory) == (1, 1)
        assert queue.oldest() == message(3)

    def test_is_gone_knows_what_no_longer_waits(self) -> None:
        """Removed, older and never-loaded seqs are gone; a waiting one is not."""
        queue, _ = queue_of(1, 2, 3)
        queue.remove(message(2))
        assert [queue.is_gone(seq) for seq in (0, 1, 2, 3, 4)] == [True, False, True, False, True]

    def test_removing_from_the_tail_only_uncounts(self) -> None:
        """in_head=False: the counts drop, the head is untouched."""
        queue, _ = queue_of(1)
        queue.admit(message(2))
        queue.remove(message(2), in_head=False)
        assert (len(queue), queue.bytes, queue.in_memory) == (1, 6, 1)

    async def test_wait_empty_returns_when_the_last_one_goes(self) -> None:
        """wait_empty waits for the count to reach zero, including rows resumed from disk."""
        queue, _ = queue_of()
        queue.resume(1, 6)
        waiter = asyncio.create_task(queue.wait_empty())
        await asyncio.sleep(0)
        assert not waiter.done()
        queue.load([message(1)], 1)
        queue.remove(message(1))
        await asyncio.wait_for(waiter, 5)


class TestBoundsAndFailures:
    @pytest.mark.parametrize(("settings", "size", "full"), [({"max_readings": 2}, 1, True), ({}, 1, False)])
    def test_is_full_by_count(self, settings: dict[str, int], size: int, full: bool) -> None:
        """max_readings caps the count of waiting messages."""
        queue, _ = queue_of(1, 2, **settings)
        assert queue.is_full(size) is full

    def test_is_full_by_bytes(self) -> None:
        """max_bytes caps topics and payloads, counting the newcomer."""
        queue, _ = queue_of(1, max_bytes=4096)
        assert not queue.is_full(4096 - 6)
        assert queue.is_full(4096 - 5)

    def test_discount_uncounts_messages_outside_the_head(self) -> None:
        """discount lowers the count and bytes of what waits without touching the head."""
        queue, _ = queue_of(1)
        queue.resume(5, 100)
        queue.discount(rows=1, size=10)
        assert (len(queue), queue.bytes, queue.in_memory) == (4, 90, 1)

    def test_drops_are_counted(self) -> None:
        """note_drop counts each drop in stats; rejects_new follows on_full."""
        queue, stats = queue_of(on_full="reject_new")
        queue.note_drop()
        queue.note_drop()
        assert stats.dropped == 2
        assert queue.rejects_new

    def test_quarantine_comes_at_max_attempts(self) -> None:
        """count_failure says quarantine only at the max_attempts-th failure, and counts it."""
        queue, stats = queue_of(1, max_attempts=3)
        results = [queue.count_failure(message(1), "Not authorized") for _ in range(3)]
        assert results == [False, False, True]
        assert stats.quarantined == 1

    def test_admit_counts_accepted_messages(self) -> None:
        """admit counts a message in length, bytes and stats.accepted."""
        queue, stats = queue_of(1, 2)
        assert (len(queue), queue.bytes, stats.accepted) == (2, 12, 2)
