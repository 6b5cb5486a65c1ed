"""What Home Assistant accepts for a sensor entity, and our defaults per sensor kind (no imports of our config).

`DEVICE_CLASS_UNITS` and `AMBIGUOUS_UNITS` are Home Assistant's own tables
(`homeassistant/components/sensor/const.py`, release 2026.2.3), read from its released package; since
2025.7 an MQTT sensor whose unit does not fit its device class is refused (2025.4-2025.6 only warn).
`tests/ha_schema` compares these tables with the installed Home Assistant's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

HA_UNITS_RELEASE = "2026.2.3"

# device_class -> the units Home Assistant accepts (None: no unit). Classes not listed take any unit.
DEVICE_CLASS_UNITS: dict[str, frozenset[str | None]] = {
    "absolute_humidity": frozenset({"g/m³", "mg/m³"}),
    "apparent_power": frozenset({"VA", "kVA", "mVA"}),
    "aqi": frozenset({None}),
    "area": frozenset({"ac", "cm²", "ft²", "ha", "in²", "km²", "mi²", "mm²", "m²", "yd²"}),
    "atmospheric_pressure": frozenset(
        {"Pa", "bar", "cbar", "hPa", "inHg", "inH₂O", "kPa", "mPa", "mbar", "mmHg", "psi"}
    ),
    "battery": frozenset({"%"}),
    "blood_glucose_concentration": frozenset({"mg/dL", "mmol/L"}),
    "carbon_dioxide": frozenset({"ppm"}),
    "carbon_monoxide": frozenset({"mg/m³", "ppb", "ppm", "μg/m³"}),
    "conductivity": frozenset({"S/cm", "mS/cm", "μS/cm"}),
    "current": frozenset({"A", "mA"}),
    "data_rate": frozenset(
        {"B/s", "GB/s", "Gbit/s", "GiB/s", "KiB/s", "MB/s", "Mbit/s", "MiB/s", "bit/s", "kB/s", "kbit/s"}
    ),
    "data_size": frozenset(
        {
            "B",
            "EB",
            "EiB",
            "GB",
            "Gbit",
            "GiB",
            "KiB",
            "MB",
            "Mbit",
            "MiB",
            "PB",
            "PiB",
            "TB",
            "TiB",
            "YB",
            "YiB",
            "ZB",
            "ZiB",
            "bit",
            "kB",
            "kbit",
        }
    ),
    "distance": frozenset({"cm", "ft", "in", "km", "m", "mi", "mm", "nmi", "yd"}),
    "duration": frozenset({"d", "h", "min", "ms", "s", "μs"}),
    "energy": frozenset(
        {"GJ", "GWh", "Gcal", "J", "MJ", "MWh", "Mcal", "TWh", "Wh", "cal", "kJ", "kWh", "kcal", "mWh"}
    ),
    "energy_distance": frozenset({"Wh/km", "kWh/100km", "km/kWh", "mi/kWh"}),
    "energy_storage": frozenset(
        {"GJ", "GWh", "Gcal", "J", "MJ", "MWh", "Mcal", "TWh", "Wh", "cal", "kJ", "kWh", "kcal", "mWh"}
    ),
    "frequency": frozenset({"GHz", "Hz", "MHz", "kHz"}),
    "gas": frozenset({"CCF", "L", "MCF", "ft³", "m³"}),
    "humidity": frozenset({"%"}),
    "illuminance": frozenset({"lx"}),
    "irradiance": frozenset({"BTU/(h⋅ft²)", "W/m²"}),
    "moisture": frozenset({"%"}),
    "nitrogen_dioxide": frozenset({"ppb", "μg/m³"}),
    "nitrogen_monoxide": frozenset({"ppb", "μg/m³"}),
    "nitrous_oxide": frozenset({"μg/m³"}),
    "ozone": frozenset({"ppb", "μg/m³"}),
    "ph": frozenset({None}),
    "pm1": frozenset({"μg/m³"}),
    "pm10": frozenset({"μg/m³"}),
    "pm25": frozenset({"μg/m³"}),
    "pm4": frozenset({"μg/m³"}),
    "power": frozenset({"GW", "MW", "TW", "W", "kW", "mW"}),
    "power_factor": frozenset({"%", None}),
    "precipitation": frozenset({"cm", "in", "mm"}),
    "precipitation_intensity": frozenset({"in/d", "in/h", "mm/d", "mm/h"}),
    "pressure": frozenset({"Pa", "bar", "cbar", "hPa", "inHg", "inH₂O", "kPa", "mPa", "mbar", "mmHg", "psi"}),
    "reactive_energy": frozenset({"kvarh", "varh"}),
    "reactive_power": frozenset({"kvar", "mvar", "var"}),
    "signal_strength": frozenset({"dB", "dBm"}),
    "sound_pressure": frozenset({"dB", "dBA"}),
    "speed": frozenset(
        {"Beaufort", "ft/s", "in/d", "in/h", "in/s", "km/h", "kn", "m/min", "m/s", "mm/d", "mm/h", "mm/s", "mph"}
    ),
    "sulphur_dioxide": frozenset({"ppb", "μg/m³"}),
    "temperature": frozenset({"K", "°C", "°F"}),
    "temperature_delta": frozenset({"K", "°C", "°F"}),
    "volatile_organic_compounds": frozenset({"mg/m³", "μg/m³"}),
    "volatile_organic_compounds_parts": frozenset({"ppb", "ppm"}),
    "voltage": frozenset({"MV", "V", "kV", "mV", "μV"}),
    "volume": frozenset({"CCF", "L", "MCF", "fl. oz.", "ft³", "gal", "mL", "m³"}),
    "volume_flow_rate": frozenset(
        {"L/h", "L/min", "L/s", "ft³/min", "gal/d", "gal/h", "gal/min", "mL/s", "m³/h", "m³/min", "m³/s"}
    ),
    "volume_storage": frozenset({"CCF", "L", "MCF", "fl. oz.", "ft³", "gal", "mL", "m³"}),
    "water": frozenset({"CCF", "L", "MCF", "ft³", "gal", "m³"}),
    "weight": frozenset({"g", "kg", "lb", "mg", "oz", "st", "μg"}),
    "wind_direction": frozenset({"°"}),
    "wind_speed": frozenset({"Beaufort", "ft/s", "in/s", "km/h", "kn", "m/min", "m/s", "mm/s", "mph"}),
}
# Spellings Home Assistant rewrites before the check (the micro sign, VAr).
AMBIGUOUS_UNITS: dict[str, str] = {
    "µSv/h": "μSv/h",
    "µS/cm": "μS/cm",
    "µV": "μV",
    "µg/ft³": "μg/ft³",
    "µg/m³": "μg/m³",
    "µmol/s⋅m²": "μmol/s⋅m²",
    "µg": "μg",
    "µs": "μs",
    "mVAr": "mvar",
    "VAr": "var",
    "kVAr": "kvar",
    "VArh": "varh",
    "kVArh": "kvarh",
}

# Defaults of the kinds without a quantity (gateway.quantities): (device_class, state_class).
KIND_DEFAULTS: dict[str, tuple[str | None, str | None]] = {
    "button": (None, None),
    "digital_input": ("door", None),
    "motion": ("motion", None),
    "line": (None, None),
    "counter": (None, "total_increasing"),
}
UNIT_CLASSES = {
    "°C": "temperature",
    "°F": "temperature",
    "K": "temperature",
    "m": "distance",
    "V": "voltage",
    "W": "power",
}
# Digits Home Assistant shows by default (`suggested_display_precision`), by unit, then by kind.
UNIT_PRECISION = {"°C": 1, "°F": 1, "K": 1, "%": 1, "m": 3, "V": 2, "W": 1}
KIND_PRECISION = {"counter": 0}


def sensor_classes(kind: str, unit: str | None, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """device_class, state_class and unit_of_measurement of a numeric sensor: its kind's, then the overrides."""
    device_class, state_class = KIND_DEFAULTS.get(kind, (None, "measurement"))
    keys: dict[str, Any] = {
        "device_class": device_class or UNIT_CLASSES.get(unit or ""),
        "state_class": state_class,
        "unit_of_measurement": unit,
    }
    keys |= {k: v for k, v in (overrides or {}).items() if v is not None}
    return {k: v for k, v in keys.items() if v is not None}


def display_precision(kind: str, unit: str | None) -> int | None:
    """How many decimals Home Assistant should show for a sensor of this kind and unit (None: its default)."""
    return KIND_PRECISION.get(kind, UNIT_PRECISION.get(unit or ""))


def unit_problem(device_class: str | None, unit: str | None) -> str | None:
    """Why Home Assistant would refuse this unit with this device class, or None when it fits."""
    if device_class is None or device_class not in DEVICE_CLASS_UNITS:
        return None
    allowed = DEVICE_CLASS_UNITS[device_class]
    if unit is not None:
        unit = AMBIGUOUS_UNITS.get(unit.strip(), unit.strip()) or None
    if unit in allowed:
        return None
    shown = ", ".join(sorted(u for u in allowed if u is not None)) + (" or no unit" if None in allowed else "")
    return (
        f"unit {unit!r} does not fit device_class {device_class!r}: Home Assistant (since 2025.7) allows "
        f"{shown or 'no unit'} (table of Home Assistant {HA_UNITS_RELEASE})"
    )
