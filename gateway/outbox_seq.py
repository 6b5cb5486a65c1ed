"""The outbox's two `seq` counters and the durable mark that covers them.

Every stored message takes a row seq; readings also take a reading seq (the `seq` in their payload), so
messages of our own (availability, discovery) leave no gaps in the readings' numbering. The mark is stored
in the file ahead of use, `SEQ_BLOCK` numbers at a time: a message is handed out only below it, so no seq is
reused even after power loss (a crash leaves a gap of unused numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

SEQ_BLOCK = 10_000  # seq numbers reserved per durable mark


@dataclass(frozen=True, slots=True)
class Marks:
    """The marks to record with a commit: every row seq below `rows`, every reading seq below `readings`."""

    rows: int
    readings: int


class SeqMarks:
    """The next row and reading seqs, and the row mark known to be durable."""

    def __init__(self) -> None:
        self.next_seq = 1
        self.next_reading = 1
        self.mark = 1  # row seqs below this are covered by a durable mark

    def resume(self, next_seq: int, next_reading: int) -> None:
        """Continue from what the file recorded (its marks are durable by definition)."""
        self.next_seq = self.mark = next_seq
        self.next_reading = next_reading

    def start_above(self, floor: int) -> None:
        """Without a readable file: both counters start at `floor`, and no mark is durable."""
        self.next_seq = self.next_reading = floor

    def advance(self, *, reading: bool) -> None:
        """A message took the next row seq (and, for a reading, the next reading seq)."""
        self.next_seq += 1
        if reading:
            self.next_reading += 1

    def reserve_reading(self) -> int:
        """A reading seq for a reading sent outside the outbox; it takes a row seq too, so the marks cover it."""
        seq = self.next_reading
        self.advance(reading=True)
        return seq

    def covers(self, seq: int) -> bool:
        """Whether a durable mark is above row seq `seq` (it may be handed out)."""
        return seq < self.mark

    def low(self) -> bool:
        """Whether less than half a block is left below the mark: time to record the next one."""
        return self.next_seq + SEQ_BLOCK // 2 > self.mark

    def due(self) -> Marks | None:
        """The marks the next commit must record, or None if the current one still covers enough."""
        if not self.low():
            return None
        # The readings' mark moves with the row mark: readings are a subset of rows, so a reading handed out
        # under a durable row mark is under its durable reading mark too.
        return Marks(self.next_seq + SEQ_BLOCK, self.next_reading + SEQ_BLOCK)

    def recorded(self, marks: Marks) -> None:
        """`marks` are durable now."""
        self.mark = marks.rows
