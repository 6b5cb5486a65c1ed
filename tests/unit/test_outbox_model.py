"""The durable outbox against a model, driven by hypothesis: any sequence of stores, takes, acks, reconnects
(rewind), spills to disk and clean restarts keeps its promises."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gateway.config import OutboxSection
from gateway.outbox import MEMORY_ROWS, DurableOutbox, Message
from gateway.stats import Stats
from tests.unit.test_outbox import FACTORY


def reading_seq(message: Message) -> int:
    """The `seq` in a reading's payload."""
    seq: int = json.loads(message.payload)["seq"]
    return seq


class OutboxMachine(RuleBasedStateMachine):
    """The model: the reading seqs stored and not acknowledged, oldest first, and which were handed out."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="outbox-model-"))
        self.loop = asyncio.new_event_loop()
        self.box = self.open()
        self.waiting: list[int] = []
        self.handed: dict[int, Message] = {}  # handed out in this session and not acknowledged, by reading seq
        self.highest = 0
        self.sizes: dict[int, int] = {}

    def open(self) -> DurableOutbox:
        """A fresh DurableOutbox on the same directory (a restart)."""
        box = DurableOutbox(self.directory, Stats(), OutboxSection(), max_payload_bytes=4096)
        self.loop.run_until_complete(box.open())
        return box

    def store(self, value: float) -> None:
        message = self.box.put("s", FACTORY.make(value, 0.0), 1, False)
        assert message is not None
        seq = reading_seq(message)
        assert seq > self.highest, f"seq {seq} reused or out of order (highest {self.highest})"
        self.highest = seq
        self.waiting.append(seq)
        self.sizes[seq] = message.size

    @rule(value=st.floats(-1e6, 1e6, allow_nan=False))
    def put(self, value: float) -> None:
        """Store one reading: it gets a seq above every seq ever handed out."""
        self.store(value)

    @rule(count=st.integers(MEMORY_ROWS, MEMORY_ROWS + 700))
    def put_a_backlog(self, count: int) -> None:
        """Store more than the in-memory head holds: the rest spills to disk."""
        for value in range(count):
            self.store(float(value))

    @rule()
    def carry_a_state(self) -> None:
        """The control lane takes a reading seq for an output state: the one sequence stays unique and rising."""
        seq = self.box.reserve_reading_seq()
        assert seq > self.highest
        self.highest = seq

    @precondition(lambda self: len(self.handed) < len(self.waiting))
    @rule()
    def take(self) -> None:
        """The next message is the oldest stored one not yet handed out in this session."""
        message = self.box.take()
        if message is None:  # not covered by a durable seq mark yet, or a page to read back: commit first
            self.loop.run_until_complete(self.box.commit_now())
            message = self.box.take()
        assert message is not None
        expected = next(seq for seq in self.waiting if seq not in self.handed)
        assert reading_seq(message) == expected
        self.handed[expected] = message

    @precondition(lambda self: bool(self.handed))
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        """Acknowledge any handed-out message (PUBACKs may come in any order within the window)."""
        seq = data.draw(st.sampled_from(sorted(self.handed)))
        self.box.ack(self.handed.pop(seq))
        self.waiting.remove(seq)

    @rule()
    def reconnect(self) -> None:
        """A new session: everything unacknowledged is handed out again."""
        self.box.rewind()
        self.handed.clear()

    @rule()
    def restart(self) -> None:
        """A clean stop and start on the same directory: everything unacknowledged is still there."""
        self.loop.run_until_complete(self.box.close())
        self.box = self.open()
        self.handed.clear()

    @invariant()
    def length_and_bytes_match_the_model(self) -> None:
        """The outbox counts exactly the unacknowledged readings, and their bytes."""
        assert len(self.box) == len(self.waiting)
        assert self.box.bytes == sum(self.sizes[seq] for seq in self.waiting)

    def teardown(self) -> None:
        """Close the file and the loop, remove the directory."""
        self.loop.run_until_complete(self.box.close())
        self.loop.close()
        shutil.rmtree(self.directory, ignore_errors=True)


OutboxMachine.TestCase.settings = settings(max_examples=15, stateful_step_count=25, deadline=None)
TestOutboxModel = pytest.mark.slow(OutboxMachine.TestCase)
