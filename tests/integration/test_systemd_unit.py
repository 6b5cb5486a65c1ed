"""Tests of the shipped systemd unit: it runs the gateway and does not restart-loop on a bad config."""

from __future__ import annotations

import configparser
import re
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

    def test_is_a_notify_service_with_a_watchdog(self) -> None:
        """Type=notify, a watchdog, and only the main process may notify."""
        service = unit()["Service"]
        assert service["Type"] == "notify"
        assert service["NotifyAccess"] == "main"
        assert int(service["WatchdogSec"]) >= 10

    def test_keeps_gpio_reachable(self) -> None:
        """No option that hides the GPIO devices, /proc/cpuinfo or the gpio group; device ACLs allow them."""
        service = unit()["Service"]
        for breaks_gpio in ("PrivateDevices", "ProcSubset", "PrivateUsers", "PrivateNetwork"):
            assert breaks_gpio not in service
        text = UNIT.read_text(encoding="utf-8")
        for device in ("/dev/gpiomem rw", "char-gpiochip rw", "char-i2c rw", "char-spi rw"):
            assert f"DeviceAllow={device}" in text

    def test_security_exposure_is_at_most_1_5(self) -> None:
        """`systemd-analyze security --offline=true` scores the unit 1.5 or better (Debian's mosquitto: 9.6)."""
        analyze = shutil.which("systemd-analyze")
        assert analyze is not None, "systemd-analyze ships with systemd on every Debian machine"
        result = subprocess.run(
            [analyze, "security", "--offline=true", "--threshold=15", str(UNIT)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-400:]
        match = re.search(r"Overall exposure level for pi-mqtt-gateway.service: (\d+\.\d+)", result.stdout)
        assert match is not None
        assert float(match.group(1)) <= 1.5

    def test_reload_sends_sighup_to_the_main_process(self) -> None:
        """`systemctl reload` sends SIGHUP to the gateway itself (which re-reads its config)."""
        assert unit()["Service"]["ExecReload"] == "/bin/kill -HUP $MAINPID"

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
