"""TI ADS1115 (16-bit) and ADS1015 (12-bit) ADCs on I2C: one entry per input, in volts.

    [[sensors]]
    id = "soil-moisture"
    kind = "ads1115"              # or ads1015
    channel = "0"                 # "0".."3" against GND, or a differential pair "0-1", "0-3", "1-3", "2-3"
    full_scale = 4.096            # ±V: 6.144, 4.096, 2.048, 1.024, 0.512, 0.256 (user space; the kernel's is
                                  # set by its overlay and read from in_voltageN_scale)
    # address = 0x48              # 0x48..0x4b by the ADDR pin

Kernel route: `dtoverlay=ads1115` (ti-ads1015, in_voltageN_raw * in_voltageN_scale mV). User space: single-shot
conversions, big-endian registers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator

from gateway.devices.chip import Chip
from gateway.devices.hardware import Hardware
from gateway.devices.kernel.channels import Channel
from gateway.devices.kernel.chips import CHIPS, KernelChipInfo
from gateway.devices.simulated import SimulatedHardware, drift
from gateway.kinds.chip import I2cChipConfig, Setter, open_i2c_chip, simulate_i2c_chip
from gateway.plugins import SensorPlugin, SupportedChip

if TYPE_CHECKING:
    from gateway.devices.i2c.bus import I2cBus

FULL_SCALES = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256)  # the PGA's ranges (datasheet 8.6.3)
Input = Literal["0", "1", "2", "3", "0-1", "0-3", "1-3", "2-3"]


class Ads1x15Config(I2cChipConfig):
    """One input of an ADS1115 or ADS1015."""

    ADDRESSES: ClassVar[tuple[int, ...]] = CHIPS["ads1115"].addresses
    kind: Literal["ads1115", "ads1015"]
    quantity: Literal["voltage"] = "voltage"
    address: Annotated[int, Field(ge=0x03, le=0x77)] = 0x48
    channel: Input = Field(default="0", description='"0".."3" single-ended, or "0-1", "0-3", "1-3", "2-3"')
    full_scale: Annotated[float, Field(strict=False, description="±V: 6.144, 4.096, 2.048, 1.024, 0.512, 0.256")] = (
        4.096
    )
    interval: Annotated[float, Field(ge=0.05, le=86_400, allow_inf_nan=False)] = 5.0

    @model_validator(mode="after")
    def _full_scale_exists(self) -> Self:
        if self.full_scale not in FULL_SCALES:
            raise ValueError(f"full_scale {self.full_scale} is not one of {', '.join(map(str, FULL_SCALES))} (±V)")
        return self

    def chip_key(self) -> tuple[object, ...]:
        """Every input is its own conversion: entries share the bus, not a sample."""
        return ("i2c", self.bus, self.address, self.channel)

    def chip_name(self) -> str:
        """The ADC is one device however many inputs are used."""
        return f"{self.kind} i2c-{self.bus} {self.address:#04x}"


def _kernel(config: Ads1x15Config) -> KernelChipInfo:
    # ti-ads1015.c names its channels in_voltageN and in_voltageP-voltageN.
    name = "-".join(f"voltage{pin}" for pin in config.channel.split("-"))
    info = CHIPS[config.kind]
    return KernelChipInfo(
        info.kind, info.subsystem, info.name, info.addresses, info.overlay, (Channel("iio", name),), info.policy
    )


def _open(config: Ads1x15Config, hardware: Hardware) -> Chip:
    def user_space(bus: I2cBus) -> Chip:
        from gateway.devices.i2c.ads1x15 import Ads1x15  # noqa: PLC0415 - smbus2 only when used

        return Ads1x15(bus, config.address, chip=config.kind, channel=config.channel, full_scale=config.full_scale)

    return open_i2c_chip(config, hardware, _kernel(config), user_space)


def _simulate(config: Ads1x15Config, hardware: SimulatedHardware) -> None:
    values = {"voltage": drift(hardware.rng.uniform(60, 200), 0.4, 2.8, hardware.rng.uniform(0, 6))}

    def kernel(sim: SimulatedHardware) -> Setter:
        from gateway.devices.kernel import faketree  # noqa: PLC0415 - simulation only

        def build() -> faketree.FakeDevice:
            return faketree.ads1115(sim.sysfs_root, bus=config.bus, address=config.address)

        device = sim.shared(("ads1x15 tree", config.bus, config.address), build)
        return faketree.ads1115_input(device, config.channel).update

    def user_space(sim: SimulatedHardware) -> Setter:
        from gateway.devices.i2c.simulators import SimulatedAds1x15  # noqa: PLC0415 - simulation only

        chip = sim.i2c.chips.setdefault(config.address, SimulatedAds1x15(chip=config.kind))
        pin = int(config.channel.split("-")[0])  # a pair's negative input stays at 0 V

        def put(values: Mapping[str, float]) -> None:
            chip.voltages[pin] = values["voltage"]

        return put

    simulate_i2c_chip(config, hardware, values, kernel=kernel, user_space=user_space)


_ROW = ("I2C 0x48-0x4b", "kernel, i2c", "voltage V (per input)")
ADS1115 = SensorPlugin(
    kind="ads1115",
    config_model=Ads1x15Config,
    open_chip=_open,
    simulate=_simulate,
    chips=(SupportedChip("ADS1115", *_ROW, "dtoverlay=ads1115"),),
)
ADS1015 = SensorPlugin(
    kind="ads1015",
    config_model=Ads1x15Config,
    open_chip=_open,
    simulate=_simulate,
    chips=(SupportedChip("ADS1015", *_ROW, "dtoverlay=ads1015"),),
)
