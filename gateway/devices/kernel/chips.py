"""The named chips of the kernel route: which overlay binds each, where it answers, what it measures.

This table lets `kind = "bme280"` work without channel names, and is what `detect` proposes. Every entry was read
from its driver (the `name` file, the channels, processed or raw) and the overlay line from raspberrypi/linux
arch/arm/boot/dts/overlays/README; addresses come from that README or, where it names none, the driver's header.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.devices.kernel.channels import Channel
from gateway.devices.kernel.chip import DHT_POLICY, I2C_POLICY, KernelChip, RetryPolicy
from gateway.devices.kernel.locate import ByName, I2CDevice, Locator
from gateway.devices.kernel.sysfs import SYS
from gateway.devices.kernel.units import Subsystem
from gateway.errors import DeviceError


@dataclass(frozen=True)
class KernelChipInfo:
    """One chip model on the kernel route."""

    kind: str
    subsystem: Subsystem
    name: str | None  # the device's `name` file; None when the driver writes the bus id there (si7020)
    addresses: tuple[int, ...]  # I2C addresses it answers on, the overlay's default first; () for GPIO chips
    overlay: str | None  # the config.txt line that binds it; None when no overlay does
    channels: tuple[Channel, ...]
    policy: RetryPolicy = I2C_POLICY


def _iio(*names: str) -> tuple[Channel, ...]:
    return tuple(Channel("iio", name) for name in names)


def _hwmon(*names: str) -> tuple[Channel, ...]:
    return tuple(Channel("hwmon", name) for name in names)


_BOSCH = (0x76, 0x77)
_SENSIRION = (0x44, 0x45)
_TI_ADS = (0x48, 0x49, 0x4A, 0x4B)  # ti-ads1015.c: ADDR to GND, VDD, SDA, SCL

CHIPS: dict[str, KernelChipInfo] = {
    info.kind: info
    for info in (
        # bmp280-core.c: IIO_TEMP, IIO_PRESSURE, IIO_HUMIDITYRELATIVE with IIO_CHAN_INFO_PROCESSED.
        KernelChipInfo(
            "bme280",
            "iio",
            "bme280",
            _BOSCH,
            "dtoverlay=i2c-sensor,bme280",
            _iio("temp", "pressure", "humidityrelative"),
        ),
        KernelChipInfo("bmp280", "iio", "bmp280", _BOSCH, "dtoverlay=i2c-sensor,bmp280", _iio("temp", "pressure")),
        KernelChipInfo("bmp180", "iio", "bmp180", (0x77,), "dtoverlay=i2c-sensor,bmp180", _iio("temp", "pressure")),
        KernelChipInfo("bmp085", "iio", "bmp085", (0x77,), "dtoverlay=i2c-sensor,bmp085", _iio("temp", "pressure")),
        # dht11.c (DHT11 and DHT22): platform device, iio name = pdev->name ("dht11@4"), processed channels.
        KernelChipInfo(
            "dht11", "iio", "dht11", (), "dtoverlay=dht11,gpiopin=4", _iio("temp", "humidityrelative"), DHT_POLICY
        ),
        KernelChipInfo(
            "dht22", "iio", "dht11", (), "dtoverlay=dht11,gpiopin=4", _iio("temp", "humidityrelative"), DHT_POLICY
        ),
        # hwmon drivers registered with client->name: temp1_input (m°C), humidity1_input (pcm).
        KernelChipInfo(
            "sht3x", "hwmon", "sht3x", _SENSIRION, "dtoverlay=i2c-sensor,sht3x", _hwmon("temp1", "humidity1")
        ),
        KernelChipInfo(
            "sht4x", "hwmon", "sht4x", _SENSIRION, "dtoverlay=i2c-sensor,sht4x", _hwmon("temp1", "humidity1")
        ),
        KernelChipInfo("aht10", "hwmon", "aht10", (0x38,), "dtoverlay=i2c-sensor,aht10", _hwmon("temp1", "humidity1")),
        # htu21.c: info_mask_shared_by_type PROCESSED -> in_temp_input, in_humidityrelative_input; address 0x40.
        KernelChipInfo(
            "htu21", "iio", "htu21", (0x40,), "dtoverlay=i2c-sensor,htu21", _iio("temp", "humidityrelative")
        ),
        # si7020.c (Si7013/20/21): RAW + SCALE + OFFSET; `indio_dev->name = dev_name(&client->dev)` ("1-0040").
        KernelChipInfo("si7020", "iio", None, (0x40,), "dtoverlay=i2c-sensor,si7020", _iio("temp", "humidityrelative")),
        KernelChipInfo("si7021", "iio", None, (0x40,), "dtoverlay=i2c-sensor,si7020", _iio("temp", "humidityrelative")),
        # bh1750.c: IIO_LIGHT RAW + SCALE (in_illuminance_raw, in_illuminance_scale); 0x23 or 0x5c.
        KernelChipInfo("bh1750", "iio", "bh1750", (0x23, 0x5C), "dtoverlay=i2c-sensor,bh1750", _iio("illuminance")),
        # ti-ads1015.c: `indio_dev->name = ADS1015_DRV_NAME` ("ads1015") for both; in_voltageY_raw + _scale (mV).
        KernelChipInfo("ads1015", "iio", "ads1015", _TI_ADS, "dtoverlay=ads1015", _iio("voltage0")),
        KernelChipInfo("ads1115", "iio", "ads1015", _TI_ADS, "dtoverlay=ads1115", _iio("voltage0")),
        # ina2xx.c: in0 shunt mV, in1 bus mV, curr1 mA, power1 µW; hwmon name = client->name. No overlay binds it:
        # `echo ina219 0x40 > /sys/bus/i2c/devices/i2c-1/new_device` does.
        KernelChipInfo("ina219", "hwmon", "ina219", tuple(range(0x40, 0x50)), None, _hwmon("in1", "curr1", "power1")),
        KernelChipInfo("ina226", "hwmon", "ina226", tuple(range(0x40, 0x50)), None, _hwmon("in1", "curr1", "power1")),
    )
}


def chip_info(kind: str) -> KernelChipInfo:
    """The table entry for `kind`; DeviceError naming the known kinds otherwise."""
    try:
        return CHIPS[kind]
    except KeyError:
        raise DeviceError(f"no kernel chip {kind!r} (known: {', '.join(sorted(CHIPS))})") from None


def default_locator(kind: str, bus: int = 1, address: int | None = None) -> Locator:
    """Where a `kind` chip is found: at its I2C address (default: the overlay's), or by name for GPIO chips."""
    info = chip_info(kind)
    if not info.addresses:
        return ByName(info.name or kind, info.subsystem)
    return I2CDevice(bus, info.addresses[0] if address is None else address, info.subsystem)


def open_named(kind: str, locator: Locator | None = None, root: Path = SYS) -> KernelChip:
    """A KernelChip reading every channel the table lists for `kind`."""
    info = chip_info(kind)
    return KernelChip(root, locator or default_locator(kind), info.channels, policy=info.policy)
