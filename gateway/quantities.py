"""What a sensor measures: a quantity's unit, its Home Assistant classes and its precision (no imports of ours).

Drivers return every quantity in the unit named here (the kernel's milli-units, kPa, µW ... are converted at the
device layer), so a reading's unit, its rounding and its Home Assistant entity follow from the quantity alone.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quantity:
    """One measured quantity: `precision` decimals are published, `display_precision` shown in Home Assistant."""

    name: str
    unit: str | None
    device_class: str | None
    precision: int
    display_precision: int
    state_class: str | None = "measurement"


def _table(*quantities: Quantity) -> dict[str, Quantity]:
    return {quantity.name: quantity for quantity in quantities}


# Published precision follows the best chips' resolution (the kernel's m°C, BME280: 0.18 Pa; INA219: 0.1 mA), so
# rounding never hides a real change; Home Assistant shows what the typical accuracy supports.
QUANTITIES: dict[str, Quantity] = _table(
    Quantity("temperature", "°C", "temperature", 3, 1),  # the kernel's m°C; a DS18B20 steps by 0.0625
    Quantity("humidity", "%", "humidity", 1, 0),
    Quantity("pressure", "hPa", "atmospheric_pressure", 2, 1),
    Quantity("illuminance", "lx", "illuminance", 1, 0),
    Quantity("voltage", "V", "voltage", 6, 2),  # an ADS1115 at ±0.256 V steps by 7.8 µV
    Quantity("current", "A", "current", 4, 3),
    Quantity("power", "W", "power", 3, 2),
    Quantity("pm1", "µg/m³", "pm1", 0, 0),
    Quantity("pm25", "µg/m³", "pm25", 0, 0),
    Quantity("pm10", "µg/m³", "pm10", 0, 0),
    Quantity("carbon_dioxide", "ppm", "carbon_dioxide", 0, 0),
    # The gpiozero kinds' own: a distance in m (to the mm), and plain numbers without a Home Assistant class.
    Quantity("distance", "m", "distance", 3, 3),
    Quantity("adc_value", None, None, 6, 3),  # an MCP3xxx channel: 12 bits, times any configured scale
    Quantity("light_level", None, None, 3, 2),  # an LDR's 0 (dark) .. 1 (bright)
    Quantity("load_average", None, None, 2, 2),
    Quantity("disk_used", "%", None, 1, 1),
)


def quantity(name: str) -> Quantity:
    """The quantity called `name` (KeyError for an unknown one)."""
    return QUANTITIES[name]
