"""DHT11 / DHT22 (AM2302) temperature and humidity, through the kernel's dht11 driver only.

    [[sensors]]
    id = "shed-humidity"
    kind = "dht"
    chip = "dht22"                # or dht11
    pin = 4                       # the overlay's gpiopin
    quantity = "humidity"         # or temperature: one entry per quantity, one read of the chip

`dtoverlay=dht11,gpiopin=4` in config.txt binds the driver (it serves the DHT22 too). The one-wire protocol needs
microsecond timing that Python cannot give, so it is never bit-banged here; failed reads (EIO, ETIMEDOUT) are
normal for these sensors and retried; the chip needs 2 s between reads.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from gateway.config import BcmPin
from gateway.devices.chip import Chip
from gateway.devices.hardware import Hardware
from gateway.devices.kernel.chip import KernelChip
from gateway.devices.kernel.chips import CHIPS
from gateway.devices.kernel.locate import PlatformDevice
from gateway.devices.simulated import SimulatedHardware, drift
from gateway.kinds.chip import ChipSensorConfig
from gateway.plugins import SensorPlugin, SupportedChip


class DhtConfig(ChipSensorConfig):
    """One quantity of a DHT11/DHT22 on the dht11 overlay's pin."""

    kind: Literal["dht"]
    chip: Literal["dht11", "dht22"] = "dht22"
    pin: BcmPin = 4
    quantity: Literal["temperature", "humidity"]
    interval: Annotated[float, Field(ge=2, le=86_400, allow_inf_nan=False)] = 30.0  # the chip's minimum is 2 s

    def bus_pins(self) -> tuple[str, dict[str, int]]:
        """The data pin the overlay holds, shared by the entries of this one chip."""
        return (f"dht11 overlay GPIO{self.pin}", {"data": self.pin})

    def chip_key(self) -> tuple[object, ...]:
        """One chip per pin."""
        return ("dht", self.pin)

    def chip_name(self) -> str:
        """`dht22 GPIO4`."""
        return f"{self.chip} GPIO{self.pin}"


def platform_device(pin: int) -> str:
    """The overlay's device: `dht11@<pin in hex>` (the overlay sets the node's `reg` to its gpiopin)."""
    return f"dht11@{pin:x}"


def _open(config: DhtConfig, hardware: Hardware) -> Chip:
    info = CHIPS[config.chip]
    locator = PlatformDevice(platform_device(config.pin))
    return KernelChip(hardware.sysfs_root, locator, info.channels, policy=info.policy)


def _simulate(config: DhtConfig, hardware: SimulatedHardware) -> None:
    if not hardware.first_time(config.chip_key()):
        return
    from gateway.devices.kernel import faketree  # noqa: PLC0415 - simulation only

    rng = hardware.rng
    temperature = drift(rng.uniform(120, 300), 8.0, 16.0, rng.uniform(0, 6))
    humidity = drift(rng.uniform(200, 400), 60.0, 85.0, rng.uniform(0, 6))
    put = faketree.dht22(hardware.sysfs_root, gpio=config.pin).update
    hardware.every_tick(lambda now: put({"temperature": temperature(now), "humidity": humidity(now)}))


_QUANTITIES = "temperature °C, humidity %"
DHT = SensorPlugin(
    kind="dht",
    config_model=DhtConfig,
    open_chip=_open,
    simulate=_simulate,
    chips=(
        SupportedChip("DHT11", "GPIO", "kernel", _QUANTITIES, "dtoverlay=dht11,gpiopin=4"),
        SupportedChip("DHT22/AM2302", "GPIO", "kernel", _QUANTITIES, "dtoverlay=dht11,gpiopin=4"),
    ),
)
