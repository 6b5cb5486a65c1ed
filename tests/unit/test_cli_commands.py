"""Tests of the remaining commands through the entry point, in process (tests/integration/test_cli_processes.py
runs them as processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.errors import EX_OK, EX_USAGE

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "config" / "demo.toml")


class TestSensors:
    def test_list(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`sensors list` is a table with every sensor, its pins, interval and topic."""
        assert main(["-c", DEMO, "sensors", "list"]) == EX_OK
        out = capsys.readouterr().out
        assert out.splitlines()[0].split() == ["id", "kind", "pins", "interval", "filters", "topic"]
        assert "pin=GPIO17" in out
        assert "pi-mqtt-gateway/demo/sensor/soil" in out

    def test_read_one(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`sensors read soil` reads the simulated ADC once, without a broker."""
        monkeypatch.setenv("GATEWAY__GATEWAY__STATE_DIR", str(tmp_path))
        assert main(["-c", DEMO, "sensors", "read", "soil"]) == EX_OK
        row = capsys.readouterr().out.splitlines()[2].split()
        assert row[0] == "soil"
        assert 0.0 <= float(row[2]) <= 100.0
        assert row[-1] == "ok"

    def test_read_unknown_id_exits_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown sensor id is a usage error listing the configured ones."""
        assert main(["-c", DEMO, "sensors", "read", "nope"]) == EX_USAGE
        assert "configured: doorbell" in capsys.readouterr().err

    def test_read_on_a_machine_that_is_not_a_pi(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """With pin_factory = auto off a Pi, the error explains and suggests mock (exit 1, no traceback)."""
        path = tmp_path / "c.toml"
        path.write_text('[[sensors]]\nid = "b"\nkind = "button"\npin = 17\n', encoding="utf-8")
        assert main(["-c", str(path), "sensors", "read"]) == 1
        err = capsys.readouterr().err
        assert 'pin_factory = "mock"' in err
        assert "Traceback" not in err


class TestCompletion:
    @pytest.mark.parametrize("shell", ["bash", "zsh"])
    def test_scripts_name_every_command(self, shell: str, capsys: pytest.CaptureFixture[str]) -> None:
        """The completion script offers every command and sub-command."""
        assert main(["completion", shell]) == EX_OK
        script = capsys.readouterr().out
        for word in ("run", "check", "watch", "status", "pins", "show get set path schema", "list read"):
            assert word in script
