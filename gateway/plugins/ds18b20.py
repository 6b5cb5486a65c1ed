"""An example plugin kind: a DS18B20 1-Wire thermometer read from the kernel's w1 sysfs files.

Registered like any third-party plugin, through the `pi_mqtt_gateway.sensors` entry point group (see
pyproject.toml), so it exercises the same seam. Enable 1-Wire with `dtoverlay=w1-gpio` (GPIO4).

    [[sensors]]
    id = "tank"
    kind = "ds18b20"
    device_id = "28-0316a2795aff"   # ls /sys/bus/w1/devices
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from gateway.config import LaxPath, PluginSensorBase
from gateway.plugins import SensorPlugin

POWER_ON_VALUE = 85.0  # what a DS18B20 reports when it was reset mid-conversion: not a temperature


class Ds18b20Config(PluginSensorBase):
    """A DS18B20 on the 1-Wire bus; value in °C."""

    kind: Literal["ds18b20"]
    device_id: Annotated[str, StringConstraints(pattern=r"^28-[0-9a-f]{12}$")]
    sysfs_root: LaxPath = Field(default=Path("/sys/bus/w1/devices"), description="where the w1 devices appear")
    unit: Annotated[str, StringConstraints(max_length=16)] | None = "°C"
    interval: Annotated[float, Field(ge=1, le=86_400, allow_inf_nan=False)] = 30.0  # a conversion takes 750 ms


class Ds18b20:
    """Reads `<sysfs_root>/<device_id>/w1_slave`: a CRC line ending in YES, then `t=<millidegrees>`."""

    def __init__(self, config: Ds18b20Config) -> None:
        self._path = config.sysfs_root / config.device_id / "w1_slave"
        if not self._path.parent.is_dir():
            raise FileNotFoundError(f"no 1-Wire device {config.device_id} in {config.sysfs_root}")

    def read(self) -> float:
        """One temperature in °C; ValueError for a failed CRC, a missing value or the power-on 85 °C."""
        lines = self._path.read_text(encoding="ascii").splitlines()
        if len(lines) < 2 or not lines[0].strip().endswith("YES"):
            raise ValueError("CRC check failed (a noisy bus or a loose wire)")
        _, found, millidegrees = lines[1].partition("t=")
        if not found:
            raise ValueError("no temperature in the w1_slave file")
        celsius = int(millidegrees) / 1000
        if celsius == POWER_ON_VALUE:
            raise ValueError("85 °C power-on value: the sensor was reset during the conversion")
        return celsius

    def close(self) -> None:
        """Nothing is held open."""


def _open(config: Any, _factory: Any) -> Ds18b20:
    return Ds18b20(config)


PLUGIN = SensorPlugin(kind="ds18b20", config_model=Ds18b20Config, open=_open)
