"""Bosch BME280 (temperature, humidity, pressure) and BMP280 (temperature, pressure) on I2C.

    [[sensors]]
    id = "greenhouse-temperature"
    kind = "bme280"
    quantity = "temperature"      # humidity | pressure: one entry per quantity, one read of the chip
    address = 0x76                # 0x77 when SDO is pulled high

Kernel route: `dtoverlay=i2c-sensor,bme280` (or `bmp280`; add `,addr=0x77`), driver bmp280 (IIO). User space:
our driver (gateway.devices.i2c.bme280), forced mode, the datasheet's compensation.
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

I2cAddress = Annotated[int, Field(ge=0x03, le=0x77, description="0x76, or 0x77 with SDO high")]


class Bme280Config(I2cChipConfig):
    """One quantity of a BME280."""

    ADDRESSES: ClassVar[tuple[int, ...]] = CHIPS["bme280"].addresses
    kind: Literal["bme280"]
    quantity: Literal["temperature", "humidity", "pressure"]
    address: I2cAddress = 0x76


class Bmp280Config(I2cChipConfig):
    """One quantity of a BMP280 (no humidity)."""

    ADDRESSES: ClassVar[tuple[int, ...]] = CHIPS["bmp280"].addresses
    kind: Literal["bmp280"]
    quantity: Literal["temperature", "pressure"]
    address: I2cAddress = 0x76


def _open(config: Bme280Config | Bmp280Config, hardware: Hardware) -> Chip:
    def user_space(bus: I2cBus) -> Chip:
        from gateway.devices.i2c.bme280 import Bme280  # noqa: PLC0415 - smbus2 only when used

        return Bme280(bus, config.address, chip=config.kind)

    return open_i2c_chip(config, hardware, CHIPS[config.kind], user_space)


def _simulate(config: Bme280Config | Bmp280Config, hardware: SimulatedHardware) -> None:
    rng = hardware.rng
    values = {
        "temperature": drift(rng.uniform(120, 300), 18.0, 26.0, rng.uniform(0, 6)),
        "pressure": drift(rng.uniform(600, 1200), 1005.0, 1021.0),
    }
    if config.kind == "bme280":
        values["humidity"] = drift(rng.uniform(200, 400), 40.0, 65.0, rng.uniform(0, 6))

    def kernel(sim: SimulatedHardware) -> Setter:
        from gateway.devices.kernel import faketree  # noqa: PLC0415 - simulation only

        return faketree.bme280(sim.sysfs_root, bus=config.bus, address=config.address, chip=config.kind).update

    def user_space(sim: SimulatedHardware) -> Setter:
        from gateway.devices.i2c.simulators import SimulatedBme280  # noqa: PLC0415 - simulation only

        chip = SimulatedBme280(chip_id=0x60 if config.kind == "bme280" else 0x58)
        sim.i2c.chips[config.address] = chip
        return attribute_setter(chip)

    simulate_i2c_chip(config, hardware, values, kernel=kernel, user_space=user_space)


BME280 = SensorPlugin(
    kind="bme280",
    config_model=Bme280Config,
    open_chip=_open,
    simulate=_simulate,
    chips=(
        SupportedChip(
            "BME280", "I2C 0x76/0x77", "kernel, i2c", "temperature °C, humidity %, pressure hPa", "i2c-sensor,bme280"
        ),
    ),
)
BMP280 = SensorPlugin(
    kind="bmp280",
    config_model=Bmp280Config,
    open_chip=_open,
    simulate=_simulate,
    chips=(
        SupportedChip(
            "BMP280", "I2C 0x76/0x77", "kernel, i2c", "temperature °C, pressure hPa", "dtoverlay=i2c-sensor,bmp280"
        ),
    ),
)
