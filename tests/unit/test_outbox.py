"""Tests of the durable outbox on a real SQLite file: order, seq, group commit, bounds, paging, faults."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from gateway.config import OutboxSection
from gateway.errors import InvalidReadingError
from gateway.outbox import MEMORY_ROWS, SEQ_BLOCK, DurableOutbox, Message
from gateway.reading import ReadingFactory
from gateway.stats import Stats
from gateway.store import DB_FILE, read_summary

FACTORY = ReadingFactory("s", None, binary=False)


@asynccontextmanager
async def opened(state_dir: Path, *, close: bool = True, **settings: Any) -> AsyncIterator[tuple[DurableOutbox, Stats]]:
    """An open outbox with its commit task running; closed cleanly unless `close=False` (a crash)."""
    stats = Stats()
    box = DurableOutbox(state_dir, stats, OutboxSection(**settings), max_payload_bytes=4096)
    await box.open()
    runner = asyncio.create_task(box.run())
    try:
        yield box, stats
    finally:
        box.stop()
        await runner
        if close:
            await box.close()
        else:
            box.abandon()  # the process died: nothing more is written


def put(box: DurableOutbox, value: float, timestamp: float = 0.0) -> Message | None:
    return box.put("t", FACTORY.make(value, timestamp), 1, False)


def drain(box: DurableOutbox) -> list[Message]:
    """Take and acknowledge everything that can be taken right now."""
    taken = []
    while (message := box.take()) is not None:
        taken.append(message)
        box.ack(message)
    return taken


async def drain_all(box: DurableOutbox, expected: int) -> list[Message]:
    """Take and acknowledge until `expected` messages came out (pages are read back in between)."""
    taken: list[Message] = []
    async with asyncio.timeout(30):
        while len(taken) < expected:
            taken += drain(box)
            if len(taken) < expected:
                await box.wait_unsent()
    return taken


def values(messages: list[Message]) -> list[float]:
    return [json.loads(m.payload)["value"] for m in messages]


def rows_on_disk(state_dir: Path) -> int:
    summary = read_summary(state_dir / DB_FILE)
    assert summary is not None
    return summary[0]


def corrupt_copies(state_dir: Path) -> list[Path]:
    return list(state_dir.glob(f"{DB_FILE}.corrupt-*"))


async def committed(box: DurableOutbox) -> None:
    """Wait for the pending group commit (forced now, as a full batch would)."""
    await box.commit_now()


class TestOrderAndSeq:
    async def test_fifo_with_increasing_seq(self, tmp_path: Path) -> None:
        """Messages come out in the order they went in, with seq 1, 2, 3."""
        async with opened(tmp_path) as (box, _):
            for value in (1.0, 2.0, 3.0):
                put(box, value)
            taken = drain(box)
        assert [(m.seq, json.loads(m.payload)["value"]) for m in taken] == [(1, 1.0), (2, 2.0), (3, 3.0)]

    async def test_clean_restart_continues_seq_without_gap(self, tmp_path: Path) -> None:
        """After a clean close the next run's first seq follows the last one exactly."""
        async with opened(tmp_path) as (box, _):
            put(box, 1.0)
            put(box, 2.0)
            drain(box)
        async with opened(tmp_path) as (box, _):
            message = put(box, 3.0)
        assert message is not None
        assert message.seq == 3

    async def test_crash_resumes_stored_rows_and_never_reuses_a_seq(self, tmp_path: Path) -> None:
        """After a crash, committed readings come back with their seq and ts, and new seqs are above every used one."""
        async with opened(tmp_path, close=False) as (box, _):
            for value in range(5):
                put(box, float(value), timestamp=1_700_000_000.0 + value)
            sent = box.take()  # published but never acknowledged
            await committed(box)
        assert sent is not None
        async with opened(tmp_path) as (box, _):
            again = drain(box)
            fresh = put(box, 9.0)
        assert [m.seq for m in again] == [1, 2, 3, 4, 5]
        assert again[0].payload == sent.payload  # same seq, same ts: a duplicate, never a new reading
        assert fresh is not None
        assert fresh.seq > SEQ_BLOCK  # beyond the durable mark: no reuse of a number handed out before the crash

    async def test_messages_that_are_not_readings_take_no_reading_seq(self, tmp_path: Path) -> None:
        """Availability and discovery messages between readings leave the readings' seq without gaps."""
        async with opened(tmp_path) as (box, _):
            put(box, 1.0)
            box.put_raw("t/availability", b"online", 1, True)
            put(box, 2.0)
            drain(box)
        async with opened(tmp_path) as (box, _):
            box.put_raw("t/availability", b"offline", 1, True)
            put(box, 3.0)
            taken = drain(box)
        assert [json.loads(m.payload)["seq"] for m in taken if m.topic == "t"] == [3]
        assert read_summary(tmp_path / DB_FILE) == (0, 0, 4)  # `status` shows the next reading seq

    async def test_after_a_crash_reading_seqs_jump_past_their_own_mark(self, tmp_path: Path) -> None:
        """A crash with more messages than readings: the next reading seq is still beyond any handed out."""
        async with opened(tmp_path, close=False) as (box, _):
            for value in range(3):
                box.put_raw("t/availability", b"online", 1, True)
                put(box, float(value))
            used = [json.loads(m.payload)["seq"] for m in drain(box) if m.topic == "t"]
        async with opened(tmp_path) as (box, _):
            fresh = put(box, 9.0)
        assert fresh is not None
        assert used == [1, 2, 3]
        assert json.loads(fresh.payload)["seq"] == 1 + SEQ_BLOCK  # the reading mark reserved at the first start

    async def test_rewind_hands_out_everything_unacknowledged_again(self, tmp_path: Path) -> None:
        """A new session resends every unacknowledged message, oldest first, skipping acknowledged ones."""
        async with opened(tmp_path) as (box, _):
            for value in range(4):
                put(box, float(value))
            first, second, _third = box.take(), box.take(), box.take()
            assert first is not None
            assert second is not None
            box.ack(second)  # acknowledged out of order
            box.rewind()
            again = drain(box)
        assert values(again) == [0.0, 2.0, 3.0]

    async def test_wait_unsent_wakes_on_put(self, tmp_path: Path) -> None:
        """The publisher sleeps on an empty outbox and wakes on put."""
        async with opened(tmp_path) as (box, _):
            assert box.take() is None
            waiter = asyncio.create_task(box.wait_unsent())
            await asyncio.sleep(0)
            assert not waiter.done()
            put(box, 5.0)
            await asyncio.wait_for(waiter, 5)
            assert box.take() is not None

    async def test_wait_empty(self, tmp_path: Path) -> None:
        """wait_empty returns once everything is acknowledged."""
        async with opened(tmp_path) as (box, _):
            put(box, 1.0)
            waiter = asyncio.create_task(box.wait_empty())
            await asyncio.sleep(0)
            assert not waiter.done()
            drain(box)
            await asyncio.wait_for(waiter, 5)


class TestGroupCommit:
    async def test_a_reading_acknowledged_before_its_commit_is_never_written(self, tmp_path: Path) -> None:
        """With the broker keeping up, readings are acknowledged within the commit window and cost no row."""
        async with opened(tmp_path, commit_interval=60) as (box, _):
            for value in range(3):
                put(box, float(value))
            drain(box)
            await committed(box)
            assert rows_on_disk(tmp_path) == 0

    async def test_a_full_batch_is_committed_without_waiting_for_the_interval(self, tmp_path: Path) -> None:
        """commit_readings unacknowledged readings are written at once, not after commit_interval."""
        async with opened(tmp_path, commit_interval=60, commit_readings=5) as (box, _):
            for value in range(5):
                put(box, float(value))
            for _poll in range(1000):
                if rows_on_disk(tmp_path) == 5:
                    break
                await asyncio.sleep(0.01)
            assert rows_on_disk(tmp_path) == 5

    async def test_an_acknowledged_row_is_deleted(self, tmp_path: Path) -> None:
        """A row written before its acknowledgement is deleted after it."""
        async with opened(tmp_path) as (box, _):
            put(box, 1.0)
            await committed(box)
            assert rows_on_disk(tmp_path) == 1
            drain(box)
            await committed(box)
            assert rows_on_disk(tmp_path) == 0


class TestBounds:
    async def test_drop_oldest_counts_every_drop(self, tmp_path: Path) -> None:
        """When full, drop_oldest discards the oldest, counts each, and keeps the newest."""
        async with opened(tmp_path, max_readings=3) as (box, stats):
            for value in range(10):
                put(box, float(value))
            assert stats.dropped == 7
            assert values(drain(box)) == [7.0, 8.0, 9.0]

    async def test_reject_new_keeps_the_oldest(self, tmp_path: Path) -> None:
        """When full, reject_new refuses newcomers (no seq taken) and counts each."""
        async with opened(tmp_path, max_readings=3, on_full="reject_new") as (box, stats):
            results = [put(box, float(value)) for value in range(10)]
            assert stats.dropped == 7
            assert results[3:] == [None] * 7
            assert values(drain(box)) == [0.0, 1.0, 2.0]
            later = put(box, 10.0)
        assert later is not None
        assert later.seq == 4

    async def test_byte_cap(self, tmp_path: Path) -> None:
        """max_bytes bounds topics and payloads together."""
        async with opened(tmp_path, max_bytes=4096) as (box, stats):
            for value in range(200):
                put(box, float(value))
            assert box.bytes <= 4096
            assert stats.dropped == 200 - len(box)
            assert len(box) < 200

    async def test_an_acknowledgement_of_a_dropped_message_is_harmless(self, tmp_path: Path) -> None:
        """If drop_oldest discarded the message in flight, its late ack does not remove another one."""
        async with opened(tmp_path, max_readings=1) as (box, _):
            put(box, 1.0)
            in_flight = box.take()
            assert in_flight is not None
            put(box, 2.0)  # drops the in-flight message
            box.ack(in_flight)
            assert len(box) == 1

    async def test_an_oversized_payload_is_rejected_before_it_is_stored(self, tmp_path: Path) -> None:
        """A payload over mqtt.max_payload_bytes raises InvalidReadingError and takes no seq."""
        stats = Stats()
        box = DurableOutbox(tmp_path, stats, OutboxSection(), max_payload_bytes=256)
        await box.open()
        long_unit = ReadingFactory("s", "x" * 300, binary=False)
        with pytest.raises(InvalidReadingError, match="max_payload_bytes"):
            box.put("t", long_unit.make(1.0, 0.0), 1, False)
        message = box.put("t", FACTORY.make(1.0, 0.0), 1, False)
        await box.close()
        assert message is not None
        assert message.seq == 1


class TestSpillAndPaging:
    async def test_a_backlog_beyond_memory_spills_to_disk_and_comes_back_in_order(self, tmp_path: Path) -> None:
        """Thousands of readings beyond the in-memory head are stored and paged back, none lost, none reordered."""
        total = 3 * MEMORY_ROWS + 123
        async with opened(tmp_path) as (box, _):
            for value in range(total):
                put(box, float(value))
            assert box.in_memory <= MEMORY_ROWS
            taken = await drain_all(box, total)
        assert values(taken) == [float(v) for v in range(total)]
        assert rows_on_disk(tmp_path) == 0

    async def test_drop_oldest_on_a_spilled_backlog_is_exact(self, tmp_path: Path) -> None:
        """Dropping from a backlog that lives on disk keeps exactly the newest max_readings."""
        total, cap = 3 * MEMORY_ROWS, MEMORY_ROWS + 500
        async with opened(tmp_path, max_readings=cap) as (box, stats):
            for value in range(total):
                put(box, float(value))
            taken = await drain_all(box, cap)
            assert stats.dropped == total - cap
        assert values(taken) == [float(v) for v in range(total - cap, total)]

    async def test_a_restart_pages_a_large_stored_backlog_back(self, tmp_path: Path) -> None:
        """A backlog left on disk by a previous run is delivered whole, in order."""
        total = 2 * MEMORY_ROWS + 7
        async with opened(tmp_path) as (box, _):
            for value in range(total):
                put(box, float(value))
        async with opened(tmp_path) as (box, _):
            assert len(box) == total
            taken = await drain_all(box, total)
        assert [m.seq for m in taken] == list(range(1, total + 1))


class TestFaults:
    async def test_a_refused_reading_is_quarantined_and_the_rest_move_on(self, tmp_path: Path) -> None:
        """After max_attempts refusals a reading is kept aside, counted, and no longer blocks the queue."""
        async with opened(tmp_path, max_attempts=3) as (box, stats):
            put(box, 1.0)
            put(box, 2.0)
            for _attempt in range(3):
                box.rewind()
                poison = box.take()
                assert poison is not None
                box.failed(poison, "Not authorized")
            box.rewind()
            rest = drain(box)
            await committed(box)
            assert stats.quarantined == 1
        assert values(rest) == [2.0]
        summary = read_summary(tmp_path / DB_FILE)
        assert summary is not None
        assert summary[:2] == (0, 1)  # nothing waiting, one quarantined

    async def test_a_corrupt_file_is_moved_aside_and_a_fresh_one_used(self, tmp_path: Path) -> None:
        """A database that is not a database is renamed *.corrupt-* and the gateway starts empty."""
        (tmp_path / DB_FILE).write_bytes(b"this is not an sqlite file at all" * 100)
        async with opened(tmp_path) as (box, _):
            message = put(box, 1.0)
        assert message is not None
        assert message.seq == 1
        assert len(corrupt_copies(tmp_path)) == 1
        with sqlite3.connect(tmp_path / DB_FILE) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    async def test_an_unopenable_file_falls_back_to_memory_with_a_fresh_seq_range(self, tmp_path: Path) -> None:
        """When the file cannot be opened at all, readings are kept in memory and stats say so."""
        (tmp_path / DB_FILE).mkdir()  # a directory where the file should be: SQLite cannot open it
        async with opened(tmp_path, memory_readings=2) as (box, stats):
            first = put(box, 1.0)
            for value in range(2, 5):
                put(box, float(value))
            assert stats.storage.startswith("memory only")
            assert stats.dropped == 2
            assert values(drain(box)) == [3.0, 4.0]
        assert first is not None
        assert first.seq > SEQ_BLOCK  # above any seq a lost file could have handed out
