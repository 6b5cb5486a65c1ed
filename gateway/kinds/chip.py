"""What the chip kinds share: an entry publishes one quantity of a chip; an I2C chip is found at a bus and address
and read through the kernel's driver or our own, whichever the Pi has (`backend`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator

from gateway.config import PluginSensorBase
from gateway.devices.chip import Chip
from gateway.devices.hardware import Hardware
from gateway.devices.kernel.chip import KernelChip
from gateway.devices.kernel.chips import KernelChipInfo
from gateway.devices.kernel.locate import I2CDevice
from gateway.devices.simulated import SimulatedHardware
from gateway.errors import DeviceError
from gateway.quantities import QUANTITIES, Quantity

if TYPE_CHECKING:  # smbus2 is loaded only when a chip is opened in user space
    from gateway.devices.i2c.bus import I2cBus

I2C1_PINS = {"SDA": 2, "SCL": 3}  # the header's I2C bus (i2c-1): the only one whose pins are fixed


class ChipSensorConfig(PluginSensorBase):
    """An entry publishing one `quantity` of a chip; entries on one chip share one sample per interval."""

    quantity: str

    @model_validator(mode="after")
    def _unit_is_the_quantitys(self) -> Self:
        """A chip's value is in its quantity's unit; another label would be a wrong number (no conversion)."""
        if self.unit is not None and self.unit != self.measures().unit:
            raise ValueError(f"{self.kind} publishes {self.measures().name} in {self.measures().unit}, not {self.unit}")
        return self

    def measures(self) -> Quantity:
        """The entry's quantity: unit, Home Assistant classes, precision."""
        return QUANTITIES[self.quantity]


class I2cChipConfig(ChipSensorConfig):
    """A chip on an I2C bus, read by the kernel's driver (a `dtoverlay` line) or by our own driver."""

    ADDRESSES: ClassVar[tuple[int, ...]] = ()  # where the chip can answer (its address pins)

    bus: Annotated[int, Field(ge=0, le=31, description="N of /dev/i2c-N; 1 is the header's SDA/SCL")] = 1
    address: Annotated[int, Field(ge=0x03, le=0x77)]
    backend: Literal["auto", "kernel", "i2c"] = Field(
        default="auto", description="auto: the kernel's driver when one is bound at the address, else ours"
    )

    @model_validator(mode="after")
    def _address_exists(self) -> Self:
        if self.ADDRESSES and self.address not in self.ADDRESSES:
            shown = ", ".join(f"{a:#04x}" for a in self.ADDRESSES)
            raise ValueError(f"a {self.kind} answers at {shown}, not at {self.address:#04x}")
        return self

    def chip_key(self) -> tuple[object, ...]:
        """Entries at one bus and address read one chip."""
        return ("i2c", self.bus, self.address)

    def i2c_device(self) -> tuple[int, int]:
        """(bus, address)."""
        return (self.bus, self.address)

    def chip_name(self) -> str:
        """`bme280 i2c-1 0x76`."""
        return f"{self.kind} i2c-{self.bus} {self.address:#04x}"

    def bus_pins(self) -> tuple[str, dict[str, int]] | None:
        """I2C1's SDA and SCL when the chip is on bus 1."""
        return ("I2C1", I2C1_PINS) if self.bus == 1 else None


UserSpace = Callable[["I2cBus"], Chip]


def binding_line(info: KernelChipInfo, bus: int, address: int) -> str:
    """What binds the kernel's driver at `address`: its config.txt line, or a `new_device` write where no
    overlay does."""
    if info.overlay is None:
        return f"echo {info.name or info.kind} {address:#04x} > /sys/bus/i2c/devices/i2c-{bus}/new_device"
    default = info.addresses[0] if info.addresses else address
    return info.overlay + (f",addr={address:#04x}" if address != default else "")


def open_i2c_chip(
    config: I2cChipConfig, hardware: Hardware, kernel: KernelChipInfo, user_space: UserSpace | None
) -> Chip:
    """The chip through its kernel driver or ours (`user_space`; None for a chip we have no driver for), as
    `backend` says; never our driver on an address a kernel driver owns (that would race the driver's own
    transfers), and a clear word on what is missing."""
    where = f"i2c-{config.bus} {config.address:#04x}"
    driver = hardware.i2c_driver(config.bus, config.address)
    backend = config.backend if config.backend != "auto" else ("kernel" if driver or not user_space else "i2c")
    if backend == "kernel" or user_space is None:
        if driver is None:
            raise DeviceError(
                f"no kernel driver is bound at {where}: add `{binding_line(kernel, config.bus, config.address)}` "
                'to config.txt and reboot, or set backend = "i2c" to use our own driver'
            )
        locator = I2CDevice(config.bus, config.address, kernel.subsystem)
        return KernelChip(hardware.sysfs_root, locator, kernel.channels, policy=kernel.policy)
    if driver is not None:
        raise DeviceError(
            f'the kernel driver {driver!r} owns {where}: set backend = "kernel" (or "auto"), '
            "or remove its dtoverlay line to use our own driver"
        )
    bus = hardware.i2c_bus(config.bus)
    try:
        return BusChip(user_space(bus), bus)
    except BaseException:
        bus.close()
        raise


class BusChip:
    """A user-space chip with the bus it was opened on: closing it closes both."""

    def __init__(self, chip: Chip, bus: I2cBus) -> None:
        self._chip, self._bus = chip, bus

    def sample(self) -> Mapping[str, float]:
        """The chip's sample."""
        return self._chip.sample()

    def close(self) -> None:
        """Close the chip, then its bus."""
        try:
            self._chip.close()
        finally:
            self._bus.close()


def attribute_setter(chip: object) -> Setter:
    """A setter writing each quantity to the simulator's attribute of that name (`chip.temperature = ...`)."""

    def put(values: Mapping[str, float]) -> None:
        for name, value in values.items():
            setattr(chip, name, value)

    return put


Values = Mapping[str, Callable[[float], float]]  # quantity -> its value over time
Setter = Callable[[Mapping[str, float]], None]  # puts values into the simulated chip or fake files


def simulate_i2c_chip(
    config: I2cChipConfig,
    hardware: SimulatedHardware,
    values: Values,
    *,
    kernel: Callable[[SimulatedHardware], Setter] | None,
    user_space: Callable[[SimulatedHardware], Setter] | None,
) -> None:
    """Simulate the chip once for all its entries, as its backend would find it: a kernel driver's files in the
    fake sysfs tree (`auto`, `kernel`) or a register-level chip on the simulated bus (`i2c`)."""
    if not hardware.first_time(config.chip_key()):
        return
    build = user_space if config.backend == "i2c" or kernel is None else kernel
    if build is None:
        return
    put = build(hardware)
    hardware.every_tick(lambda now: put({name: value(now) for name, value in values.items()}))
