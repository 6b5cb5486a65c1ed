"""Tests of state directory resolution."""

from __future__ import annotations

from pathlib import Path

from gateway.statedir import resolve_state_dir


class TestStateDir:
    def test_configured_path_wins(self, tmp_path: Path) -> None:
        """gateway.state_dir overrides everything."""
        assert resolve_state_dir(tmp_path, {"STATE_DIRECTORY": "/x"}) == tmp_path

    def test_systemd_state_directory(self) -> None:
        """Under systemd the first of $STATE_DIRECTORY's entries is used."""
        assert resolve_state_dir(None, {"STATE_DIRECTORY": "/var/lib/a:/var/lib/b"}) == Path("/var/lib/a")
