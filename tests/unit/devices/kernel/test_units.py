"""The kernel ABI unit table against the ABI documents (sysfs-bus-iio, hwmon sysfs-interface.rst)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.devices.kernel.units import HWMON_UNITS, IIO_UNITS, kernel_unit
from gateway.quantities import QUANTITIES


class TestIioUnits:
    def test_pressure_is_kilopascal(self) -> None:
        """sysfs-bus-iio: in_pressure_input is "in kilopascal", so 96.386 kPa is 963.86 hPa."""
        unit = kernel_unit("iio", "pressure")
        assert (unit.quantity, Decimal("96.386") * unit.factor) == ("pressure", Decimal("963.860"))

    def test_milli_units(self) -> None:
        """sysfs-bus-iio: temp milli °C, humidityrelative milli percent, voltage mV, current mA, power mW."""
        assert {key: IIO_UNITS[key].factor for key in ("temp", "humidityrelative", "voltage", "current", "power")} == {
            "temp": Decimal("0.001"),
            "humidityrelative": Decimal("0.001"),
            "voltage": Decimal("0.001"),
            "current": Decimal("0.001"),
            "power": Decimal("0.001"),
        }

    def test_illuminance_is_lux(self) -> None:
        """sysfs-bus-iio: in_illuminance "units after application of scale and offset are lux"."""
        assert kernel_unit("iio", "illuminance").factor == 1

    def test_co2_concentration_percent_becomes_ppm(self) -> None:
        """sysfs-bus-iio: in_concentration_co2_raw is in percents; 0.0415 % is 415 ppm."""
        unit = kernel_unit("iio", "concentration", "co2")
        assert (unit.quantity, Decimal("0.0415") * unit.factor) == ("carbon_dioxide", Decimal("415.0000"))

    def test_unknown_type(self) -> None:
        """A channel type the table does not know (accel) is a KeyError, not a silent factor of 1."""
        with pytest.raises(KeyError):
            kernel_unit("iio", "accel")


class TestHwmonUnits:
    def test_power_is_microwatt(self) -> None:
        """sysfs-interface.rst: power[1-*]_input "Unit: microWatt", unlike IIO's milliwatts."""
        assert kernel_unit("hwmon", "power").factor == Decimal("0.000001")

    def test_milli_units(self) -> None:
        """sysfs-interface.rst: temp millidegree Celsius, humidity pcm, in millivolt, curr milliampere."""
        assert {key: HWMON_UNITS[key].factor for key in ("temp", "humidity", "in", "curr")} == dict.fromkeys(
            ("temp", "humidity", "in", "curr"), Decimal("0.001")
        )


def test_every_quantity_is_ours() -> None:
    """Every kernel unit converts into a quantity of gateway.quantities (so its unit and precision are known)."""
    assert {unit.quantity for unit in (*IIO_UNITS.values(), *HWMON_UNITS.values())} <= set(QUANTITIES)
