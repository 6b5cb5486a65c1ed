"""Tests of the header map and pin conflict checks (`pins`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.cli.pinmap import BCM_TO_PHYSICAL, SPI0_PINS, Buses, conflicts, header_rows, parse_buses, pin_uses
from gateway.config import GatewayConfig
from gateway.config_loader import load_config
from gateway.plugins import config_model

ROOT = Path(__file__).resolve().parents[2]


def config(*sensors: dict[str, object]) -> GatewayConfig:
    return GatewayConfig.model_validate({"sensors": list(sensors)})


class TestPinMap:
    def test_parse_buses_from_config_txt(self) -> None:
        """dtparam/dtoverlay lines enable I2C, SPI, 1-Wire and the UART; comments are ignored."""
        text = (
            "dtparam=i2c_arm=on\n#dtparam=spi=on\ndtparam=spi=on # yes\ndtoverlay=w1-gpio,gpiopin=17\nenable_uart=1\n"
        )
        assert parse_buses(text) == Buses(i2c=True, spi=True, one_wire_pin=17, uart=True, found=True)
        assert parse_buses("dtoverlay=w1-gpio\n").one_wire_pin == 4
        assert parse_buses("") == Buses(found=True)

    def test_pin_reserved_by_an_enabled_bus_is_a_conflict(self) -> None:
        """A button on GPIO2 with I2C on, or on the 1-Wire pin, is flagged before any hardware is touched."""
        cfg = config({"id": "b", "kind": "button", "pin": 2}, {"id": "m", "kind": "motion", "pin": 4})
        problems = conflicts(cfg, Buses(i2c=True, one_wire_pin=4))
        assert any("GPIO2" in p and "I2C1 SDA" in p for p in problems)
        assert any("GPIO4" in p and "1-Wire" in p for p in problems)
        assert conflicts(cfg, Buses()) == []

    def test_an_adc_on_enabled_spi_is_not_a_conflict(self) -> None:
        """The MCP3xxx is what SPI0 is for: no conflict with SPI enabled."""
        assert conflicts(config({"id": "a", "kind": "mcp3008", "channel": 0}), Buses(spi=True)) == []

    def test_header_shows_each_sensor_at_its_physical_pin(self) -> None:
        """GPIO17 is physical pin 11 (left column); GPIO18 is pin 12 (right column)."""
        rows = header_rows(
            config({"id": "door", "kind": "button", "pin": 17}, {"id": "ldr", "kind": "light", "pin": 18})
        )
        assert len(rows) == 20
        assert rows[5] == ("door.pin", "11 GPIO17", "12 GPIO18", "ldr.pin")
        assert BCM_TO_PHYSICAL[17] == 11

    def test_pins_command(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`pins` prints the header table for the demo config and exits 0 without conflicts."""
        assert main(["-c", str(ROOT / "config" / "demo.toml"), "pins"]) == 0
        out = capsys.readouterr().out
        assert "doorbell.pin" in out
        assert "CONFLICT" not in out

    def test_outputs_are_in_the_table_and_their_conflicts_found(self) -> None:
        """A relay on GPIO2 with I2C enabled is a conflict; the demo's relay and fan appear at their pins."""
        cfg = GatewayConfig.model_validate({"outputs": [{"id": "pump", "kind": "relay", "pin": 2}]})
        assert any("GPIO2" in p and "pump" in p and "I2C1 SDA" in p for p in conflicts(cfg, Buses(i2c=True)))
        rows = header_rows(config_file(ROOT / "config" / "demo.toml"))
        cells = [cell for row in rows for cell in (row[0], row[3])]
        assert any("pump.pin (relay)" in cell for cell in cells)
        assert any("fan.pin (pwm)" in cell for cell in cells)

    def test_the_spi0_pins_are_the_kernels(self) -> None:
        """SPI0 is GPIO 11 SCLK, 10 MOSI, 9 MISO, 8 CE0, 7 CE1 (Raspberry Pi pinout), from the one SPI table."""
        assert SPI0_PINS == {11: "SPI0 SCLK", 10: "SPI0 MOSI", 9: "SPI0 MISO", 8: "SPI0 CE0", 7: "SPI0 CE1"}


def config_file(path: Path) -> GatewayConfig:
    """The config in a TOML file, as the CLI loads it."""
    return load_config(path, environ={}).config


class TestBusesTheSensorsNeed:
    def test_a_chip_on_i2c1_without_i2c_enabled_is_named_with_the_line(self) -> None:
        """A BME280 on i2c-1 with a config.txt that does not enable I2C is a problem naming `dtparam=i2c_arm=on`."""
        config = config_model().model_validate({"sensors": [{"id": "t", "kind": "bme280", "quantity": "temperature"}]})
        assert conflicts(config, parse_buses("dtparam=spi=on\n")) == [
            "I2C1 is used by the config but config.txt does not enable it: add `dtparam=i2c_arm=on` and reboot"
        ]
        assert conflicts(config, parse_buses("dtparam=i2c_arm=on\n")) == []

    def test_a_sensor_on_the_header_uart_needs_enable_uart(self) -> None:
        """A PMS5003 on /dev/serial0 shows GPIO14/15 as UART0 and needs `enable_uart=1`; on a USB adapter, nothing."""
        header = config_model().model_validate({"sensors": [{"id": "pm", "kind": "pms5003", "quantity": "pm25"}]})
        usb = config_model().model_validate(
            {"sensors": [{"id": "pm", "kind": "pms5003", "quantity": "pm25", "device": "/dev/ttyUSB0"}]}
        )
        assert {(use.bcm, use.owner) for use in pin_uses(header)} == {(14, "UART0"), (15, "UART0")}
        assert conflicts(header, parse_buses("")) == [
            "UART0 is used by the config but config.txt does not enable it: add `enable_uart=1` and reboot"
        ]
        assert conflicts(header, parse_buses("enable_uart=1\n")) == []
        assert pin_uses(usb) == []
