"""1-Wire thermometers on the kernel's w1_therm driver: DS18S20 (10-), DS1822 (22-), DS18B20 (28-),
DS1825/MAX31850 (3b-), DS28EA00 (42-).

    [[sensors]]
    id = "tank"
    kind = "ds18b20"
    device_id = "28-0316a2795aff"   # ls /sys/bus/w1/devices

`dtoverlay=w1-gpio` (GPIO4; `,gpiopin=N` for another) binds the bus. The power-on value 85 °C and a failed CRC
are failed reads, never temperatures.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from gateway.config import BcmPin, LaxPath
from gateway.devices.chip import Chip
from gateway.devices.hardware import Hardware
from gateway.devices.kernel.w1 import W1Thermometer
from gateway.devices.simulated import SimulatedHardware, drift
from gateway.kinds.chip import ChipSensorConfig
from gateway.plugins import SensorPlugin, SupportedChip

W1_ID = r"^(10|22|28|3b|42)-[0-9a-f]{12}$"


class Ds18b20Config(ChipSensorConfig):
    """A w1_therm thermometer; value in °C."""

    kind: Literal["ds18b20"]
    device_id: Annotated[str, StringConstraints(pattern=W1_ID)]
    quantity: Literal["temperature"] = "temperature"
    sysfs_root: LaxPath | None = Field(
        default=None, description="the w1 devices directory (default: <devices.sysfs_root>/bus/w1/devices)"
    )
    interval: Annotated[float, Field(ge=1, le=86_400, allow_inf_nan=False)] = 30.0  # a conversion takes 750 ms
    pin: BcmPin | None = Field(
        default=None, description="the w1-gpio overlay's gpiopin (4 by default there), for `pins` and conflict checks"
    )

    def bus_pins(self) -> tuple[str, dict[str, int]] | None:
        """The 1-Wire bus pin when given, shared by every thermometer on it."""
        return None if self.pin is None else (f"1-Wire GPIO{self.pin}", {"data": self.pin})

    def chip_key(self) -> tuple[object, ...]:
        """One thermometer per id."""
        return ("w1", self.device_id)


def _open(config: Ds18b20Config, hardware: Hardware) -> Chip:
    return W1Thermometer(config.device_id, hardware.sysfs_root, devices=config.sysfs_root)


def _simulate(config: Ds18b20Config, hardware: SimulatedHardware) -> None:
    if config.sysfs_root is not None or not hardware.first_time(config.chip_key()):
        return
    from gateway.devices.kernel import faketree  # noqa: PLC0415 - simulation only

    temperature = drift(hardware.rng.uniform(300, 900), 9.0, 14.0, hardware.rng.uniform(0, 6))
    put = faketree.ds18b20(hardware.sysfs_root, device_id=config.device_id).update
    hardware.every_tick(lambda now: put({"temperature": temperature(now)}))


DS18B20 = SensorPlugin(
    kind="ds18b20",
    config_model=Ds18b20Config,
    open_chip=_open,
    simulate=_simulate,
    chips=(
        SupportedChip("DS18B20 (28-)", "1-Wire", "kernel", "temperature °C", "dtoverlay=w1-gpio"),
        SupportedChip("DS18S20 (10-)", "1-Wire", "kernel", "temperature °C", "dtoverlay=w1-gpio"),
        SupportedChip("DS1822 (22-)", "1-Wire", "kernel", "temperature °C", "dtoverlay=w1-gpio"),
        SupportedChip("DS1825, MAX31850 (3b-)", "1-Wire", "kernel", "temperature °C", "dtoverlay=w1-gpio"),
        SupportedChip("DS28EA00 (42-)", "1-Wire", "kernel", "temperature °C", "dtoverlay=w1-gpio"),
    ),
)
