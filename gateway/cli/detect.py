"""`pi-mqtt-gateway detect`: the sensors on this machine, each with ready-to-paste `[[sensors]]` tables.

Three places are looked at:

1. Kernel drivers: every IIO and hwmon device whose parent is an I2C client (`1-0076`) or a DHT platform device
   (`dht11@4`). Its `name` file finds it in the kernel table (CHIPS) and it is proposed as that chip's named kind
   (`backend = "auto"`), or, when the table does not know it, as one generic `iio`/`hwmon` entry per readable
   channel. Devices with any other parent (the SoC's cpu_thermal and rpi_volt, SPI ADCs) are listed as skipped:
   their channels are no sensor someone wired up, and the built-in kinds cover the CPU temperature.
2. 1-Wire thermometers (w1_therm families) in `<sysfs_root>/bus/w1/devices`.
3. Chips no kernel driver has bound, by read-only probes at the table's I2C addresses (gateway.devices.scan).
   A Bosch chip id identifies its chip; elsewhere only "something answers" is known, so those tables are
   printed commented out, to be uncommented by someone who knows what is wired there.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gateway.config import DevicesSection
from gateway.config_loader import apply_env_overrides, load_config
from gateway.devices.kernel.channels import Channel
from gateway.devices.kernel.chips import CHIPS
from gateway.devices.kernel.units import Subsystem
from gateway.devices.kernel.w1 import DEVICE_ID, FAMILIES
from gateway.devices.scan import BOSCH_CHIP_IDS, Answer, BusScan, i2c_buses, scan_bus
from gateway.errors import ConfigError, ConfigProblem, DeviceError
from gateway.kinds.chip import binding_line

TomlValue = str | int
Fields = tuple[tuple[str, TomlValue], ...]


@dataclass(frozen=True)
class Proposal:
    """How a chip of the kernel table becomes configuration: its name for people and its kind's keys."""

    title: str
    kind: str | None = None  # None: no named kind; the generic iio/hwmon kinds read it through its driver
    chip: str | None = None  # the `chip` key of the kinds serving several chips (sht, dht)
    quantities: tuple[str, ...] = ()
    user_space: bool = False  # our own driver reads it when no kernel driver is bound
    preferred: bool = False  # the pick when the kernel cannot tell it from a sibling (ads1015 names both)


_TH = ("temperature", "humidity")
PROPOSALS: dict[str, Proposal] = {
    "bme280": Proposal("BME280", "bme280", None, ("temperature", "humidity", "pressure"), user_space=True),
    "bmp280": Proposal("BMP280", "bmp280", None, ("temperature", "pressure"), user_space=True),
    "bmp180": Proposal("BMP180"),
    "bmp085": Proposal("BMP085"),
    "dht11": Proposal("DHT11", "dht", "dht11", _TH),
    "dht22": Proposal("DHT22", "dht", "dht22", _TH, preferred=True),
    "sht3x": Proposal("SHT3x", "sht", "sht3x", _TH, user_space=True),
    "sht4x": Proposal("SHT4x", "sht", "sht4x", _TH, user_space=True),
    "aht10": Proposal("AHT10/AHT20", "sht", "aht10", _TH),
    "htu21": Proposal("HTU21D", "sht", "htu21d", _TH, user_space=True),
    "si7020": Proposal("Si7020", "sht", "si7021", _TH, user_space=True),
    "si7021": Proposal("Si7021", "sht", "si7021", _TH, user_space=True, preferred=True),
    "bh1750": Proposal("BH1750", "bh1750", None, ("illuminance",), user_space=True),
    "ads1015": Proposal("ADS1015", "ads1015", None, ("voltage",), user_space=True),
    "ads1115": Proposal("ADS1115", "ads1115", None, ("voltage",), user_space=True, preferred=True),
    "ina219": Proposal("INA219", "ina219", None, ("voltage", "current", "power"), user_space=True),
    "ina226": Proposal("INA226"),
}
# These NACK a plain read unless a measurement is pending: an answer at their address is more likely another chip.
_SILENT_WHEN_IDLE = frozenset({"sht3x", "sht4x", "htu21", "si7020", "si7021"})
_ADC_KINDS = frozenset({"ads1015", "ads1115"})
_CLIENT = re.compile(r"^(\d+)-([0-9a-f]{4})$")  # an I2C client device: <bus>-<address>
_DHT = re.compile(r"^dht11@([0-9a-f]+)$")  # the dht11 overlay's platform device, `reg` = gpiopin (hex)
_ID_JUNK = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class Entry:
    """One proposed `[[sensors]]` table without its id; `name` becomes the id's last part."""

    name: str
    fields: Fields
    table: str = "sensors"  # or "expanders"


@dataclass(frozen=True)
class Found:
    """One device: what it is, where, how it is read, and the entries it proposes."""

    title: str  # "BME280", "DHT11/DHT22", or the candidates where only an answer was seen
    where: str  # "i2c-1 0x76", "GPIO4", "1-Wire 28-0316a2795aff"
    how: str  # "kernel driver bmp280, iio:device0", "user space; `dtoverlay=...` would bind the kernel driver"
    stem: str  # the ids' first part: "bme280"
    place: str  # added to the stem when several devices share it: "1-76", "gpio4"
    entries: tuple[Entry, ...] = ()
    confirmed: bool = True  # False: only that something answers where such a chip would; entries commented out

    def describe(self) -> str:
        """The human line: what, where, how."""
        if self.confirmed:
            return f"{self.title} at {self.where} ({self.how})"
        return f"something answers at {self.where} ({self.title}?): {self.how}"


@dataclass
class Detection:
    """Everything detect saw: the devices, what it looked at, what it skipped, what failed, and hints."""

    found: list[Found] = field(default_factory=list)
    looked_at: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)


def detect(sysfs_root: Path, dev_root: Path) -> Detection:
    """Look at the kernel's devices, the 1-Wire bus and every I2C bus (read-only probes); see the module doc."""
    detection = Detection()
    _kernel_route(sysfs_root, detection)
    _one_wire(sysfs_root, detection)
    _i2c_route(sysfs_root, dev_root, detection)
    return detection


def detect_roots(path: Path | None, environ: Mapping[str, str]) -> tuple[Path, Path]:
    """(sysfs_root, dev_root): the config file's `[devices]` when the file exists, else the defaults with any
    `GATEWAY__DEVICES__*` environment override; ConfigError when either is invalid."""
    if path is not None and path.exists():
        devices = load_config(path, environ).config.devices
    else:
        raw: dict[str, Any] = {}
        apply_env_overrides(raw, environ)
        try:
            devices = DevicesSection.model_validate(raw.get("devices", {}))
        except ValidationError as exc:
            problems = [ConfigProblem(".".join(["devices", *map(str, e["loc"])]), e["msg"]) for e in exc.errors()]
            raise ConfigError("environment", problems) from None
    return devices.sysfs_root, devices.dev_root


# ---------------------------------------------------------------------------------------------------------------
# 1. Kernel drivers


@dataclass(frozen=True)
class _KernelDevice:
    subsystem: Subsystem
    path: Path  # today's iio:deviceN / hwmonN, as linked from the subsystem's directory
    parent: Path  # the device the driver registered it under (resolved)
    name: str


def _kernel_route(root: Path, detection: Detection) -> None:
    devices = _kernel_devices(root)
    detection.looked_at.append(f"{len(devices)} IIO/hwmon device(s) in {root}/bus/iio/devices and {root}/class/hwmon")
    for device in devices:
        found = _from_kernel(device)
        if isinstance(found, Found):
            detection.found.append(found)
        else:
            detection.skipped.append(found)


def _kernel_devices(root: Path) -> list[_KernelDevice]:
    places: tuple[tuple[Subsystem, Path, str], ...] = (
        ("iio", root / "bus" / "iio" / "devices", "iio:device*"),
        ("hwmon", root / "class" / "hwmon", "hwmon*"),
    )
    devices = []
    for subsystem, directory, pattern in places:
        for path in sorted(directory.glob(pattern), key=_numbered):
            real = path.resolve()
            # hwmon devices sit in a `hwmon/` class directory under their parent: 1-0044/hwmon/hwmon2.
            parent = real.parent.parent if real.parent.name == "hwmon" else real.parent
            devices.append(_KernelDevice(subsystem, path, parent, _read(path / "name") or "?"))
    return devices


def _numbered(path: Path) -> tuple[int, str]:
    """hwmon2 before hwmon10."""
    digits = re.sub(r"\D", "", path.name)
    return (int(digits) if digits else -1, path.name)


def _from_kernel(device: _KernelDevice) -> Found | str:
    """The device as a Found, or a note on why it is skipped."""
    client = _CLIENT.match(device.parent.name)
    if client:
        return _kernel_i2c(device, int(client[1]), int(client[2], 16))
    dht = _DHT.match(device.parent.name)
    if dht and device.subsystem == "iio":
        return _kernel_dht(device, int(dht[1], 16))
    return f"{device.path.name} {device.name} (not on I2C or a DHT pin: the SoC's own or another bus's)"


def _kernel_i2c(device: _KernelDevice, bus: int, address: int) -> Found | str:
    where, place = f"i2c-{bus} {address:#04x}", f"{bus}-{address:02x}"
    how = f"{_driver(device.parent)}, {device.path.name}"
    kinds = [
        kind
        for kind, info in CHIPS.items()
        if info.subsystem == device.subsystem
        and (info.name or device.parent.name) == device.name
        and address in info.addresses
    ]
    if not kinds:
        return _generic(device, bus, address, how)
    kind = _pick(kinds, _read(device.parent / "name"))
    title = "/".join(dict.fromkeys(PROPOSALS[k].title for k in kinds))
    if PROPOSALS[kinds[0]].kind != PROPOSALS[kinds[-1]].kind:
        how += f"; its driver serves the {title} alike: check the kind"
    location: Fields = (("bus", bus), ("address", address))
    if PROPOSALS[kind].kind is None:
        channels = [channel.name for channel in CHIPS[kind].channels]
        return Found(title, where, how, kind, place, _generic_entries(device.subsystem, channels, location))
    entries = _named_entries(PROPOSALS[kind], (*location, ("backend", "auto")), _adc_inputs(device.path))
    return Found(title, where, how, kind, place, entries)


def _kernel_dht(device: _KernelDevice, pin: int) -> Found | str:
    kinds = [kind for kind, info in CHIPS.items() if info.name == device.name.partition("@")[0]]
    if not kinds:
        return f"{device.path.name} {device.name} on {device.parent.name} (not the dht11 driver's)"
    kind = _pick(kinds, None)
    title = "/".join(PROPOSALS[k].title for k in kinds)
    how = f"{_driver(device.parent)}, {device.path.name}; its driver serves the {title} alike: check the chip"
    return Found(title, f"GPIO{pin}", how, kind, f"gpio{pin}", _named_entries(PROPOSALS[kind], (("pin", pin),)))


def _generic(device: _KernelDevice, bus: int, address: int, how: str) -> Found | str:
    """A device the table does not know: one generic entry per channel whose type has a known unit."""
    channels = _file_channels(device)
    where = f"i2c-{bus} {address:#04x}"
    if not channels:
        return f"{device.path.name} {device.name} at {where} (no channel of a type with a known unit)"
    entries = _generic_entries(device.subsystem, channels, (("bus", bus), ("address", address)))
    how = f"{how}; not in our table, read through the generic {device.subsystem} kind"
    return Found(device.name, where, how, _valid_id(device.name) or device.subsystem, f"{bus}-{address:02x}", entries)


def _file_channels(device: _KernelDevice) -> list[str]:
    """The channels of the device's `in_<channel>_input|_raw` (IIO) or `<channel>_input` (hwmon) files."""
    pattern = r"^in_(.+)_(?:input|raw)$" if device.subsystem == "iio" else r"^([a-z]+\d+)_input$"
    names = dict.fromkeys(m[1] for m in (re.match(pattern, p.name) for p in sorted(device.path.iterdir())) if m)
    channels = []
    for name in names:
        try:
            Channel(device.subsystem, name)
        except DeviceError:
            continue  # a type we have no unit for (fan speed, timestamp ...)
        channels.append(name)
    return channels


def _adc_inputs(device: Path) -> tuple[str, ...]:
    """The single-ended inputs an ADS1x15's driver serves (in_voltageN_raw); "0" when none is listed."""
    inputs = sorted({m[1] for m in (re.match(r"^in_voltage([0-3])_raw$", p.name) for p in device.iterdir()) if m})
    return tuple(inputs) or ("0",)


def _pick(kinds: Sequence[str], client_name: str | None) -> str:
    """The kind the I2C client names (its `name` is the overlay's compatible), else the preferred sibling."""
    if client_name in kinds:
        return str(client_name)
    return next((kind for kind in kinds if PROPOSALS[kind].preferred), kinds[0])


def _driver(device: Path) -> str:
    """`kernel driver bmp280`, from the device's driver link."""
    link = device / "driver"
    return f"kernel driver {link.resolve().name}" if link.exists() else "kernel driver"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------------------------
# 2. 1-Wire


def _one_wire(root: Path, detection: Detection) -> None:
    directory = root / "bus" / "w1" / "devices"
    w1_hint = "enable 1-Wire with `dtoverlay=w1-gpio` in config.txt (data on GPIO4; `,gpiopin=N` for another), reboot"
    if not directory.is_dir():
        detection.looked_at.append(f"{directory} (missing: 1-Wire is off)")
        detection.hints.append(w1_hint)
        return
    ids = sorted(path.name for path in directory.iterdir() if DEVICE_ID.match(path.name))
    detection.looked_at.append(f"{directory} ({len(ids)} thermometer(s))")
    if not ids:
        detection.hints.append("1-Wire is on but no thermometer answers: check the 4.7 kΩ pull-up and the wiring")
    for device_id in ids:
        entry = Entry("temperature", (("kind", "ds18b20"), ("device_id", device_id)))
        title = FAMILIES[device_id[:2]]
        detection.found.append(
            Found(title, f"1-Wire {device_id}", "kernel driver w1_therm", "ds18b20", device_id, (entry,))
        )


# ---------------------------------------------------------------------------------------------------------------
# 3. I2C in user space


def _i2c_route(sysfs_root: Path, dev_root: Path, detection: Detection) -> None:
    buses = i2c_buses(dev_root)
    if not buses:
        detection.looked_at.append(f"no I2C bus in {dev_root} (i2c-*)")
        detection.hints.append(
            "enable I2C with `dtparam=i2c_arm=on` in config.txt (or raspi-config > Interface Options > I2C), reboot"
        )
        return
    answered = probed = False
    for number in buses:
        scan = scan_bus(number, dev_root, sysfs_root)
        detection.looked_at.append(_scanned(scan))
        if scan.error:
            detection.problems.append(scan.error)
        detection.found.extend(_user_space(scan.bus, answer) for answer in scan.answers)
        answered = answered or bool(scan.answers)
        probed = probed or bool(scan.probed)
    if probed and not answered:
        detection.hints.append(
            "I2C is on but no chip answered at our chips' addresses: check SDA (GPIO2), SCL (GPIO3), power and "
            "ground; `i2cdetect -y <bus>` lists every address that answers"
        )
    detection.hints.append(
        "SHT3x/SHT4x, HTU21D and Si7021 answer no read until sent a command, which detect never sends: bind the "
        "kernel driver (e.g. `dtoverlay=i2c-sensor,sht3x`), reboot and run detect again"
    )


def _scanned(scan: BusScan) -> str:
    text = f"i2c-{scan.bus} (read at {_ranges(scan.probed)}" if scan.probed else f"i2c-{scan.bus} (not probed"
    if scan.owned:
        text += f"; {_ranges(scan.owned)} left to their kernel drivers"
    return text + ")"


def _ranges(addresses: Iterable[int]) -> str:
    """`0x23, 0x40-0x4f, 0x76-0x77`."""
    runs: list[list[int]] = []
    for address in sorted(addresses):
        if runs and address == runs[-1][-1] + 1:
            runs[-1].append(address)
        else:
            runs.append([address])
    return ", ".join(f"{r[0]:#04x}" if len(r) == 1 else f"{r[0]:#04x}-{r[-1]:#04x}" for r in runs)


def _user_space(bus: int, answer: Answer) -> Found:
    if answer.chip_id is not None:
        return _identified(bus, answer.address, answer.chip_id)
    return _unconfirmed(bus, answer.address)


def _identified(bus: int, address: int, chip_id: int) -> Found:
    where, place = f"i2c-{bus} {address:#04x}", f"{bus}-{address:02x}"
    kind = BOSCH_CHIP_IDS.get(chip_id)
    if kind is None:
        how = f"chip id {chip_id:#04x} at a Bosch address is none of the chips we know"
        return Found(f"chip id {chip_id:#04x}", where, how, "unknown", place, confirmed=False)
    proposal, binding = PROPOSALS[kind], binding_line(CHIPS[kind], bus, address)
    if not proposal.user_space or proposal.kind is None:
        how = f"user space, no driver of ours: `{binding}` binds the kernel driver; then run detect again"
        return Found(proposal.title, where, how, kind, place)
    how = f"user space; `{binding}` would bind the kernel driver"
    fields: Fields = (("bus", bus), ("address", address), ("backend", "auto"))
    return Found(proposal.title, where, how, kind, place, _named_entries(proposal, fields))


def _expander(bus: int, address: int) -> Found:
    """Something answered a plain read at an expander address: which of the four, no read can tell safely."""
    chip = "pcf8574" if address >= 0x38 else "mcp23017"
    where, place = f"i2c-{bus} {address:#04x}", f"{bus}-{address:02x}"
    title = "PCF8574A" if address >= 0x38 else "MCP23017/MCP23008/PCF8574/PCF8575"
    how = "a GPIO expander: set `chip` to the one on your board; its pins then serve inputs and outputs"
    fields: Fields = (("chip", chip), ("bus", bus), ("address", address))
    entry = Entry(f"{address:02x}", fields, "expanders")
    return Found(title, where, how, "expander", place, (entry,), confirmed=False)


def _unconfirmed(bus: int, address: int) -> Found:
    """Something answered a plain read where chips of the table live; no id register says which."""
    if not any(address in info.addresses for info in CHIPS.values()):
        return _expander(bus, address)
    kinds = sorted((k for k, info in CHIPS.items() if address in info.addresses), key=lambda k: k in _SILENT_WHEN_IDLE)
    title = "/".join(dict.fromkeys(PROPOSALS[k].title for k in kinds))
    where, place = f"i2c-{bus} {address:#04x}", f"{bus}-{address:02x}"
    readable = [k for k in kinds if k not in _SILENT_WHEN_IDLE and PROPOSALS[k].user_space]
    if not readable:
        binding = binding_line(CHIPS[kinds[0]], bus, address)
        how = f"no driver of ours reads it: `{binding}` binds the kernel's; then run detect again"
        return Found(title, where, how, kinds[0], place, confirmed=False)
    kind = _pick(readable, None)
    how = "no id register to confirm it, so its tables below are commented out"
    fields: Fields = (("bus", bus), ("address", address), ("backend", "auto"))
    return Found(title, where, how, kind, place, _named_entries(PROPOSALS[kind], fields), confirmed=False)


# ---------------------------------------------------------------------------------------------------------------
# Entries, ids and output


def _named_entries(proposal: Proposal, location: Fields, inputs: Sequence[str] = ("0",)) -> tuple[Entry, ...]:
    assert proposal.kind is not None  # noqa: S101 - callers check
    head: Fields = (("kind", proposal.kind),) + ((("chip", proposal.chip),) if proposal.chip else ())
    if proposal.kind in _ADC_KINDS:  # one entry per input: each is its own conversion
        return tuple(Entry(f"voltage{pin}", (*head, ("channel", pin), *location)) for pin in inputs)
    return tuple(Entry(q, (*head, ("quantity", q), *location)) for q in proposal.quantities)


def _generic_entries(subsystem: Subsystem, channels: Sequence[str], location: Fields) -> tuple[Entry, ...]:
    return tuple(Entry(name, (("kind", subsystem), ("channel", name), *location)) for name in channels)


def assign_ids(found: Sequence[Found], taken: Iterable[str] = ()) -> list[list[str]]:
    """Unique, valid ids for every entry: `<stem>-<name>`, with the place added when a stem repeats."""
    stems = Counter(item.stem for item in found)
    used = set(taken)
    ids = []
    for item in found:
        prefix = item.stem if stems[item.stem] == 1 else f"{item.stem}-{item.place}"
        ids.append([_unique(_valid_id(f"{prefix}-{entry.name}") or "sensor", used) for entry in item.entries])
    return ids


def _valid_id(text: str) -> str:
    """`text` as an id (ID_PATTERN: [a-z0-9][a-z0-9_-]{0,63}); "" when nothing of it is left."""
    return _ID_JUNK.sub("-", text.lower()).lstrip("_-")[:64].rstrip("_-")


def _unique(candidate: str, used: set[str]) -> str:
    chosen, number = candidate, 1
    while chosen in used:
        number += 1
        chosen = f"{candidate[: 63 - len(str(number))]}-{number}"
    used.add(chosen)
    return chosen


def render_toml(found: Sequence[Found], taken: Iterable[str] = ()) -> str:
    """The `[[sensors]]` tables of every device, each under a comment naming it; unconfirmed ones commented out.
    `taken`: ids already in the config they are pasted into."""
    blocks = []
    for item, ids in zip(found, assign_ids(found, taken), strict=True):
        if not item.entries:
            continue
        lines = [f"# {item.describe()}"]
        for entry_id, entry in zip(ids, item.entries, strict=True):
            fields = (f"{k} = {_toml_value(k, v)}" for k, v in entry.fields)
            table = [f"[[{entry.table}]]", f'id = "{entry_id}"', *fields]
            lines += [("" if item.confirmed else "# ") + line for line in table] + [""]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _toml_value(key: str, value: TomlValue) -> str:
    if isinstance(value, int):
        return f"{value:#04x}" if key == "address" else str(value)
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def render_report(detection: Detection) -> str:
    """The human list (what, where, how), what was skipped, then the TOML tables."""
    lines = [f"Found {len(detection.found)} device(s):", *(f"  {item.describe()}" for item in detection.found)]
    if detection.skipped:
        lines += ["Skipped:", *(f"  {note}" for note in detection.skipped)]
    toml = render_toml(detection.found)
    if toml:
        lines += ["", "# Paste into the config file (or let `pi-mqtt-gateway init --detect` write them):", "", toml]
    return "\n".join(lines).rstrip("\n") + "\n"


def nothing_found(detection: Detection) -> str:
    """The message when no sensor was found: where detect looked, and what to try."""
    lines = [f"No sensors found: looked at {'; '.join(detection.looked_at)}."]
    return "\n".join([*lines, *(f"  hint: {hint}" for hint in detection.hints)])


def with_detected(config_text: str, detection: Detection) -> str:
    """`config_text` (a config file, e.g. the example) with the detected tables appended, ids unique in it."""
    if not detection.found:
        return config_text
    sensors = tomllib.loads(config_text).get("sensors", [])
    taken = {str(sensor.get("id")) for sensor in sensors if isinstance(sensor, dict)}
    header = "\n# Sensors found by `pi-mqtt-gateway init --detect`:\n\n"
    return config_text.rstrip("\n") + "\n" + header + render_toml(detection.found, taken)
