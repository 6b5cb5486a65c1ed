"""The 40-pin header of a Raspberry Pi: which BCM pin each sensor uses, and what conflicts.

Conflicts are found from the config alone, before anything touches the hardware: a pin that an enabled
I2C, SPI or 1-Wire bus owns (read from the firmware's config.txt) and a pin configured twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gateway.config import (
    EXPANDER_PINS,
    SPI_BUS_PINS,
    SPI_SELECT_PINS,
    ExpanderPin,
    GatewayConfig,
    Mcp3xxxConfig,
    PluginSensorBase,
)

BOOT_CONFIGS = (Path("/boot/firmware/config.txt"), Path("/boot/config.txt"))

# Physical pin -> BCM number, or the name of a power/ground pin.
HEADER: dict[int, int | str] = {
    1: "3V3",
    2: "5V",
    3: 2,
    4: "5V",
    5: 3,
    6: "GND",
    7: 4,
    8: 14,
    9: "GND",
    10: 15,
    11: 17,
    12: 18,
    13: 27,
    14: "GND",
    15: 22,
    16: 23,
    17: "3V3",
    18: 24,
    19: 10,
    20: "GND",
    21: 9,
    22: 25,
    23: 11,
    24: 8,
    25: "GND",
    26: 7,
    27: 0,
    28: 1,
    29: 5,
    30: "GND",
    31: 6,
    32: 12,
    33: 13,
    34: "GND",
    35: 19,
    36: 16,
    37: 26,
    38: 20,
    39: "GND",
    40: 21,
}
BCM_TO_PHYSICAL = {bcm: physical for physical, bcm in HEADER.items() if isinstance(bcm, int)}
I2C_PINS = {2: "I2C1 SDA", 3: "I2C1 SCL"}
# SPI0's pins, from the one table of SPI pins in gateway.config.
_SPI0_ROLES = dict(zip(("SCLK", "MOSI", "MISO"), SPI_BUS_PINS[0], strict=True)) | {
    f"CE{select}": pin for select, pin in enumerate(SPI_SELECT_PINS[0])
}
SPI0_PINS = {pin: f"SPI0 {role}" for role, pin in _SPI0_ROLES.items()}
EEPROM_PINS = {0: "ID EEPROM SDA", 1: "ID EEPROM SCL"}


@dataclass(frozen=True)
class Buses:
    """Which buses the firmware enables (from config.txt)."""

    i2c: bool = False
    spi: bool = False
    one_wire_pin: int | None = None
    uart: bool = False
    found: bool = False  # parsed from a real config.txt (else nothing is known about the buses)


def read_buses(paths: tuple[Path, ...] = BOOT_CONFIGS) -> tuple[Buses, Path | None]:
    """The buses enabled in the first config.txt found, and which file that was (None off a Pi)."""
    for path in paths:
        try:
            return parse_buses(path.read_text(encoding="utf-8", errors="replace")), path
        except OSError:
            continue
    return Buses(), None


def parse_buses(text: str) -> Buses:
    """Bus settings from config.txt text: `dtparam=i2c_arm=on`, `dtparam=spi=on`, `dtoverlay=w1-gpio[,gpiopin=N]`."""
    i2c = spi = uart = False
    one_wire: int | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip().replace(" ", "")
        if re.fullmatch(r"dtparam=(i2c_arm|i2c)=on", line):
            i2c = True
        elif line == "dtparam=spi=on":
            spi = True
        elif line == "enable_uart=1":
            uart = True
        elif line.startswith("dtoverlay=w1-gpio"):
            match = re.search(r"gpiopin=(\d+)", line)
            one_wire = int(match.group(1)) if match else 4
    return Buses(i2c=i2c, spi=spi, one_wire_pin=one_wire, uart=uart, found=True)


@dataclass(frozen=True)
class PinUse:
    """One BCM pin as the config uses it."""

    bcm: int
    owner: str
    role: str


def pin_uses(config: GatewayConfig) -> list[PinUse]:
    """Every BCM pin the configured sensors and outputs use."""
    uses = []
    for sensor in config.sensors:
        for role, pin in sensor.pins().items():
            label = f"{role} ({sensor.kind})" if isinstance(sensor, Mcp3xxxConfig) else role
            uses.append(PinUse(pin, sensor.id, label))
    uses += [
        PinUse(pin, output.id, f"pin ({output.kind})") for output in config.outputs for pin in output.pins().values()
    ]
    uses += [
        PinUse(pin, expander.id, f"INT ({expander.chip})")
        for expander in config.expanders
        for pin in expander.pins().values()
    ]
    return uses + bus_uses(config)


def expander_rows(config: GatewayConfig) -> list[tuple[str, str, str]]:
    """(expander pin, used by, as what) for every expander pin the config uses, by expander then pin order."""
    order = {
        (e.id, name): (n, i) for n, e in enumerate(config.expanders) for i, name in enumerate(EXPANDER_PINS[e.chip])
    }
    rows = [
        (f"{device.expander}.{device.pin}", device.id, device.kind)
        for device in (*config.sensors, *config.outputs)
        if isinstance(device, ExpanderPin) and device.expander is not None
    ]
    return sorted(rows, key=lambda row: order.get(tuple(row[0].split(".", 1)), (0, 0)))  # type: ignore[arg-type]


def bus_uses(config: GatewayConfig) -> list[PinUse]:
    """The pins of the shared buses (I2C1, a 1-Wire pin) the sensors sit on, once per bus."""
    buses: dict[str, dict[str, int]] = {}
    if any(expander.bus == 1 for expander in config.expanders):
        buses["I2C1"] = {"SDA": 2, "SCL": 3}
    for sensor in config.sensors:
        if isinstance(sensor, PluginSensorBase) and (bus := sensor.bus_pins()) is not None:
            buses.setdefault(bus[0], bus[1])
    return [PinUse(pin, bus, f"{role} (bus)") for bus, pins in buses.items() for role, pin in pins.items()]


def conflicts(config: GatewayConfig, buses: Buses) -> list[str]:
    """What is wrong with the pin assignment, in words."""
    problems = []
    reserved: dict[int, str] = dict(EEPROM_PINS)
    if buses.i2c:
        reserved.update(I2C_PINS)
    if buses.spi:
        reserved.update(SPI0_PINS)
    if buses.one_wire_pin is not None:
        reserved[buses.one_wire_pin] = "1-Wire"
    seen: dict[int, str] = {}
    problems += disabled_buses(config, buses)
    for use in pin_uses(config):
        is_spi_adc = "(mcp3008)" in use.role
        is_bus = use.role.endswith("(bus)")  # our use of the bus the firmware enabled for it
        if use.bcm in reserved and not (is_spi_adc and reserved[use.bcm].startswith("SPI0")) and not is_bus:
            problems.append(f"GPIO{use.bcm} ({use.owner} {use.role}) is reserved by {reserved[use.bcm]}")
        if use.bcm in seen and not is_spi_adc:
            problems.append(f"GPIO{use.bcm} is used by both {seen[use.bcm]} and {use.owner}")
        seen.setdefault(use.bcm, use.owner)
    return problems


# A bus a sensor needs, and the config.txt line that enables it.
_ENABLERS = {"I2C1": ("i2c", "dtparam=i2c_arm=on"), "UART0": ("uart", "enable_uart=1")}


def disabled_buses(config: GatewayConfig, buses: Buses) -> list[str]:
    """Buses the sensors need that the config.txt found does not enable (nothing is said without one)."""
    if not buses.found:
        return []
    needed = {use.owner for use in bus_uses(config)}
    return [
        f"{bus} is used by the config but config.txt does not enable it: add `{line}` and reboot"
        for bus, (flag, line) in _ENABLERS.items()
        if bus in needed and not getattr(buses, flag)
    ]


def header_rows(config: GatewayConfig) -> list[tuple[str, str, str, str]]:
    """Rows for the header table: (left use, left pin, right pin, right use), physical pins 1..40."""
    users: dict[int, list[str]] = {}
    for use in pin_uses(config):
        users.setdefault(use.bcm, []).append(f"{use.owner}.{use.role}")

    def cell(physical: int) -> tuple[str, str]:
        bcm = HEADER[physical]
        name = f"GPIO{bcm}" if isinstance(bcm, int) else bcm
        label = f"{physical:>2} {name}"
        return label, ", ".join(users.get(bcm, [])) if isinstance(bcm, int) else ""

    rows = []
    for left in range(1, 41, 2):
        left_label, left_use = cell(left)
        right_label, right_use = cell(left + 1)
        rows.append((left_use, left_label, right_label, right_use))
    return rows
