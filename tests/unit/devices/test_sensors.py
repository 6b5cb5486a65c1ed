"""Each sensor kind, built on gpiozero's MockFactory pins, yields values that validate as Readings."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockChargingPin, MockFactory, MockTriggerPin

from gateway.config import GatewayConfig, sensor_unit
from gateway.devices.sensors import EdgeInput, PolledInput, open_sensor
from gateway.devices.simulation import VREF, MockMcp3xxx
from gateway.errors import DeviceError
from gateway.reading import Reading, ReadingFactory


def sensor(**fields: Any) -> Any:
    return GatewayConfig.model_validate({"sensors": [fields]}).sensors[0]


def validated(config: Any, value: object) -> Reading:
    factory = ReadingFactory(
        config.id,
        sensor_unit(config),
        binary=isinstance(value, bool),
        minimum=getattr(config, "min", None),
        maximum=getattr(config, "max", None),
    )
    return factory.make(value, time.time())


class TestEdgeInputs:
    @pytest.mark.parametrize(
        ("kind", "idle_level", "active_level"),
        [
            ("button", "high", "low"),  # pulled up: pressed pulls the pin low
            ("digital_input", "high", "low"),
            ("motion", "low", "high"),  # pulled down: a PIR drives it high
            ("line", "low", "high"),
        ],
    )
    def test_edges_report_every_change_in_order(
        self, mock_factory: MockFactory, kind: str, idle_level: str, active_level: str
    ) -> None:
        """Driving the mock pin calls back with the active state for every edge, in order."""
        config = sensor(id="in", kind=kind, pin=17)
        driver = open_sensor(config, mock_factory)
        assert isinstance(driver, EdgeInput)
        events: list[bool] = []
        assert driver.start(lambda active, _ts: events.append(active)) is False
        pin = mock_factory.pin(17)
        for _ in range(3):
            getattr(pin, f"drive_{active_level}")()
            getattr(pin, f"drive_{idle_level}")()
        assert events == [True, False] * 3
        assert validated(config, events[0]).value is True
        driver.close()

    def test_floating_pin_with_active_low(self, mock_factory: MockFactory) -> None:
        """pull = 'none', active_state = 'low': a low pin is active."""
        config = sensor(id="in", kind="digital_input", pin=5, pull="none", active_state="low")
        driver = open_sensor(config, mock_factory)
        assert isinstance(driver, EdgeInput)
        mock_factory.pin(5).drive_low()
        assert driver.read() is True
        driver.close()

    def test_state_at_start_is_reported(self, mock_factory: MockFactory) -> None:
        """start() returns the current state, so it can be published before any edge."""
        config = sensor(id="in", kind="motion", pin=4)
        driver = open_sensor(config, mock_factory)
        mock_factory.pin(4).drive_high()  # after set-up: configuring the pull resets a mock pin
        assert isinstance(driver, EdgeInput)
        assert driver.start(lambda _a, _t: None) is True
        driver.close()

    def test_a_pin_in_use_is_a_device_error(self, mock_factory: MockFactory) -> None:
        """gpiozero's errors come out as our DeviceError naming the sensor."""
        first = open_sensor(sensor(id="a", kind="button", pin=17), mock_factory)
        with pytest.raises(DeviceError, match="'b'"):
            open_sensor(sensor(id="b", kind="button", pin=17), mock_factory)
        first.close()


class TestPolledInputs:
    @pytest.mark.parametrize(
        ("chip", "channel", "bits"),
        [
            ("mcp3008", 5, 10),
            ("mcp3004", 3, 10),
            ("mcp3002", 1, 10),
            ("mcp3208", 7, 12),
            ("mcp3204", 2, 12),
            ("mcp3202", 0, 12),
        ],
    )
    def test_mcp3xxx_channel_with_scale_and_offset(
        self, mock_factory: MockFactory, chip: str, channel: int, bits: int
    ) -> None:
        """An MCP3xxx channel at half of VREF reads 0.5 x scale + offset, within one LSB."""
        adc = MockMcp3xxx(mock_factory, 0, 0, chip)
        adc.voltages[channel] = lambda _t: VREF / 2
        config = sensor(
            id="adc", kind="mcp3008", chip=chip, channel=channel, scale=200.0, offset=-50.0, min=-50.0, max=150.0
        )
        driver = open_sensor(config, mock_factory)
        assert isinstance(driver, PolledInput)
        value = driver.read()
        assert value == pytest.approx(50.0, abs=200.0 / 2**bits)
        assert validated(config, value).value == value
        driver.close()

    def test_light_sensor(self, mock_factory: MockFactory) -> None:
        """The LDR reads a fraction between 0 and 1 from a MockChargingPin."""
        mock_factory.pin(18, pin_class=MockChargingPin, charge_time=0.005)
        config = sensor(id="light", kind="light", pin=18)
        driver = open_sensor(config, mock_factory)
        value = driver.read()
        assert isinstance(value, float)
        assert 0.0 <= value <= 1.0
        validated(config, value)
        driver.close()

    def test_distance_sensor(self, mock_factory: MockFactory) -> None:
        """The HC-SR04 reads metres from a MockTriggerPin's echo time."""
        echo = mock_factory.pin(24)
        mock_factory.pin(23, pin_class=MockTriggerPin, echo_pin=echo, echo_time=0.002)
        config = sensor(id="sonar", kind="distance", echo=24, trigger=23)
        driver = open_sensor(config, mock_factory)
        value = driver.read()
        assert value == pytest.approx(0.343, abs=0.25)  # software timing on a busy machine is coarse
        assert validated(config, value).unit == "m"
        driver.close()

    def test_cpu_temperature_from_a_sysfs_file(self, mock_factory: MockFactory, tmp_path: Path) -> None:
        """Millidegrees in the sensor file become °C."""
        (tmp_path / "temp").write_text("51234\n", encoding="ascii")
        config = sensor(id="cpu", kind="cpu_temperature", sensor_file=str(tmp_path / "temp"))
        driver = open_sensor(config, mock_factory)
        assert driver.read() == pytest.approx(51.234)
        assert validated(config, driver.read()).unit == "°C"
        driver.close()

    def test_missing_sysfs_file_is_a_read_error(self, mock_factory: MockFactory, tmp_path: Path) -> None:
        """A CPU temperature with no sysfs file is a DeviceError naming the sensor, not a stray OSError."""
        config = sensor(id="cpu", kind="cpu_temperature", sensor_file=str(tmp_path / "none"))
        with pytest.raises(DeviceError, match=r"'cpu'.*No such file"):
            open_sensor(config, mock_factory).read()

    def test_load_average_and_disk_usage(self, mock_factory: MockFactory) -> None:
        """The internal devices read this machine's real values."""
        for config in (
            sensor(id="load", kind="load_average", minutes=5),
            sensor(id="disk", kind="disk_usage", filesystem="/"),
        ):
            driver = open_sensor(config, mock_factory)
            value = driver.read()
            assert isinstance(value, float)
            assert value >= 0.0
            validated(config, value)
            driver.close()
