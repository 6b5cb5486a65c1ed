"""ROHM BH1750 ambient light sensor on I2C, in lux.

    [[sensors]]
    id = "porch-light"
    kind = "bh1750"
    # address = 0x23              # 0x5c with ADDR high

Kernel route: `dtoverlay=i2c-sensor,bh1750` (IIO raw * scale). User space: one-time high-resolution mode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import Field

from gateway.devices.chip import Chip
from gateway.devices.hardware import Hardware
from gateway.devices.kernel.chips import CHIPS
from gateway.devices.simulated import SimulatedHardware, drift
from gateway.kinds.chip import I2cChipConfig, Setter, attribute_setter, open_i2c_chip, simulate_i2c_chip
from gateway.plugins import SensorPlugin, SupportedChip

if TYPE_CHECKING:
    from gateway.devices.i2c.bus import I2cBus


class Bh1750Config(I2cChipConfig):
    """A BH1750's illuminance."""

    ADDRESSES: ClassVar[tuple[int, ...]] = CHIPS["bh1750"].addresses
    kind: Literal["bh1750"]
    quantity: Literal["illuminance"] = "illuminance"
    address: Annotated[int, Field(ge=0x03, le=0x77)] = 0x23


def _open(config: Bh1750Config, hardware: Hardware) -> Chip:
    def user_space(bus: I2cBus) -> Chip:
        from gateway.devices.i2c.bh1750 import Bh1750  # noqa: PLC0415 - smbus2 only when used

        return Bh1750(bus, config.address)

    return open_i2c_chip(config, hardware, CHIPS["bh1750"], user_space)


def _simulate(config: Bh1750Config, hardware: SimulatedHardware) -> None:
    values = {"illuminance": drift(hardware.rng.uniform(300, 900), 50.0, 900.0)}

    def kernel(sim: SimulatedHardware) -> Setter:
        from gateway.devices.kernel import faketree  # noqa: PLC0415 - simulation only

        return faketree.bh1750(sim.sysfs_root, bus=config.bus, address=config.address).update

    def user_space(sim: SimulatedHardware) -> Setter:
        from gateway.devices.i2c.simulators import SimulatedBh1750  # noqa: PLC0415 - simulation only

        chip = SimulatedBh1750()
        sim.i2c.chips[config.address] = chip
        return attribute_setter(chip)

    simulate_i2c_chip(config, hardware, values, kernel=kernel, user_space=user_space)


BH1750 = SensorPlugin(
    kind="bh1750",
    config_model=Bh1750Config,
    open_chip=_open,
    simulate=_simulate,
    chips=(SupportedChip("BH1750", "I2C 0x23/0x5c", "kernel, i2c", "illuminance lx", "dtoverlay=i2c-sensor,bh1750"),),
)
