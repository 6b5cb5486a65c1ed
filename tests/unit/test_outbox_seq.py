"""The outbox's seq counters and their durable mark (gateway.outbox_seq), on their own."""

from __future__ import annotations

from gateway.outbox_seq import SEQ_BLOCK, Marks, SeqMarks


class TestCounters:
    def test_a_reading_takes_both_seqs_another_message_only_a_row(self) -> None:
        """Readings advance the row and the reading seq; other messages advance only the row seq."""
        seqs = SeqMarks()
        seqs.advance(reading=True)
        seqs.advance(reading=False)
        seqs.advance(reading=True)
        assert (seqs.next_seq, seqs.next_reading) == (4, 3)

    def test_a_reserved_reading_seq_is_never_handed_out_again(self) -> None:
        """reserve_reading returns the next reading seq and moves both counters past it."""
        seqs = SeqMarks()
        assert seqs.reserve_reading() == 1
        assert seqs.reserve_reading() == 2
        assert (seqs.next_seq, seqs.next_reading) == (3, 3)

    def test_resume_continues_from_the_file(self) -> None:
        """After resume the counters continue where the file's marks say, and those marks are durable."""
        seqs = SeqMarks()
        seqs.resume(500, 300)
        assert (seqs.next_seq, seqs.next_reading, seqs.mark) == (500, 300, 500)
        assert not seqs.covers(500)

    def test_start_above_leaves_nothing_covered(self) -> None:
        """Without a file both counters start at the floor and no mark is durable."""
        seqs = SeqMarks()
        seqs.start_above(1_700_000_000_000)
        assert (seqs.next_seq, seqs.next_reading) == (1_700_000_000_000, 1_700_000_000_000)
        assert not seqs.covers(1_700_000_000_000)


class TestMarks:
    def test_a_fresh_counter_needs_a_mark_before_anything_goes_out(self) -> None:
        """Nothing is covered at first; the due marks reserve one block ahead of both counters."""
        seqs = SeqMarks()
        assert not seqs.covers(1)
        assert seqs.due() == Marks(1 + SEQ_BLOCK, 1 + SEQ_BLOCK)

    def test_a_recorded_mark_covers_the_seqs_below_it(self) -> None:
        """Once recorded, seqs below the mark may go out and no new mark is due until half the block is used."""
        seqs = SeqMarks()
        marks = seqs.due()
        assert marks is not None
        seqs.recorded(marks)
        assert seqs.covers(SEQ_BLOCK)
        assert not seqs.covers(SEQ_BLOCK + 1)
        assert seqs.due() is None

    def test_the_next_mark_is_due_past_half_a_block(self) -> None:
        """When less than half a block is left below the mark, the next one is due (rows and readings alike)."""
        seqs = SeqMarks()
        first = seqs.due()
        assert first is not None
        seqs.recorded(first)
        for _ in range(SEQ_BLOCK // 2):
            seqs.advance(reading=False)
        assert seqs.due() is None
        seqs.advance(reading=False)
        assert seqs.low()
        assert seqs.due() == Marks(seqs.next_seq + SEQ_BLOCK, 1 + SEQ_BLOCK)
