"""The plugin seam: the DS18B20 kind comes in through the entry point group and reads a fake sysfs tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from gateway.config import GatewayConfig
from gateway.config_loader import load_config
from gateway.devices.sensors import open_sensor
from gateway.errors import ConfigError, DeviceError
from gateway.plugins import GROUP, config_model, config_model_for, installed
from gateway.plugins.ds18b20 import Ds18b20Config

DEVICE = "28-0316a2795aff"
GOOD = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n"


def fake_w1(root: Path, text: str = GOOD) -> Path:
    """A sysfs tree with one DS18B20 whose w1_slave file holds `text`."""
    (root / DEVICE).mkdir(parents=True)
    (root / DEVICE / "w1_slave").write_text(text, encoding="ascii")
    return root


def sensor(root: Path) -> Ds18b20Config:
    data = {"sensors": [{"id": "tank", "kind": "ds18b20", "device_id": DEVICE, "sysfs_root": str(root)}]}
    config = config_model().model_validate(data).sensors[0]
    assert isinstance(config, Ds18b20Config)
    return config


class TestRegistry:
    def test_the_example_kind_is_installed_through_the_entry_point_group(self) -> None:
        """`ds18b20` is found in the pi_mqtt_gateway.sensors group, and nothing failed to load."""
        plugins = installed()
        assert GROUP == "pi_mqtt_gateway.sensors"
        assert "ds18b20" in plugins.by_kind
        assert plugins.broken == ()

    def test_a_bad_plugin_config_is_a_config_error_naming_the_key(self, tmp_path: Path) -> None:
        """A plugin's keys are validated like a built-in kind's: exit 78 with the key named."""
        path = tmp_path / "config.toml"
        path.write_text('[[sensors]]\nid = "tank"\nkind = "ds18b20"\ndevice_id = "not-an-id"\n', encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_config(path, {})
        assert "device_id" in caught.value.render()

    def test_an_unknown_kind_lists_the_plugin_kinds_too(self, tmp_path: Path) -> None:
        """A kind nobody provides is refused, and the message names ds18b20 among the choices."""
        path = tmp_path / "config.toml"
        path.write_text('[[sensors]]\nid = "x"\nkind = "scd41"\n', encoding="utf-8")
        with pytest.raises(ConfigError, match="ds18b20"):
            load_config(path, {})


class TestBuiltinKindsAreComponents:
    def test_every_polled_builtin_kind_is_an_installed_component_with_its_own_model(self) -> None:
        """mcp3008, light, distance and the Pi's health kinds come through the entry points like a plugin,
        each with GatewayConfig's very model (a third party cannot replace one)."""
        polled = {"mcp3008", "light", "distance", "cpu_temperature", "load_average", "disk_usage"}
        by_kind = installed().by_kind
        assert polled <= set(by_kind)
        for kind in polled:
            model = by_kind[kind].config_model
            assert model.model_fields["kind"].annotation.__args__[0] == kind  # type: ignore[union-attr]
            assert by_kind[kind].chips, f"{kind} has no README row"

    def test_a_builtin_kind_opens_through_its_component(self, mock_factory: MockFactory) -> None:
        """A load_average sensor opens through the registry and reads inline (its component says it never blocks)."""
        config = GatewayConfig.model_validate({"sensors": [{"id": "load", "kind": "load_average"}]})
        driver = open_sensor(config.sensors[0], mock_factory)
        assert getattr(driver, "blocking", True) is False
        assert isinstance(driver.read(), float)
        driver.close()


class TestDs18b20:
    def test_reads_millidegrees(self, tmp_path: Path, mock_factory: MockFactory) -> None:
        """t=23125 is 23.125 °C, read through the device layer like any sensor."""
        driver = open_sensor(sensor(fake_w1(tmp_path)), mock_factory)
        assert driver.read() == 23.125
        driver.close()

    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            ("72 01 : crc=57 NO\n72 01 t=23125\n", "CRC"),
            ("72 01 : crc=57 YES\n72 01 t=85000\n", "power-on"),
            ("72 01 : crc=57 YES\n", "truncated"),
            ("72 01 : crc=57 YES\n72 01 nothing\n", "no t="),
        ],
    )
    def test_bad_reads_are_device_errors(
        self, tmp_path: Path, mock_factory: MockFactory, text: str, reason: str
    ) -> None:
        """A failed CRC, the 85 °C reset value or a garbled file is a failed read (counted, then offline)."""
        driver = open_sensor(sensor(fake_w1(tmp_path, text)), mock_factory)
        with pytest.raises(DeviceError, match=reason):
            driver.read()

    def test_a_missing_device_fails_at_set_up(self, tmp_path: Path, mock_factory: MockFactory) -> None:
        """A device id that is not on the bus is a clear error when the sensor is built."""
        with pytest.raises(DeviceError, match="no 1-Wire device"):
            open_sensor(sensor(tmp_path), mock_factory)


class TestModelChoice:
    def test_plugins_load_only_for_a_config_that_uses_one(self) -> None:
        """Built-in kinds validate with the plain model (no entry point scan); a plugin kind gets the extended one."""
        assert config_model_for({"sensors": [{"kind": "button"}]}) is GatewayConfig
        assert config_model_for({"sensors": [{"kind": "ds18b20"}]}) is config_model()
        assert config_model_for({"sensors": [{"kind": []}, "x"], "gateway": 1}) is GatewayConfig  # junk: no crash
