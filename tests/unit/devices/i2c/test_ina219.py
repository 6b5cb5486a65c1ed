"""INA219 driver against TI's register formats (SBOS448 8.6.3), current and power computed from the shunt."""

from __future__ import annotations

import pytest

from gateway.devices.i2c.bus import I2cBus
from gateway.devices.i2c.ina219 import Ina219, bus_volts, shunt_volts
from gateway.devices.i2c.simulators import SimulatedI2c, SimulatedIna219
from gateway.errors import DeviceError


class TestRegisterFormats:
    @pytest.mark.parametrize(("register", "volts"), [(0x7D00, 0.320), (0x8300, -0.320), (0xFFFF, -10e-6), (1, 10e-6)])
    def test_shunt_voltage(self, register: int, volts: float) -> None:
        """Table 7 (PGA /8): 0x7D00 = +320 mV, 0x8300 = -320 mV; LSB 10 µV, two's complement."""
        assert shunt_volts(register.to_bytes(2, "big")) == pytest.approx(volts)

    @pytest.mark.parametrize(("register", "volts"), [(0x5DC2, 12.0), (0xFFFA, 32.764), (0x0008, 0.004)])
    def test_bus_voltage(self, register: int, volts: float) -> None:
        """8.6.3.2: bits 15..3 hold the voltage, LSB 4 mV; CNVR (bit 1) and OVF (bit 0) are not voltage."""
        assert bus_volts(register) == pytest.approx(volts)


class TestSample:
    @pytest.mark.parametrize(("volts", "amps"), [(12.0, 0.5), (5.0, -1.25), (3.3, 0.0)])
    def test_voltage_current_power(self, bus: I2cBus, sim: SimulatedI2c, volts: float, amps: float) -> None:
        """Bus voltage, current = shunt voltage / 0.1 Ω and power = voltage * current (0.1 mA resolution)."""
        sim.chips[0x40] = SimulatedIna219(volts, amps)
        values = Ina219(bus, 0x40).sample()
        assert values["voltage"] == pytest.approx(volts, abs=0.004)
        assert values["current"] == pytest.approx(amps, abs=1e-4)
        assert values["power"] == pytest.approx(volts * amps, abs=0.01)

    def test_other_shunt(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """The configured shunt resistance is used: 2 A through 0.01 Ω (20 mV) reads 2 A."""
        sim.chips[0x40] = SimulatedIna219(24.0, 2.0, shunt_ohms=0.01)
        assert Ina219(bus, 0x40, shunt_ohms=0.01, max_current=4.0).sample()["current"] == pytest.approx(2.0, abs=1e-3)

    @pytest.mark.parametrize(("max_current", "config"), [(3.2, 0x399B), (0.4, 0x219B), (0.8, 0x299B), (1.0, 0x319B)])
    def test_config_on_the_wire(self, bus: I2cBus, sim: SimulatedI2c, max_current: float, config: int) -> None:
        """Config (big-endian): 32 V range, PGA for max_current * 0.1 Ω, 12-bit ADCs, shunt+bus triggered.

        0x399B is the reset value 0x399F (8.6.2.1) with MODE 111 (continuous) replaced by 011 (triggered).
        """
        sim.chips[0x40] = SimulatedIna219(current=0.1)
        driver = Ina219(bus, 0x40, max_current=max_current)
        sim.log.clear()
        sim.transactions.clear()
        driver.sample()
        assert sim.log[0].data == bytes([0x00, *config.to_bytes(2, "big")])
        assert sim.transactions[0x40] == 3  # config write, bus voltage (CNVR set), shunt voltage

    def test_overflow_is_an_error(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """A current beyond the PGA range sets OVF: a DeviceError, not a clipped reading."""
        sim.chips[0x40] = SimulatedIna219(12.0, 1.0)
        with pytest.raises(DeviceError, match="overflow"):
            Ina219(bus, 0x40, max_current=0.4).sample()

    def test_conversion_ready_is_polled(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """The bus voltage register is read again until CNVR says the triggered conversion is done."""
        sim.chips[0x40] = SimulatedIna219(busy_polls=2)
        driver = Ina219(bus, 0x40)
        sim.transactions.clear()
        driver.sample()
        assert sim.transactions[0x40] == 5

    def test_impossible_range(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """max_current * shunt_ohms above the 320 mV range is refused at open."""
        sim.chips[0x40] = SimulatedIna219()
        with pytest.raises(DeviceError, match="320 mV"):
            Ina219(bus, 0x40, max_current=10.0)
