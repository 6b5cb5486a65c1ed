"""The kernel's sysfs units and how each becomes one of our quantities (°C, %, hPa, lx, V, A, W, ppm, µg/m³).

Every entry is the unit the kernel ABI documents for a channel type, not what one driver happens to print:

- IIO: Documentation/ABI/testing/sysfs-bus-iio ("Units after application of scale and offset are ...").
- hwmon: Documentation/hwmon/sysfs-interface.rst ("Unit: ...").

A kernel value times `factor` is the value in our unit (gateway.quantities).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Subsystem = Literal["iio", "hwmon"]


@dataclass(frozen=True)
class KernelUnit:
    """What one kernel channel type measures: our quantity, the kernel's unit and the factor to ours."""

    quantity: str
    kernel_unit: str
    factor: Decimal  # Decimal: 23125 m°C must become 23.125 °C, not 23.125000000000004


def _unit(quantity: str, kernel_unit: str, factor: str) -> KernelUnit:
    return KernelUnit(quantity, kernel_unit, Decimal(factor))


# sysfs-bus-iio, keyed by the channel type as it appears in the file name (`in_<type>[Y][_<modifier>]_...`).
IIO_UNITS: dict[str, KernelUnit] = {
    "temp": _unit("temperature", "milli degrees Celsius", "0.001"),  # in_tempY_input / in_temp_raw
    "humidityrelative": _unit("humidity", "milli percent", "0.001"),  # in_humidityrelative_input
    "pressure": _unit("pressure", "kilopascal", "10"),  # in_pressureY_input: kPa -> hPa
    "illuminance": _unit("illuminance", "lux", "1"),  # in_illuminance_input / _raw
    "voltage": _unit("voltage", "millivolts", "0.001"),  # in_voltageY_raw, in_voltageY-voltageZ_raw
    "current": _unit("current", "milliamps", "0.001"),  # in_currentY_raw
    "power": _unit("power", "milliwatts", "0.001"),  # in_powerY_raw
    "concentration_co2": _unit("carbon_dioxide", "percents", "10000"),  # in_concentration_co2_raw: % -> ppm
    "massconcentration_pm1": _unit("pm1", "ug / m3", "1"),  # in_massconcentration_pm1_input
    "massconcentration_pm2p5": _unit("pm25", "ug / m3", "1"),
    "massconcentration_pm10": _unit("pm10", "ug / m3", "1"),
}

# sysfs-interface.rst, keyed by the attribute type (`<type><number>_input`).
HWMON_UNITS: dict[str, KernelUnit] = {
    "temp": _unit("temperature", "millidegree Celsius", "0.001"),  # temp[1-*]_input
    "humidity": _unit("humidity", "milli-percent (per cent mille, pcm)", "0.001"),  # humidity[1-*]_input
    "in": _unit("voltage", "millivolt", "0.001"),  # in[0-*]_input
    "curr": _unit("current", "milliampere", "0.001"),  # curr[1-*]_input
    "power": _unit("power", "microWatt", "0.000001"),  # power[1-*]_input
}

UNITS: dict[Subsystem, dict[str, KernelUnit]] = {"iio": IIO_UNITS, "hwmon": HWMON_UNITS}


def kernel_unit(subsystem: Subsystem, channel_type: str, modifier: str | None = None) -> KernelUnit:
    """The unit of `channel_type` (with its modifier, e.g. concentration + co2); KeyError when we have none."""
    table = UNITS[subsystem]
    if modifier and f"{channel_type}_{modifier}" in table:
        return table[f"{channel_type}_{modifier}"]
    return table[channel_type]
