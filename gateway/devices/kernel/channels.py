"""One measured channel of a kernel device: how a config names it, which files hold it, and its value in our units.

A channel is named the way the kernel names its files, without the decoration:

    iio    "temp", "humidityrelative", "pressure", "illuminance", "voltage0", "voltage0-voltage1",
           "concentration_co2"          -> in_<channel>_input, or in_<channel>_raw with _scale/_offset
    hwmon  "temp1", "humidity1", "in1", "curr1", "power1"   -> <channel>_input
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from gateway.devices.kernel.sysfs import Reader, parse_decimal
from gateway.devices.kernel.units import KernelUnit, Subsystem, kernel_unit
from gateway.errors import DeviceError

_IIO = re.compile(
    r"^(?P<type>[a-z]+?)(?P<index>\d*)(?:-(?P<type2>[a-z]+?)(?P<index2>\d*))?(?:_(?P<modifier>[a-z0-9]+))?$"
)
_HWMON = re.compile(r"^(?P<type>[a-z]+)(?P<index>\d+)$")

# Physics, not the driver, bounds these: the SHT4x formula alone reads -6 %..119 % (sht4x.c: `- 6000`).
_CLAMPS: dict[str, tuple[Decimal, Decimal]] = {"humidity": (Decimal(0), Decimal(100))}


@dataclass(frozen=True)
class Channel:
    """One channel to sample: its kernel name (see module doc) and the key it is reported under.

    `key` defaults to the quantity (`temperature`); set it when a chip has two channels of one quantity
    (an INA219's shunt `in0` and bus `in1` voltages).
    """

    subsystem: Subsystem
    name: str
    key: str | None = None

    def __post_init__(self) -> None:
        _ = self.unit  # a name that is no kernel channel, or of a type we have no unit for, fails at configuration

    @property
    def unit(self) -> KernelUnit:
        """The kernel unit of this channel and our quantity for it."""
        match = _parse(self)
        try:
            return kernel_unit(self.subsystem, match["type"], match.get("modifier"))
        except KeyError:
            raise DeviceError(f"{self.subsystem} channel {self.name!r}: no known unit for its type") from None

    @property
    def report_as(self) -> str:
        """The key of this channel's value in a sample."""
        return self.key or self.unit.quantity


def _parse(channel: Channel) -> dict[str, str]:
    pattern = _IIO if channel.subsystem == "iio" else _HWMON
    match = pattern.match(channel.name)
    if match is None:
        raise DeviceError(f"{channel.subsystem} channel {channel.name!r} is not a kernel channel name")
    return {key: value for key, value in match.groupdict().items() if value}


@dataclass
class OpenChannel:
    """A channel resolved against today's device directory: the value file and, for raw ones, scale and offset."""

    channel: Channel
    value_path: Path
    scale_path: Path | None
    offset_path: Path | None
    scale: Decimal = Decimal(1)
    offset: Decimal = Decimal(0)

    def load_calibration(self, reader: Reader) -> None:
        """(Re)read scale and offset: at open, and after an error (a driver may change them, e.g. a new gain)."""
        if self.scale_path is not None:
            self.scale = parse_decimal(self.scale_path, reader(self.scale_path))
        if self.offset_path is not None:
            self.offset = parse_decimal(self.offset_path, reader(self.offset_path))

    def read(self, reader: Reader) -> float:
        """One value in our unit; OSError as the reader raised it, DeviceError for a value that is no number."""
        kernel = (parse_decimal(self.value_path, reader(self.value_path)) + self.offset) * self.scale
        value = kernel * self.channel.unit.factor
        low, high = _CLAMPS.get(self.channel.unit.quantity, (value, value))
        return float(min(max(value, low), high))


def open_channel(channel: Channel, device: Path) -> OpenChannel:
    """Which files of `device` hold `channel`: processed `_input` first, else `_raw` with its scale and offset."""
    if channel.subsystem == "hwmon":
        return OpenChannel(channel, _existing(device, channel, f"{channel.name}_input"), None, None)
    stem = f"in_{channel.name}"
    if (device / f"{stem}_input").exists():
        return OpenChannel(channel, device / f"{stem}_input", None, None)
    raw = _existing(device, channel, f"{stem}_raw", f"{stem}_input")
    shared = f"in_{_shared_type(channel)}"
    # Per-channel attribute first, then the one shared by every channel of the type (sysfs-bus-iio `_scale`).
    return OpenChannel(channel, raw, _first(device, stem, shared, "scale"), _first(device, stem, shared, "offset"))


def _shared_type(channel: Channel) -> str:
    """`voltage` for voltage0, `voltage-voltage` for voltage0-voltage1, `concentration_co2` for itself."""
    parts = _parse(channel)
    shared = parts["type"] + (f"-{parts['type2']}" if "type2" in parts else "")
    return shared + (f"_{parts['modifier']}" if "modifier" in parts else "")


def _first(device: Path, stem: str, shared: str, item: str) -> Path | None:
    for candidate in (device / f"{stem}_{item}", device / f"{shared}_{item}"):
        if candidate.exists():
            return candidate
    return None


def _existing(device: Path, channel: Channel, name: str, *alternatives: str) -> Path:
    path = device / name
    if path.exists():
        return path
    wanted = " or ".join((name, *alternatives))
    present = sorted(p.name for p in device.glob("*_input")) + sorted(p.name for p in device.glob("*_raw"))
    raise DeviceError(f"{device} has no {wanted} for channel {channel.name!r} (it has: {', '.join(present) or 'none'})")
