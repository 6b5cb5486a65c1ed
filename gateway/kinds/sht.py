"""Temperature and humidity chips on I2C: Sensirion SHT3x/SHT4x, TE HTU21D, Silicon Labs Si7021, Aosong AHT10/AHT20.

    [[sensors]]
    id = "cellar-humidity"
    kind = "sht"
    chip = "sht3x"                # sht4x | htu21d | si7021 | aht10 | aht20
    quantity = "humidity"         # or temperature: one entry per quantity, one read of the chip
    # address = 0x44              # default: the chip's usual address

Kernel route: `dtoverlay=i2c-sensor,sht3x` (sht4x, htu21, si7020, aht10). User space: our driver
(gateway.devices.i2c.sht): command, wait, 6 bytes, every CRC-8 checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from pydantic import model_validator

from gateway.devices.chip import Chip
from gateway.devices.hardware import Hardware
from gateway.devices.kernel.chips import CHIPS, KernelChipInfo
from gateway.devices.simulated import SimulatedHardware, drift
from gateway.kinds.chip import I2cChipConfig, Setter, attribute_setter, open_i2c_chip, simulate_i2c_chip
from gateway.plugins import SensorPlugin, SupportedChip

if TYPE_CHECKING:
    from gateway.devices.i2c.bus import I2cBus

Model = Literal["sht3x", "sht4x", "htu21d", "si7021", "aht10", "aht20"]
ADDRESSES: dict[str, tuple[int, ...]] = {
    "sht3x": (0x44, 0x45),
    "sht4x": (0x44, 0x45, 0x46),
    "htu21d": (0x40,),
    "si7021": (0x40,),
    "aht10": (0x38, 0x39),
    "aht20": (0x38,),
}
KERNEL: dict[str, KernelChipInfo] = {
    "sht3x": CHIPS["sht3x"],
    "sht4x": CHIPS["sht4x"],
    "htu21d": CHIPS["htu21"],
    "si7021": CHIPS["si7021"],
    "aht10": CHIPS["aht10"],
    "aht20": CHIPS["aht10"],  # aht10.c serves the AHT20 too
}


class ShtConfig(I2cChipConfig):
    """One quantity of a temperature/humidity chip."""

    ADDRESSES: ClassVar[tuple[int, ...]] = ()  # by chip, checked below
    kind: Literal["sht"]
    chip: Model = "sht3x"
    quantity: Literal["temperature", "humidity"]

    @model_validator(mode="before")
    @classmethod
    def _default_address(cls, data: Any) -> Any:
        if isinstance(data, dict) and "address" not in data:
            chip = data.get("chip", "sht3x")
            return {**data, "address": ADDRESSES[chip][0]} if chip in ADDRESSES else data
        return data

    @model_validator(mode="after")
    def _aht_through_the_kernel(self) -> Self:
        if self.chip.startswith("aht") and self.backend == "i2c":
            raise ValueError(
                f"the {self.chip} is read through the kernel's aht10 driver only: backend 'auto' or 'kernel'"
            )
        return self

    @model_validator(mode="after")
    def _address_of_chip(self) -> Self:
        if self.address not in ADDRESSES[self.chip]:
            shown = ", ".join(f"{a:#04x}" for a in ADDRESSES[self.chip])
            raise ValueError(f"a {self.chip} answers at {shown}, not at {self.address:#04x}")
        return self

    def chip_name(self) -> str:
        """`sht3x i2c-1 0x44`."""
        return f"{self.chip} i2c-{self.bus} {self.address:#04x}"


def _open(config: ShtConfig, hardware: Hardware) -> Chip:
    def user_space(bus: I2cBus) -> Chip:
        from gateway.devices.i2c.sht import Sht  # noqa: PLC0415 - smbus2 only when used

        return Sht(bus, config.address, chip=config.chip)

    ours = None if config.chip.startswith("aht") else user_space  # the AHTs: the kernel's aht10 driver only
    return open_i2c_chip(config, hardware, KERNEL[config.chip], ours)


def _simulate(config: ShtConfig, hardware: SimulatedHardware) -> None:
    rng = hardware.rng
    values = {
        "temperature": drift(rng.uniform(120, 300), 14.0, 20.0, rng.uniform(0, 6)),
        "humidity": drift(rng.uniform(200, 400), 55.0, 80.0, rng.uniform(0, 6)),
    }

    def kernel(sim: SimulatedHardware) -> Setter:
        from gateway.devices.kernel import faketree  # noqa: PLC0415 - simulation only

        chip = KERNEL[config.chip].name or config.chip
        return faketree.sht3x(sim.sysfs_root, bus=config.bus, address=config.address, chip=chip).update

    def user_space(sim: SimulatedHardware) -> Setter:
        from gateway.devices.i2c.simulators import SimulatedHtu21d, SimulatedSht  # noqa: PLC0415 - simulation only

        sensirion = config.chip in ("sht3x", "sht4x")
        chip = SimulatedSht(chip=config.chip) if sensirion else SimulatedHtu21d()
        sim.i2c.chips[config.address] = chip
        return attribute_setter(chip)

    hwmon = KERNEL[config.chip].subsystem == "hwmon"  # the fake tree has the hwmon drivers' layout
    simulate_i2c_chip(config, hardware, values, kernel=kernel if hwmon else None, user_space=user_space)


_QUANTITIES = "temperature °C, humidity %"
SHT = SensorPlugin(
    kind="sht",
    config_model=ShtConfig,
    open_chip=_open,
    simulate=_simulate,
    chips=(
        SupportedChip("SHT30/SHT31/SHT35", "I2C 0x44/0x45", "kernel, i2c", _QUANTITIES, "dtoverlay=i2c-sensor,sht3x"),
        SupportedChip(
            "SHT40/SHT41/SHT45", "I2C 0x44/0x45/0x46", "kernel, i2c", _QUANTITIES, "dtoverlay=i2c-sensor,sht4x"
        ),
        SupportedChip("HTU21D", "I2C 0x40", "kernel, i2c", _QUANTITIES, "dtoverlay=i2c-sensor,htu21"),
        SupportedChip("Si7021", "I2C 0x40", "kernel, i2c", _QUANTITIES, "dtoverlay=i2c-sensor,si7020"),
        SupportedChip("AHT10/AHT20", "I2C 0x38", "kernel", _QUANTITIES, "dtoverlay=i2c-sensor,aht10"),
    ),
)
