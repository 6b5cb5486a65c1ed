"""Finding a kernel device by what survives a reboot: its I2C bus and address, its platform device, or its name.

`iio:deviceN` and `hwmonN` are numbered in probe order, which changes between boots and on every driver rebind,
so they are never configuration: a locator names the device, `locate` finds today's N.

    I2CDevice(1, 0x76, "iio")     -> <root>/bus/i2c/devices/1-0076/iio:deviceN
    I2CDevice(1, 0x40, "hwmon")   -> <root>/bus/i2c/devices/1-0040/hwmon/hwmonN
    PlatformDevice("dht11@4")     -> <root>/bus/platform/devices/dht11@4/iio:deviceN   (dtoverlay=dht11,gpiopin=4)
    ByName("bme280", "iio")       -> the one <root>/bus/iio/devices/iio:device*/ whose `name` is bme280
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gateway.devices.kernel.sysfs import SYS, Reader, device_error, read_attribute
from gateway.devices.kernel.units import Subsystem
from gateway.errors import DeviceError


@dataclass(frozen=True)
class I2CDevice:
    """The device a driver bound at `address` on I2C bus `bus` (what a `dtoverlay=i2c-sensor,...` line creates)."""

    bus: int
    address: int
    subsystem: Subsystem

    def __str__(self) -> str:
        return f"I2C {self.bus}-{self.address:04x} ({self.subsystem})"


@dataclass(frozen=True)
class PlatformDevice:
    """A platform device by its device-tree name, e.g. `dht11@4` for `dtoverlay=dht11,gpiopin=4`."""

    device: str
    subsystem: Subsystem = "iio"

    def __str__(self) -> str:
        return f"platform device {self.device} ({self.subsystem})"


@dataclass(frozen=True)
class ByName:
    """The one device whose `name` file is `name`, optionally narrowed by its `label` or device-tree node name.

    A platform device's IIO name is its device name (dht11.c: `iio->name = pdev->name`, e.g. `dht11@4`), so
    `name` also matches the part before the `@`.
    """

    name: str
    subsystem: Subsystem
    label: str | None = None
    of_node: str | None = None

    def __str__(self) -> str:
        narrowed = "".join(
            f", {key} {value!r}" for key, value in (("label", self.label), ("of_node", self.of_node)) if value
        )
        return f"{self.subsystem} device named {self.name!r}{narrowed}"


Locator = I2CDevice | PlatformDevice | ByName


def i2c_client(root: Path, bus: int, address: int) -> Path:
    """`<root>/bus/i2c/devices/<bus>-<address as 4 hex digits>`: where the kernel shows an I2C chip."""
    return root / "bus" / "i2c" / "devices" / f"{bus}-{address:04x}"


def bound_driver(root: Path, bus: int, address: int) -> str | None:
    """The kernel driver bound to the chip at `bus`/`address` (its `driver` link), or None."""
    try:
        return (i2c_client(root, bus, address) / "driver").resolve(strict=True).name
    except OSError:
        return None


def locate(locator: Locator, root: Path = SYS, reader: Reader = read_attribute) -> Path:
    """Today's directory of the device `locator` names (`.../iio:deviceN` or `.../hwmonN`); DeviceError if none."""
    if isinstance(locator, I2CDevice):
        return _child(i2c_client(root, locator.bus, locator.address), locator)
    if isinstance(locator, PlatformDevice):
        return _child(root / "bus" / "platform" / "devices" / locator.device, locator)
    return _by_name(locator, root, reader)


def _child(device: Path, locator: Locator) -> Path:
    """The single IIO or hwmon device a driver registered under the bus device `device`."""
    if not device.is_dir():
        raise DeviceError(f"no {locator}: {device} does not exist (is the dtoverlay line in config.txt?)")
    pattern = "iio:device*" if locator.subsystem == "iio" else "hwmon/hwmon*"
    found = sorted(device.glob(pattern))
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise DeviceError(f"{what} {locator.subsystem} device under {device} (is the driver bound? see dmesg)")
    return found[0]


def _by_name(locator: ByName, root: Path, reader: Reader) -> Path:
    """The one device of the subsystem whose name (and label, device-tree node) match."""
    pattern = ("bus/iio/devices", "iio:device*") if locator.subsystem == "iio" else ("class/hwmon", "hwmon*")
    candidates = sorted((root / pattern[0]).glob(pattern[1]))
    found = [path for path in candidates if _matches(path, locator, reader)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise DeviceError(f"no {locator} under {root / pattern[0]}")
    names = ", ".join(path.name for path in found)
    raise DeviceError(f"{len(found)} devices match {locator} ({names}): narrow by label, of_node or I2C address")


def _matches(path: Path, locator: ByName, reader: Reader) -> bool:
    name = _attribute(path / "name", reader)
    if name is None or locator.name not in {name, name.partition("@")[0]}:
        return False
    if locator.label is not None and _attribute(path / "label", reader) != locator.label:
        return False
    return locator.of_node is None or locator.of_node in _of_node_names(path)


def _attribute(path: Path, reader: Reader) -> str | None:
    """An optional attribute's stripped text; None when the file does not exist."""
    try:
        return reader(path).strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise device_error(path, exc) from exc


def _of_node_names(path: Path) -> set[str]:
    """The device-tree node of the device or of its parent (hwmonN/device): `dht11@4` and `dht11`."""
    for link in (path / "of_node", path / "device" / "of_node"):
        if link.exists():
            node = os.path.basename(os.path.realpath(link))
            return {node, node.partition("@")[0]}
    return set()
