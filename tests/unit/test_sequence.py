"""Tests of the persisted seq counter."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import StateError
from gateway.sequence import SequenceCounter


class TestSequenceCounter:
    def test_clean_restart_continues_without_gap(self, tmp_path: Path) -> None:
        """After close(), a new counter continues at the next number."""
        first = SequenceCounter(tmp_path)
        assert [first.take() for _ in range(3)] == [1, 2, 3]
        first.close()
        assert SequenceCounter(tmp_path).take() == 4

    def test_crash_never_repeats_a_number(self, tmp_path: Path) -> None:
        """Without close() (a crash), the next counter starts past every number handed out."""
        first = SequenceCounter(tmp_path, block=10)
        taken = [first.take() for _ in range(25)]
        assert SequenceCounter(tmp_path, block=10).take() > max(taken)

    def test_corrupt_file_is_a_state_error(self, tmp_path: Path) -> None:
        """A seq file that holds garbage is reported, not silently reset."""
        (tmp_path / "seq").write_text("garbage", encoding="ascii")
        with pytest.raises(StateError, match="does not hold a sequence number"):
            SequenceCounter(tmp_path)
