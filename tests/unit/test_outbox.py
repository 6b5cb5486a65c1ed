"""Tests of the in-memory outbox: order, seq, bounds and policies."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from gateway.outbox import MemoryOutbox
from gateway.reading import ReadingFactory
from gateway.sequence import SequenceCounter
from gateway.stats import Stats

FACTORY = ReadingFactory("s", None, binary=False)


def outbox(tmp_path: Path, max_readings: int = 100, on_full: str = "drop_oldest") -> tuple[MemoryOutbox, Stats]:
    stats = Stats()
    box = MemoryOutbox(SequenceCounter(tmp_path), stats, max_readings=max_readings, on_full=on_full)  # type: ignore[arg-type]
    return box, stats


def put(box: MemoryOutbox, value: float) -> None:
    box.put("t", FACTORY.make(value, 0.0), 1, True)


class TestMemoryOutbox:
    async def test_fifo_with_increasing_seq(self, tmp_path: Path) -> None:
        """Messages come out in the order they went in, with seq 1, 2, 3."""
        box, _ = outbox(tmp_path)
        for value in (1.0, 2.0, 3.0):
            put(box, value)
        seen = []
        while len(box):
            message = await box.head()
            seen.append((message.seq, json.loads(message.payload)["value"]))
            box.ack(message)
        assert seen == [(1, 1.0), (2, 2.0), (3, 3.0)]

    async def test_drop_oldest_counts_every_drop(self, tmp_path: Path) -> None:
        """When full, drop_oldest discards the oldest and counts it."""
        box, stats = outbox(tmp_path, max_readings=3)
        for value in range(10):
            put(box, float(value))
        assert stats.dropped == 7
        assert json.loads((await box.head()).payload)["value"] == 7.0

    async def test_reject_new_keeps_the_oldest(self, tmp_path: Path) -> None:
        """When full, reject_new refuses the newcomer and counts it."""
        box, stats = outbox(tmp_path, max_readings=3, on_full="reject_new")
        for value in range(10):
            put(box, float(value))
        assert stats.dropped == 7
        assert len(box) == 3
        assert json.loads((await box.head()).payload)["value"] == 0.0

    async def test_ack_of_a_message_dropped_meanwhile_is_harmless(self, tmp_path: Path) -> None:
        """If drop_oldest discarded the message in flight, its ack does not remove the next one."""
        box, _ = outbox(tmp_path, max_readings=1)
        put(box, 1.0)
        in_flight = await box.head()
        put(box, 2.0)  # drops the in-flight message
        box.ack(in_flight)
        assert len(box) == 1

    async def test_head_waits_for_a_put(self, tmp_path: Path) -> None:
        """The publisher sleeps on an empty outbox and wakes on put."""
        box, _ = outbox(tmp_path)
        waiter = asyncio.create_task(box.head())
        await asyncio.sleep(0)
        assert not waiter.done()
        put(box, 5.0)
        assert (await waiter).seq == 1

    async def test_wait_empty(self, tmp_path: Path) -> None:
        """wait_empty returns once everything is acknowledged."""
        box, _ = outbox(tmp_path)
        put(box, 1.0)
        waiter = asyncio.create_task(box.wait_empty())
        await asyncio.sleep(0)
        assert not waiter.done()
        box.ack(await box.head())
        await asyncio.wait_for(waiter, 1)
