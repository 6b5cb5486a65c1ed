"""Home Assistant's unit rules at config load, display precision and entity ids in discovery payloads."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config_loader import load_config
from gateway.errors import ConfigError
from gateway.homeassistant.discovery import entities
from gateway.homeassistant.units import DEVICE_CLASS_UNITS, unit_problem
from tests.unit.test_discovery import every_kind


def write(tmp_path: Path, sensor: str) -> Path:
    """A config file with one sensor table."""
    path = tmp_path / "config.toml"
    path.write_text(f"[[sensors]]\n{sensor}\n", encoding="utf-8")
    return path


class TestUnitsAtLoad:
    def test_an_override_unit_that_does_not_fit_its_class_is_refused_naming_the_sensor(self, tmp_path: Path) -> None:
        """`unit_of_measurement = "C"` on a temperature sensor: exit 78 naming the sensor, the unit and °C."""
        path = write(tmp_path, 'id = "cpu"\nkind = "cpu_temperature"\nhomeassistant = { unit_of_measurement = "C" }')
        with pytest.raises(ConfigError) as caught:
            load_config(path, environ={})
        rendered = caught.value.render()
        assert 'sensors[0] "cpu" (cpu_temperature)' in rendered
        assert "'C' does not fit device_class 'temperature'" in rendered
        assert "K, °C, °F" in rendered

    def test_an_override_class_that_does_not_fit_the_unit_is_refused(self, tmp_path: Path) -> None:
        """A disk in % declared a `temperature` is refused: the class's units are named."""
        path = write(tmp_path, 'id = "disk"\nkind = "disk_usage"\nhomeassistant = { device_class = "temperature" }')
        with pytest.raises(ConfigError, match="'%' does not fit device_class 'temperature'"):
            load_config(path, environ={})

    def test_a_fitting_override_and_the_micro_sign_spelling_are_accepted(self, tmp_path: Path) -> None:
        """pm25 (a class with digits) in µg/m³ (micro sign, which Home Assistant rewrites to the Greek mu) loads."""
        sensor = 'id = "dust"\nkind = "mcp3008"\nchannel = 0\nunit = "µg/m³"\nhomeassistant = { device_class = "pm25" }'
        assert load_config(write(tmp_path, sensor), environ={}).config.sensors[0].id == "dust"

    def test_every_default_of_every_kind_fits(self) -> None:
        """No discovery payload we build by default has a unit its device class refuses."""
        for entity in entities(every_kind()):
            problem = unit_problem(entity.config.get("device_class"), entity.config.get("unit_of_measurement"))
            assert problem is None, (entity.object_id, problem)

    def test_classes_without_units_and_unlisted_classes(self) -> None:
        """`aqi` takes no unit; a class outside the table (enum) takes any."""
        assert DEVICE_CLASS_UNITS["aqi"] == frozenset({None})
        assert unit_problem("aqi", "AQI") is not None
        assert unit_problem("aqi", None) is None
        assert unit_problem("enum", "anything") is None


class TestDiscoveryKeys:
    def test_entity_ids_for_old_and_new_home_assistant(self) -> None:
        """Every entity sends `object_id` (up to 2025.9) and `default_entity_id` = `<component>.<object_id>`."""
        for entity in entities(every_kind()):
            assert entity.config["default_entity_id"] == f"{entity.component}.{entity.config['object_id']}"

    def test_numeric_sensors_suggest_a_display_precision_and_an_override_wins(self) -> None:
        """A temperature shows 1 decimal by default; `suggested_display_precision` in the overrides wins."""
        config = every_kind()
        cpu = next(e for e in entities(config) if e.object_id == "cpu")
        assert cpu.config["suggested_display_precision"] == 1
        data = config.model_dump(mode="json")
        for sensor in data["sensors"]:
            if sensor["id"] == "cpu":
                sensor["homeassistant"] = {"suggested_display_precision": 3}
        changed = config.model_validate(data)
        cpu = next(e for e in entities(changed) if e.object_id == "cpu")
        assert cpu.config["suggested_display_precision"] == 3
