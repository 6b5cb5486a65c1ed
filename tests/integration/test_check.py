"""`pi-mqtt-gateway check` against a real broker and against a closed port."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.cli.config_edit import render_toml
from gateway.errors import EX_CONFIG, EX_FAILURE, EX_OK
from tests.integration.broker import Broker, free_port
from tests.integration.proxy import MisbehavingServer


def write(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "config.toml"
    data = {
        "gateway": {"id": "check", "state_dir": str(tmp_path / "state")},
        "gpio": {"pin_factory": "mock"},
        "mqtt": {"host": "127.0.0.1", "port": port},
        "sensors": [{"id": "soil", "kind": "mcp3008", "channel": 2}, {"id": "door", "kind": "button", "pin": 17}],
    }
    path.write_text(render_toml(data), encoding="utf-8")
    return path


def with_mqtt(path: Path, *lines: str) -> Path:
    """The config file with these `key = value` lines added to its [mqtt] table."""
    text = path.read_text(encoding="utf-8").replace("port =", "\n".join([*lines, "port ="]))
    path.write_text(text, encoding="utf-8")
    return path


class TestCheck:
    def test_all_checks_pass_with_a_broker(
        self, broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With a broker and mock pins every line is ok and the exit code is 0."""
        assert main(["--config", str(write(tmp_path, broker.port)), "check", "--timeout", "5"]) == EX_OK
        out = capsys.readouterr().out
        assert "[FAIL]" not in out
        assert "sensor soil (mcp3008)" in out
        assert f"broker 127.0.0.1:{broker.port}: connected" in out

    def test_a_pin_owned_by_the_id_eeprom_fails_the_check(
        self, broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A sensor on GPIO0 (the HAT ID EEPROM bus) is flagged by `check` before the hardware is touched."""
        path = tmp_path / "c.toml"
        path.write_text(
            render_toml(
                {
                    "gpio": {"pin_factory": "mock"},
                    "mqtt": {"host": "127.0.0.1", "port": broker.port},
                    "sensors": [{"id": "b", "kind": "button", "pin": 0}],
                }
            ),
            encoding="utf-8",
        )
        assert main(["--config", str(path), "check", "--timeout", "5"]) == EX_FAILURE
        assert "[FAIL] pins: GPIO0 (b pin) is reserved by ID EEPROM SDA" in capsys.readouterr().out

    def test_no_broker_exits_1_with_a_hint(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A closed port fails the broker check (exit 1) with a hint, no traceback."""
        assert main(["--config", str(write(tmp_path, free_port())), "check", "--timeout", "5"]) == EX_FAILURE
        out = capsys.readouterr().out
        assert "[FAIL] broker" in out
        assert "Traceback" not in out


class TestCheckNamesBrokerLimits:
    def test_a_broker_without_qos2_fails_the_check_by_name(
        self, qos1_broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """mqtt.qos = 2 against mosquitto with max_qos 1: the check names the missing QoS 2 and mqtt.qos = 1."""
        path = with_mqtt(write(tmp_path, qos1_broker.port), "qos = 2")
        assert main(["--config", str(path), "check", "--timeout", "20"]) == EX_FAILURE
        out = capsys.readouterr().out
        assert "closed the connection on a QoS 2 publish" in out
        assert "mqtt.qos = 1" in out

    def test_a_broker_with_qos2_passes_the_qos2_line(
        self, broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """mqtt.qos = 2 against a stock mosquitto: the check says QoS 2 publishes are accepted."""
        path = with_mqtt(write(tmp_path, broker.port), "qos = 2")
        assert main(["--config", str(path), "check", "--timeout", "20"]) == EX_OK
        assert "accepts QoS 2 publishes" in capsys.readouterr().out

    async def test_a_silent_broker_with_mqtt5_is_named_by_the_check(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """protocol = "5" against a server that never answers: the check suggests MQTT 3.1.1 at once."""
        async with MisbehavingServer("silent") as silent:
            path = with_mqtt(write(tmp_path, silent.port), 'protocol = "5"', "publish_timeout = 1.0")
            code = await asyncio.to_thread(main, ["--config", str(path), "check", "--timeout", "20"])
        assert code == EX_FAILURE
        assert 'mqtt.protocol = "3.1.1"' in capsys.readouterr().out

    def test_check_and_run_refuse_a_topic_too_long_alike(self, tmp_path: Path) -> None:
        """A sensor topic over mqtt.max_topic_bytes: `check` and `run` both exit 78 (systemd then stops)."""
        path = with_mqtt(write(tmp_path, free_port()), "max_topic_bytes = 16")
        assert main(["--config", str(path), "check", "--timeout", "5"]) == EX_CONFIG
        assert main(["--config", str(path), "run"]) == EX_CONFIG
