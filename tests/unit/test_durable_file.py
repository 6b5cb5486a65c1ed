"""The one durable write: new content in place, permission bits kept, no temporary file left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.durable_file import write_durably


class TestWriteDurably:
    def test_replaces_the_content_and_keeps_the_mode(self, tmp_path: Path) -> None:
        """An existing 0600 file gets the new text and stays 0600; nothing else appears in the directory."""
        path = tmp_path / "config.toml"
        path.write_text("old", encoding="utf-8")
        os.chmod(path, 0o600)
        write_durably(path, "new")
        assert path.read_text(encoding="utf-8") == "new"
        assert path.stat().st_mode & 0o777 == 0o600
        assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]

    def test_a_failed_rename_leaves_no_temporary_file(self, tmp_path: Path) -> None:
        """When the rename fails (the target is a directory) the error propagates and the temporary file goes."""
        target = tmp_path / "taken"
        target.mkdir()
        (target / "inside").write_text("x", encoding="utf-8")
        with pytest.raises(OSError, match="directory"):
            write_durably(target, "text")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
