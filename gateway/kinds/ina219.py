"""TI INA219 current/power monitor on I2C: bus voltage (V), current (A) and power (W) through a shunt.

    [[sensors]]
    id = "pump-current"
    kind = "ina219"
    quantity = "current"          # voltage | current | power: one entry per quantity, one read of the chip
    shunt_ohms = 0.1              # the common breakout board's R100; the kernel driver assumes 0.01 Ω
    # address = 0x40              # 0x40..0x4f by A0/A1

Kernel route: no overlay binds it; `echo ina219 0x40 > /sys/bus/i2c/devices/i2c-1/new_device` does (driver
ina2xx, hwmon). The kernel computes current and power with its own shunt value (`shunt_resistor`, µΩ, 10000 by
default); we rescale them to `shunt_ohms`, so both routes agree without writing to the driver.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import Field

from gateway.devices.chip import Chip
from gateway.devices.hardware import Hardware
from gateway.devices.kernel.chip import KernelChip
from gateway.devices.kernel.chips import CHIPS
from gateway.devices.kernel.sysfs import device_error, read_attribute
from gateway.devices.simulated import SimulatedHardware, drift
from gateway.errors import DeviceError
from gateway.kinds.chip import I2cChipConfig, Setter, open_i2c_chip, simulate_i2c_chip
from gateway.plugins import SensorPlugin, SupportedChip

if TYPE_CHECKING:
    from gateway.devices.i2c.bus import I2cBus

KERNEL_DEFAULT_SHUNT_MICROOHMS = 10_000  # ina2xx.c: INA2XX_RSHUNT_DEFAULT


class Ina219Config(I2cChipConfig):
    """One quantity of an INA219."""

    ADDRESSES: ClassVar[tuple[int, ...]] = CHIPS["ina219"].addresses
    kind: Literal["ina219"]
    quantity: Literal["voltage", "current", "power"]
    address: Annotated[int, Field(ge=0x03, le=0x77)] = 0x40
    shunt_ohms: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False, strict=False)] = 0.1
    max_current: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False, strict=False)] = Field(
        default=3.2, description="A; sets the user-space driver's gain (3.2 A: ±320 mV across 0.1 Ω)"
    )


class ShuntRescaled:
    """The kernel's reading with current and power rescaled from the driver's shunt value to the real one."""

    def __init__(self, chip: KernelChip, factor: float) -> None:
        self._chip, self._factor = chip, factor

    def sample(self) -> Mapping[str, float]:
        """Bus voltage as read; current and power times (kernel shunt / real shunt)."""
        values = dict(self._chip.sample())
        for name in ("current", "power"):
            if name in values:
                values[name] *= self._factor
        return values

    def close(self) -> None:
        """Close the kernel chip."""
        self._chip.close()


def _rescaled(chip: Chip, shunt_ohms: float) -> Chip:
    if not isinstance(chip, KernelChip):
        return chip
    path = chip.device / "shunt_resistor"
    try:
        microohms = int(read_attribute(path))
    except OSError as exc:
        raise device_error(path, exc) from exc
    except ValueError as exc:
        raise DeviceError(f"{path}: not a number of µΩ") from exc
    return ShuntRescaled(chip, microohms / 1e6 / shunt_ohms)


def _open(config: Ina219Config, hardware: Hardware) -> Chip:
    def user_space(bus: I2cBus) -> Chip:
        from gateway.devices.i2c.ina219 import Ina219  # noqa: PLC0415 - smbus2 only when used

        return Ina219(bus, config.address, shunt_ohms=config.shunt_ohms, max_current=config.max_current)

    chip = open_i2c_chip(config, hardware, CHIPS["ina219"], user_space)
    try:
        return _rescaled(chip, config.shunt_ohms)
    except DeviceError:
        chip.close()
        raise


def _simulate(config: Ina219Config, hardware: SimulatedHardware) -> None:
    rng = hardware.rng
    amps = drift(rng.uniform(40, 120), 0.2, 1.4, rng.uniform(0, 6))
    volts = drift(rng.uniform(300, 600), 11.8, 12.4)
    values = {"voltage": volts, "current": amps, "power": lambda t: volts(t) * amps(t)}

    def kernel(sim: SimulatedHardware) -> Setter:
        from gateway.devices.kernel import faketree  # noqa: PLC0415 - simulation only

        device = faketree.ina219(sim.sysfs_root, bus=config.bus, address=config.address)
        # The driver computes with its own 10 mΩ: it prints what the real shunt's current would be through that.
        factor = config.shunt_ohms * 1e6 / KERNEL_DEFAULT_SHUNT_MICROOHMS
        rescaled = {"current": factor, "power": factor}
        return lambda values: device.update({k: v * rescaled.get(k, 1.0) for k, v in values.items()})

    def user_space(sim: SimulatedHardware) -> Setter:
        from gateway.devices.i2c.simulators import SimulatedIna219  # noqa: PLC0415 - simulation only

        chip = SimulatedIna219(shunt_ohms=config.shunt_ohms)
        sim.i2c.chips[config.address] = chip

        def put(values: Mapping[str, float]) -> None:
            chip.bus_voltage, chip.current = values["voltage"], values["current"]

        return put

    simulate_i2c_chip(config, hardware, values, kernel=kernel, user_space=user_space)


INA219 = SensorPlugin(
    kind="ina219",
    config_model=Ina219Config,
    open_chip=_open,
    simulate=_simulate,
    chips=(
        SupportedChip(
            "INA219",
            "I2C 0x40-0x4f",
            "kernel, i2c",
            "voltage V, current A, power W",
            "echo ina219 0x40 > /sys/bus/i2c/devices/i2c-1/new_device",
        ),
    ),
)
