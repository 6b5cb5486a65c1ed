"""Read-only probes of the I2C addresses where the chips of our kernel table answer: what `detect` finds in user
space, on chips no kernel driver has bound.

What goes on the wire, and nothing else (no command, no register write, ever):

- 0x76/0x77 (Bosch): the chip-id register 0xD0, read as an SMBus "read byte data" (the register pointer byte,
  then a repeated-start read of one byte). Setting the pointer starts nothing on these chips.
- every other address of the table: a plain one-byte I2C read. BH1750, ADS1x15, INA219 and AHT10/20 answer it
  with a data, pointed-register or status byte without changing state. SHT3x/SHT4x, HTU21D and Si7021 NACK a read
  while no measurement is pending, so an idle one cannot be seen without sending it a command, which we never do.

An address a kernel driver owns (`<sysfs_root>/bus/i2c/devices/<bus>-<addr>/driver`) is never touched: reading
it behind the driver would race the driver's own transfers (and i2c-dev refuses it with EBUSY anyway).
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.devices.kernel.chips import CHIPS
from gateway.devices.kernel.locate import bound_driver
from gateway.errors import DeviceError

if TYPE_CHECKING:  # smbus2 is loaded only when a bus is actually scanned
    from gateway.devices.i2c.bus import I2cBus

BOSCH_ADDRESSES = (0x76, 0x77)
BOSCH_ID_REGISTER = 0xD0
# BME280 datasheet 5.4.1 (0x60), BMP280 datasheet 3.11.1 (0x58; 0x56/0x57 on samples), BMP180 datasheet (0x55).
BOSCH_CHIP_IDS: dict[int, str] = {0x60: "bme280", 0x58: "bmp280", 0x57: "bmp280", 0x56: "bmp280", 0x55: "bmp180"}

# Nothing answered (ENXIO, EREMOTEIO: a NACK), or a kernel driver took the address after we looked (EBUSY).
_SILENT = frozenset({errno.ENXIO, errno.EREMOTEIO, errno.EBUSY})
_BUS_NODE = re.compile(r"^i2c-(\d+)$")


@dataclass(frozen=True)
class Answer:
    """Something that answered a read at `address`; `chip_id` is the id register's value where one was read."""

    address: int
    chip_id: int | None = None


@dataclass(frozen=True)
class BusScan:
    """What one bus showed: the answers, the addresses left to their kernel drivers, and why it stopped early."""

    bus: int
    answers: tuple[Answer, ...] = ()
    owned: tuple[int, ...] = ()
    probed: tuple[int, ...] = ()
    error: str | None = None  # the bus could not be opened, or failed in a way that is not "nothing there"


# GPIO expanders: MCP23017/MCP23008/PCF8574/PCF8575 at 0x20-0x27, PCF8574A at 0x38-0x3f. Only plain reads: a
# register-pointer write would set a PCF8574's pins (it has no registers: any written byte drives them).
EXPANDER_ADDRESSES = (*range(0x20, 0x28), *range(0x38, 0x40))


def probe_addresses() -> tuple[int, ...]:
    """Every address where a chip of the kernel table or an expander can answer, ascending."""
    return tuple(sorted({address for info in CHIPS.values() for address in info.addresses} | set(EXPANDER_ADDRESSES)))


def i2c_buses(dev_root: Path) -> list[int]:
    """The bus numbers of `<dev_root>/i2c-N`, ascending."""
    found = (_BUS_NODE.match(path.name) for path in dev_root.glob("i2c-*"))
    return sorted(int(match[1]) for match in found if match)


def driver_owns(sysfs_root: Path, bus: int, address: int) -> bool:
    """Whether a kernel driver is bound to the chip at `bus`/`address`."""
    return bound_driver(sysfs_root, bus, address) is not None


def scan_bus(number: int, dev_root: Path, sysfs_root: Path) -> BusScan:
    """Probe every table address on `<dev_root>/i2c-<number>` that no kernel driver owns (see the module doc)."""
    from gateway.devices.i2c.bus import I2cBus  # noqa: PLC0415 - smbus2 only when a bus is scanned

    addresses = probe_addresses()
    owned = tuple(a for a in addresses if driver_owns(sysfs_root, number, a))
    try:
        bus = I2cBus(number, dev_root=dev_root)
    except DeviceError as exc:
        return BusScan(number, owned=owned, error=open_failure(exc))
    try:
        return _probe_all(bus, [a for a in addresses if a not in owned], owned)
    finally:
        bus.close()


def open_failure(exc: DeviceError) -> str:
    """One line on a bus that cannot be opened, with the fix when it is a permission."""
    if _errno(exc) in (errno.EACCES, errno.EPERM):
        return f"{exc}: `sudo usermod -aG i2c $USER`, then log in again"
    return str(exc)


def _probe_all(bus: I2cBus, addresses: list[int], owned: tuple[int, ...]) -> BusScan:
    answers: list[Answer] = []
    probed: list[int] = []
    for address in addresses:
        probed.append(address)
        try:
            answers.append(_probe(bus, address))
        except DeviceError as exc:
            if _errno(exc) not in _SILENT:  # a stuck or broken bus: every further probe would fail the same way
                return BusScan(bus.number, tuple(answers), owned, tuple(probed), f"{exc}; stopped scanning it")
    return BusScan(bus.number, tuple(answers), owned, tuple(probed))


def _probe(bus: I2cBus, address: int) -> Answer:
    """One read at `address`; DeviceError when nothing (or nothing willing) answers."""
    if address in BOSCH_ADDRESSES:
        return Answer(address, bus.read_byte_data(address, BOSCH_ID_REGISTER))
    bus.read_bytes(address, 1)
    return Answer(address)


def _errno(exc: DeviceError) -> int | None:
    cause = exc.__cause__
    return cause.errno if isinstance(cause, OSError) else None
