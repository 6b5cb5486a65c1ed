"""The control lane ahead of the durable outbox: order per lane, acks routed home, one `seq` sequence."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from gateway.lanes import ControlLane, Lanes
from gateway.outbox import Message
from gateway.reading import ReadingFactory
from gateway.stats import Stats
from tests.unit.test_outbox import FACTORY, opened

RELAY = ReadingFactory("pump", None, binary=True)


def seq_of(message: Message) -> int:
    """The reading `seq` in a message's JSON payload."""
    seq: int = json.loads(message.payload)["seq"]
    return seq


class TestControlLane:
    async def test_control_messages_go_before_the_readings_and_each_lane_stays_in_order(self, tmp_path: Path) -> None:
        """Readings stored first still come after every control message; within a lane, first in first out."""
        async with opened(tmp_path) as (box, stats):
            control = ControlLane(box, stats, max_payload_bytes=4096, max_attempts=3)
            lanes = Lanes(control, box)
            for n in range(3):
                box.put("r", FACTORY.make(float(n), 0.0), 1, False)
            control.put_raw("a/availability", b"online", 1, True)
            control.put("pump", RELAY.make(True, 0.0), 1, True)
            taken = [lanes.take() for _ in range(5)]
        assert [m.topic if m else None for m in taken] == ["a/availability", "pump", "r", "r", "r"]
        assert [m.control if m else None for m in taken] == [True, True, False, False, False]

    async def test_a_carried_reading_takes_the_next_seq_of_the_one_sequence(self, tmp_path: Path) -> None:
        """An output state between two readings gets the seq between theirs: one gap-free sequence."""
        async with opened(tmp_path) as (box, stats):
            control = ControlLane(box, stats, max_payload_bytes=4096, max_attempts=3)
            first = box.put("r", FACTORY.make(1.0, 0.0), 1, False)
            state = control.put("pump", RELAY.make(True, 0.0), 1, True)
            second = box.put("r", FACTORY.make(2.0, 0.0), 1, False)
        assert first is not None
        assert second is not None
        assert [seq_of(first), seq_of(state), seq_of(second)] == [1, 2, 3]

    async def test_acks_go_to_their_lane_and_a_rewind_resends_only_the_unacknowledged(self, tmp_path: Path) -> None:
        """After a lost connection, exactly the unacknowledged messages of both lanes come again, oldest first."""
        async with opened(tmp_path) as (box, stats):
            control = ControlLane(box, stats, max_payload_bytes=4096, max_attempts=3)
            lanes = Lanes(control, box)
            box.put("r", FACTORY.make(1.0, 0.0), 1, False)
            box.put("r", FACTORY.make(2.0, 0.0), 1, False)
            control.put_raw("c1", b"1", 1, True)
            control.put_raw("c2", b"2", 1, True)
            taken = [lanes.take() for _ in range(4)]
            assert None not in taken
            lanes.ack(taken[0])  # type: ignore[arg-type]
            lanes.ack(taken[2])  # type: ignore[arg-type]
            lanes.rewind()
            again = [lanes.take() for _ in range(2)]
            assert len(lanes) == 2
        assert [m.topic if m else None for m in again] == ["c2", "r"]
        assert again[1] is not None
        assert seq_of(again[1]) == 2

    async def test_a_full_lane_drops_its_oldest_and_counts_it(self, tmp_path: Path) -> None:
        """Beyond its limit the control lane drops the oldest message, counted in `dropped`."""
        stats = Stats()
        async with opened(tmp_path) as (box, _stats):
            control = ControlLane(box, stats, max_payload_bytes=4096, max_attempts=3, limit=2)
            for n in range(3):
                control.put_raw(f"c{n}", b"x", 1, True)
            topics = [m.topic for m in iter(control.take, None)]
        assert topics == ["c1", "c2"]
        assert stats.dropped == 1

    async def test_a_message_refused_max_attempts_times_is_discarded(self, tmp_path: Path) -> None:
        """A control message the broker keeps refusing is discarded after max_attempts, and the lane moves on."""
        stats = Stats()
        async with opened(tmp_path) as (box, _stats):
            control = ControlLane(box, stats, max_payload_bytes=4096, max_attempts=2)
            refused = control.put_raw("bad", b"x", 1, True)
            control.put_raw("good", b"y", 1, True)
            control.failed(refused, "not authorized")
            assert len(control) == 2
            control.failed(refused, "not authorized")
            control.rewind()
            left = [m.topic for m in iter(control.take, None)]
        assert left == ["good"]
        assert stats.quarantined == 1

    async def test_wait_empty_waits_for_both_lanes(self, tmp_path: Path) -> None:
        """`wait_empty` returns only once the control lane and the readings are all acknowledged."""
        async with opened(tmp_path) as (box, stats):
            control = ControlLane(box, stats, max_payload_bytes=4096, max_attempts=2)
            lanes = Lanes(control, box)
            control.put_raw("c", b"x", 1, True)
            box.put("r", FACTORY.make(1.0, 0.0), 1, False)
            for message in [lanes.take(), lanes.take()]:
                assert message is not None
                lanes.ack(message)
            await lanes.wait_empty()
            assert len(lanes) == 0

    async def test_a_cancel_while_wait_unsent_returns_is_never_swallowed(self, tmp_path: Path) -> None:
        """Whenever the drain is cancelled around the moment `wait_unsent` wakes, the cancel takes effect.

        (A cancel swallowed there left a dead connection's drain waiting forever, and no reconnect.)
        """
        async with opened(tmp_path) as (box, stats):
            for steps in range(8):
                control = ControlLane(box, stats, max_payload_bytes=4096, max_attempts=3)
                lanes = Lanes(control, box)
                while lanes.take() is not None:
                    pass
                waiting = asyncio.create_task(lanes.wait_unsent())
                for _ in range(2):
                    await asyncio.sleep(0)
                control.put_raw("c", b"x", 1, True)  # wakes the wait
                for _ in range(steps):
                    await asyncio.sleep(0)
                accepted = waiting.cancel()
                await asyncio.wait({waiting})
                assert waiting.cancelled() or not accepted, f"cancel swallowed after {steps} steps"
