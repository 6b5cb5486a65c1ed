"""Fake sysfs trees for the demo and simulation: each chip laid out as its kernel driver lays it out.

A builder creates the device under `<root>/devices/...`, with the kernel's symlinks in `<root>/bus/...` and
`<root>/class/hwmon`, writes its `name` and value files in kernel units, and returns a `FakeDevice` whose
`update()` writes new values (atomically, so a concurrent reader never sees half a number):

    tree = bme280(root)                      # <root>/bus/i2c/devices/1-0076/iio:device0/in_temp_input ...
    tree.update({"temperature": 21.5, "pressure": 1013.2, "humidity": 40.0})
    chip = open_named("bme280", root=root)   # reads it like /sys
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

Encoder = Callable[[float], str]


@dataclass
class FakeDevice:
    """One fake device directory and how each quantity is written into it."""

    path: Path
    encoders: dict[str, list[tuple[str, Encoder]]] = field(default_factory=dict)

    def update(self, values: Mapping[str, float]) -> None:
        """Write new values (by quantity name, in our units) the way the driver would print them."""
        for quantity, value in values.items():
            for filename, encode in self.encoders[quantity]:
                _write(self.path / filename, encode(value))


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.new")
    temporary.write_text(text, encoding="ascii")
    os.replace(temporary, path)


def _milli(value: float) -> str:
    return f"{round(value * 1000)}\n"


def _micro(value: float) -> str:
    return f"{round(value * 1_000_000)}\n"


def _fractional(value: float) -> str:
    """IIO_VAL_FRACTIONAL as iio_format_value prints it: "%d.%09u"."""
    return f"{Decimal(value).quantize(Decimal('0.000000001'))}\n"


def _raw(scale: float, factor: float, offset: int = 0) -> Encoder:
    """A raw count such that (raw + offset) * scale is the kernel value (our value / `factor`)."""
    return lambda value: f"{round(value / factor / scale) - offset}\n"


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=True)


def _next(directory: Path, prefix: str) -> int:
    """The next free N of iio:deviceN / hwmonN (the kernel numbers in probe order)."""
    taken = {int(p.name.removeprefix(prefix)) for p in directory.glob(f"{prefix}*")} if directory.is_dir() else set()
    return next(n for n in range(len(taken) + 1) if n not in taken)


def _i2c_client(root: Path, bus: int, address: int, driver: str) -> Path:
    """`<root>/devices/platform/soc/i2c-<bus>/<bus>-<addr>`, its `<root>/bus/i2c/devices/` link, and the `driver`
    link a bound driver gives it (`<root>/bus/i2c/drivers/<driver>`)."""
    client = f"{bus}-{address:04x}"
    device = root / "devices" / "platform" / "soc" / f"i2c-{bus}" / client
    device.mkdir(parents=True)
    _link(root / "bus" / "i2c" / "devices" / client, device)
    drivers = root / "bus" / "i2c" / "drivers" / driver
    drivers.mkdir(parents=True, exist_ok=True)
    _link(device / "driver", drivers)
    return device


def _iio_device(root: Path, parent: Path, name: str, files: Mapping[str, str]) -> Path:
    links = root / "bus" / "iio" / "devices"
    iio = parent / f"iio:device{_next(links, 'iio:device')}"
    iio.mkdir()
    _link(links / iio.name, iio)
    for filename, text in {"name": f"{name}\n", **files}.items():
        _write(iio / filename, text)
    return iio


def _hwmon_device(root: Path, parent: Path, name: str, files: Mapping[str, str]) -> Path:
    links = root / "class" / "hwmon"
    hwmon = parent / "hwmon" / f"hwmon{_next(links, 'hwmon')}"
    hwmon.mkdir(parents=True)
    _link(links / hwmon.name, hwmon)
    for filename, text in {"name": f"{name}\n", **files}.items():
        _write(hwmon / filename, text)
    return hwmon


def _fake(path: Path, encoders: Mapping[str, tuple[str, Encoder]], values: Mapping[str, float]) -> FakeDevice:
    device = FakeDevice(path, {quantity: [encoder] for quantity, encoder in encoders.items()})
    device.update(values)
    return device


def bme280(root: Path, *, bus: int = 1, address: int = 0x76, chip: str = "bme280") -> FakeDevice:
    """bmp280-core.c: processed in_temp_input (m°C), in_pressure_input (kPa), in_humidityrelative_input (m%);
    `chip = "bmp280"` has no humidity channel."""
    iio = _iio_device(root, _i2c_client(root, bus, address, "bmp280"), chip, {})
    encoders = {
        "temperature": ("in_temp_input", _milli),
        "pressure": ("in_pressure_input", lambda hpa: _fractional(hpa / 10)),
        "humidity": ("in_humidityrelative_input", _milli),
    }
    if chip == "bmp280":
        del encoders["humidity"]
    return _fake(iio, encoders, {"temperature": 21.5, "pressure": 1013.25, "humidity": 45.0})


def dht22(root: Path, *, gpio: int = 4) -> FakeDevice:
    """dht11.c: platform device `dht11@<gpio>`, iio name = pdev->name, processed temp and humidity (milli)."""
    platform = root / "devices" / "platform" / f"dht11@{gpio:x}"  # the overlay sets the node's reg to gpiopin
    platform.mkdir(parents=True)
    _link(root / "bus" / "platform" / "devices" / platform.name, platform)
    iio = _iio_device(root, platform, platform.name, {})
    encoders = {"temperature": ("in_temp_input", _milli), "humidity": ("in_humidityrelative_input", _milli)}
    return _fake(iio, encoders, {"temperature": 22.3, "humidity": 51.2})


def sht3x(root: Path, *, bus: int = 1, address: int = 0x44, chip: str = "sht3x") -> FakeDevice:
    """sht3x.c (and sht4x.c, aht10.c): hwmon temp1_input (m°C), humidity1_input (pcm)."""
    hwmon = _hwmon_device(root, _i2c_client(root, bus, address, chip), chip, {})
    encoders = {"temperature": ("temp1_input", _milli), "humidity": ("humidity1_input", _milli)}
    return _fake(hwmon, encoders, {"temperature": 20.9, "humidity": 48.7})


def ina219(root: Path, *, bus: int = 1, address: int = 0x40) -> FakeDevice:
    """ina2xx.c: in0_input shunt mV, in1_input bus mV, curr1_input mA, power1_input µW, shunt_resistor µΩ."""
    client = _i2c_client(root, bus, address, "ina2xx")
    hwmon = _hwmon_device(root, client, "ina219", {"shunt_resistor": "10000\n"})
    encoders = {
        "shunt_voltage": ("in0_input", _milli),
        "voltage": ("in1_input", _milli),
        "current": ("curr1_input", _milli),
        "power": ("power1_input", _micro),
    }
    return _fake(hwmon, encoders, {"shunt_voltage": 0.005, "voltage": 5.1, "current": 0.5, "power": 2.55})


def ads1115(root: Path, *, bus: int = 1, address: int = 0x48, channel: str = "0") -> FakeDevice:
    """ti-ads1015.c: name "ads1015", in_voltage0_raw with in_voltage0_scale "0.125000000" (4.096 V / 2^15, mV);
    `channel` "0".."3" or a pair "0-1" (in_voltage0-voltage1_raw)."""
    scale = "0.125000000"
    stem = "in_" + "-".join(f"voltage{pin}" for pin in channel.split("-"))
    files = {f"{stem}_scale": f"{scale}\n"}
    iio = _iio_device(root, _i2c_client(root, bus, address, "ads1015"), "ads1015", files)
    encoders = {"voltage": (f"{stem}_raw", _raw(float(scale), 0.001))}
    return _fake(iio, encoders, {"voltage": 1.65})


def ads1115_input(device: FakeDevice, channel: str) -> FakeDevice:
    """Another input of a fake ADS1115 (`ads1115(...)`'s device): its scale file, and a view writing its raw value."""
    scale = "0.125000000"
    stem = "in_" + "-".join(f"voltage{pin}" for pin in channel.split("-"))
    _write(device.path / f"{stem}_scale", f"{scale}\n")
    return FakeDevice(device.path, {"voltage": [(f"{stem}_raw", _raw(float(scale), 0.001))]})


def bh1750(root: Path, *, bus: int = 1, address: int = 0x23) -> FakeDevice:
    """bh1750.c: in_illuminance_raw and in_illuminance_scale "0.833333" (57500000 / 69 µlx, INT_PLUS_MICRO)."""
    scale = "0.833333"
    client = _i2c_client(root, bus, address, "bh1750")
    iio = _iio_device(root, client, "bh1750", {"in_illuminance_scale": f"{scale}\n"})
    encoders = {"illuminance": ("in_illuminance_raw", _raw(float(scale), 1.0))}
    return _fake(iio, encoders, {"illuminance": 250.0})


def ds18b20(root: Path, *, device_id: str = "28-000000000001") -> FakeDevice:
    """w1_therm.c: `temperature` (m°C) and `w1_slave` (CRC line ending YES, then t=<m°C>)."""
    device = root / "devices" / "w1_bus_master1" / device_id
    device.mkdir(parents=True)
    _link(root / "bus" / "w1" / "devices" / device_id, device)
    fake = FakeDevice(device, {"temperature": [("temperature", _milli), ("w1_slave", _w1_slave)]})
    fake.update({"temperature": 18.5})
    return fake


def _w1_slave(celsius: float) -> str:
    scratchpad = "28 01 4b 46 7f ff 0c 10 1c"
    return f"{scratchpad} : crc=1c YES\n{scratchpad} t={round(celsius * 1000)}\n"
