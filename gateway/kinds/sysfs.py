"""The generic kernel route: any IIO or hwmon channel a kernel driver offers, for the ~40 chips the named kinds
do not cover. The unit follows from the channel's type (the kernel ABI's table, gateway.devices.kernel.units).

    [[sensors]]
    id = "air-pressure"
    kind = "iio"                  # or "hwmon"
    channel = "pressure"          # iio: temp, humidityrelative, pressure, illuminance, voltage0, voltage0-voltage1,
                                  #      concentration_co2 ...; hwmon: temp1, humidity1, in1, curr1, power1 ...
    bus = 1                       # where the chip is: its I2C bus and address ...
    address = 0x77
    # device_name = "bmp180"      # ... or the device's `name` file (with `label` when several share a name)

Never `iio:device0` or `hwmon0`: those numbers change between boots.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from gateway.devices.chip import Chip
from gateway.devices.hardware import Hardware
from gateway.devices.kernel.channels import Channel
from gateway.devices.kernel.chip import KernelChip
from gateway.devices.kernel.locate import ByName, I2CDevice, Locator
from gateway.errors import DeviceError
from gateway.kinds.chip import I2C1_PINS, ChipSensorConfig
from gateway.plugins import SensorPlugin, SupportedChip
from gateway.quantities import QUANTITIES, Quantity

KernelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@:-]{1,64}$")]


class KernelChannelConfig(ChipSensorConfig):
    """One channel of a kernel device, found by bus and address or by name."""

    kind: Literal["iio", "hwmon"]
    channel: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,48}$")]
    quantity: str = Field(default="", description="follows from the channel's type; not set by hand")
    bus: Annotated[int, Field(ge=0, le=31)] | None = None
    address: Annotated[int, Field(ge=0x03, le=0x77)] | None = None
    device_name: KernelName | None = None
    label: KernelName | None = None

    @model_validator(mode="after")
    def _located_once(self) -> Self:
        by_address = self.address is not None
        if by_address == (self.device_name is not None):
            raise ValueError("give the device's address (with bus, default 1) or its device_name, not both")
        if self.label is not None and self.device_name is None:
            raise ValueError("label narrows a device_name; it needs one")
        if self.quantity:
            raise ValueError("quantity follows from the channel; leave it out")
        return self

    @model_validator(mode="after")
    def _channel_known(self) -> Self:
        try:
            self.channel_spec().unit  # noqa: B018 - parsing it is the check
        except DeviceError as exc:
            raise ValueError(str(exc)) from None
        return self

    def channel_spec(self) -> Channel:
        """The kernel channel this entry reads."""
        return Channel(self.kind, self.channel)

    def measures(self) -> Quantity:
        """The channel type's quantity (temp -> temperature, in -> voltage ...)."""
        return QUANTITIES[self.channel_spec().unit.quantity]

    def locator(self) -> Locator:
        """Where the device is, by what survives a reboot."""
        if self.address is not None:
            return I2CDevice(1 if self.bus is None else self.bus, self.address, self.kind)
        assert self.device_name is not None  # noqa: S101 - _located_once
        return ByName(self.device_name, self.kind, self.label)

    def chip_key(self) -> tuple[object, ...]:
        """Each entry reads its own channel."""
        return (self.kind, str(self.locator()), self.channel)

    def i2c_device(self) -> tuple[int, int] | None:
        """(bus, address) when located by address."""
        return None if self.address is None else (1 if self.bus is None else self.bus, self.address)

    def bus_pins(self) -> tuple[str, dict[str, int]] | None:
        """I2C1's pins when the device is on bus 1."""
        return ("I2C1", I2C1_PINS) if self.i2c_device() is not None and self.bus in (None, 1) else None

    def chip_name(self) -> str:
        """The device as located."""
        if self.device_name is not None:
            return f"{self.kind} {self.device_name}" + (f" {self.label}" if self.label else "")
        return f"{self.kind} i2c-{1 if self.bus is None else self.bus} {self.address:#04x}"


def _open(config: KernelChannelConfig, hardware: Hardware) -> Chip:
    return KernelChip(hardware.sysfs_root, config.locator(), (config.channel_spec(),))


IIO = SensorPlugin(
    kind="iio",
    config_model=KernelChannelConfig,
    open_chip=_open,
    chips=(
        SupportedChip(
            "any IIO driver (see docs)", "I2C, SPI, GPIO", "kernel", "by channel type", "the driver's overlay"
        ),
    ),
)
HWMON = SensorPlugin(
    kind="hwmon",
    config_model=KernelChannelConfig,
    open_chip=_open,
    chips=(
        SupportedChip("any hwmon driver (see docs)", "I2C, SPI", "kernel", "by channel type", "the driver's overlay"),
    ),
)
