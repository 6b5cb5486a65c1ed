"""A real Home Assistant core against mosquitto and a running gateway (marker `ha_schema`, `scripts/ha-schema`).

Home Assistant runs from `.venv-ha-<release>` with its MQTT integration (a config entry written into its
storage) and `mqtt_statestream`, which publishes every entity's state back to the broker under `hastate/`:
that is how the test reads Home Assistant's entities and states, without a browser or a token.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from tests.conftest import make_config
from tests.ha_schema.test_ha_schema import ha_python
from tests.integration.broker import Broker
from tests.integration.conftest import subscribe
from tests.integration.gateway_runner import broker_config, running_gateway

GATEWAY = "hacore"
SENSORS = [
    {"id": "door", "kind": "digital_input", "pin": 27},
    {"id": "load", "kind": "load_average", "interval": 1.0, "retain": False},
    {"id": "cpu", "kind": "cpu_temperature", "interval": 1.0},  # its sysfs file: written by the test
]
OUTPUTS = [{"id": "pump", "kind": "relay", "pin": 5}]
# Releases whose core starts on the Python 3.13.0 here: 2025.10 and later refuse to start below 3.13.2 (their
# schemas are still checked by test_ha_schema.py).
CORE_RELEASES = os.environ.get("HA_CORE_RELEASES", "2025.4.4").split()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A mosquitto of this test's own on a free loopback port."""
    workdir = tmp_path / "broker"
    workdir.mkdir()
    instance = Broker(workdir)
    instance.start()
    yield instance
    instance.stop()


def ha_config_dir(directory: Path, broker: Broker) -> Path:
    """A Home Assistant config directory: MQTT (as a stored config entry) and mqtt_statestream to `hastate/`."""
    directory.mkdir(parents=True)
    (directory / "configuration.yaml").write_text(
        "homeassistant:\n  name: test\n  time_zone: UTC\n  unit_system: metric\n"
        "  latitude: 0\n  longitude: 0\n  elevation: 0\n"
        "mqtt_statestream:\n  base_topic: hastate\n"
        "logger:\n  default: warning\n",
        encoding="utf-8",
    )
    entry = {
        "entry_id": "01JTESTMQTTENTRY000000000",
        "version": 1,
        "minor_version": 1,
        "domain": "mqtt",
        "title": "mosquitto",
        "data": {"broker": broker.host, "port": broker.port, "discovery": True},
        "options": {},
        "source": "user",
        "unique_id": None,
        "disabled_by": None,
        "pref_disable_new_entities": False,
        "pref_disable_polling": False,
    }
    storage = directory / ".storage"
    storage.mkdir()
    (storage / "core.config_entries").write_text(
        json.dumps({"version": 1, "minor_version": 1, "key": "core.config_entries", "data": {"entries": [entry]}}),
        encoding="utf-8",
    )
    return directory


@contextmanager
def home_assistant(release: str, config_dir: Path) -> Iterator[Path]:
    """`hass` of this release on `config_dir` until the block ends; yields its log file."""
    log = config_dir / "hass.log"
    hass = ha_python(release).with_name("hass")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(hass), "-c", str(config_dir), "--skip-pip", "--log-file", str(log.with_suffix(".file.log"))],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield log.with_suffix(".file.log")
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


@pytest.mark.ha_schema
@pytest.mark.timeout(600)
@pytest.mark.parametrize("release", CORE_RELEASES)
async def test_home_assistant_shows_the_gateways_entities_with_their_states(
    release: str, broker: Broker, tmp_path: Path, mock_factory: MockFactory
) -> None:
    """Home Assistant creates the gateway's entities with the ids we chose, and their states follow the pins."""
    thermal = tmp_path / "temp"
    thermal.write_text("48312\n", encoding="ascii")  # the kernel's millidegrees: 48.312 °C
    sensors = [s | {"sensor_file": str(thermal)} if s["kind"] == "cpu_temperature" else s for s in SENSORS]
    config = make_config(
        tmp_path / "gw",
        sensors,
        outputs=OUTPUTS,
        gateway={"id": GATEWAY, "stats_interval": 5.0},
        mqtt=broker_config(broker.host, broker.port),
        homeassistant={"enabled": True},
    )
    states = {
        f"hastate/binary_sensor/{GATEWAY}_door/state": "off",
        f"hastate/switch/{GATEWAY}_pump/state": "off",
    }
    numeric = [f"hastate/sensor/{GATEWAY}_load/state", f"hastate/sensor/{GATEWAY}_cpu/state"]
    async with subscribe(broker, "hastate/#") as ha, running_gateway(config, mock_factory):
        with home_assistant(release, ha_config_dir(tmp_path / "ha", broker)) as log:
            try:
                await ha.wait_for(
                    lambda r: (
                        all(r.payloads(t)[-1:] == [v.encode()] for t, v in states.items())
                        and all(_number(r.payloads(t)[-1:]) for t in numeric)
                    ),
                    timeout=240,
                )
                mock_factory.pin(27).drive_low()  # the door opens (pulled up, active low)
                await ha.wait_for(lambda r: r.payloads(f"hastate/binary_sensor/{GATEWAY}_door/state")[-1:] == [b"on"])
                await ha.wait_for(lambda r: bool(r.payloads(f"hastate/sensor/{GATEWAY}_stats_uptime/state")))
                assert ha.payloads(f"hastate/sensor/{GATEWAY}_cpu/state")[-1] == b"48.312"  # the kernel's 48312 m°C
            except BaseException:
                output = log if log.exists() else log.with_suffix("").with_suffix(".log")
                tail = output.read_text(encoding="utf-8", errors="replace")[-4000:] if output.exists() else "no log"
                print(tail)  # noqa: T201 - Home Assistant's own account of what went wrong
                raise
            lines = log.read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if "mqtt" in line and "ERROR" in line] == []


def _number(payloads: list[bytes]) -> bool:
    try:
        float(payloads[0])
    except (IndexError, ValueError):
        return False
    return True
