"""Tests of the shipped systemd unit: it runs the gateway and does not restart-loop on a bad config."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "pi-mqtt-gateway.service"


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT, encoding="utf-8")
    return parser


class TestUnit:
    def test_runs_the_gateway_and_stops_restarting_on_exit_78(self) -> None:
        """ExecStart runs `pi-mqtt-gateway ... run`; Restart=on-failure except for EX_CONFIG."""
        service = unit()["Service"]
        assert service["ExecStart"].split()[-1] == "run"
        assert service["Restart"] == "on-failure"
        assert service["RestartPreventExitStatus"] == "78"
        assert service["StateDirectory"] == "pi-mqtt-gateway"

    def test_waits_for_the_network(self) -> None:
        """The unit starts after network-online.target."""
        assert "network-online.target" in unit()["Unit"]["After"]

    def test_unit_file_parses_for_systemd(self, tmp_path: Path) -> None:
        """systemd-analyze finds no syntax errors (the missing ExecStart binary is expected off a Pi)."""
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            pytest.fail("systemd-analyze is part of systemd on every Debian machine; it is missing here")
        result = subprocess.run([analyze, "verify", str(UNIT)], capture_output=True, text=True, check=False)
        problems = [
            line
            for line in result.stderr.splitlines()
            if line.strip()
            and "/opt/pi-mqtt-gateway/venv/bin/pi-mqtt-gateway" not in line
            and "Command " not in line
            and "Failed to prepare filename" not in line
        ]
        assert not [p for p in problems if "Unknown key" in p or "Invalid" in p or "syntax" in p.lower()], problems
