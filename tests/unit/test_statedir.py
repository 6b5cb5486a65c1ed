"""Tests of state directory resolution and its one-gateway lock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.errors import StateError
from gateway.statedir import StateDirLock, resolve_state_dir


class TestStateDir:
    def test_configured_path_wins(self, tmp_path: Path) -> None:
        """gateway.state_dir overrides everything."""
        assert resolve_state_dir(tmp_path, {"STATE_DIRECTORY": "/x"}) == tmp_path

    def test_systemd_state_directory(self) -> None:
        """Under systemd the first of $STATE_DIRECTORY's entries is used."""
        assert resolve_state_dir(None, {"STATE_DIRECTORY": "/var/lib/a:/var/lib/b"}) == Path("/var/lib/a")


class TestStateDirLock:
    def test_a_second_lock_is_refused_naming_the_holder(self, tmp_path: Path) -> None:
        """While one gateway holds the state directory, another is refused with the holder's PID."""
        first = StateDirLock(tmp_path)
        first.acquire()
        try:
            with pytest.raises(StateError, match=f"another gateway \\(PID {os.getpid()}\\)"):
                StateDirLock(tmp_path).acquire()
        finally:
            first.release()

    def test_a_released_lock_can_be_taken_again(self, tmp_path: Path) -> None:
        """After a clean stop the next gateway takes the lock (the file itself may stay)."""
        first = StateDirLock(tmp_path)
        first.acquire()
        first.release()
        second = StateDirLock(tmp_path)
        second.acquire()
        second.release()
        assert (tmp_path / "gateway.lock").read_text().strip() == str(os.getpid())
