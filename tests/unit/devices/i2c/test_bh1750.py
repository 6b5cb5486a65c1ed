"""BH1750 driver against ROHM's datasheet example and measurement sequence."""

from __future__ import annotations

import pytest

from gateway.devices.i2c.bh1750 import Bh1750, lux
from gateway.devices.i2c.bus import I2cBus
from gateway.devices.i2c.simulators import SimulatedBh1750, SimulatedI2c
from gateway.errors import DeviceError


def test_datasheet_example(bus: I2cBus, sim: SimulatedI2c) -> None:
    """Datasheet p.7: bytes 0x83 0x90 (MSB first) = 33680 counts / 1.2 = 28067 lx."""
    sim.chips[0x23] = SimulatedBh1750(raw=0x8390)
    assert Bh1750(bus, 0x23).sample()["illuminance"] == pytest.approx(28067, abs=0.5)


def test_mtreg_scales_the_count() -> None:
    """Datasheet p.11: at MTreg 138 the count doubles for the same light, so lx = count / 1.2 * 69 / 138."""
    assert lux(bytes([0x83, 0x90]), 138) == pytest.approx(28067 / 2, abs=0.5)


def test_mtreg_is_programmed_and_round_trips(bus: I2cBus, sim: SimulatedI2c) -> None:
    """mtreg=138 is written as 0x44 (high bits) and 0x6A (low bits); the light comes back unchanged."""
    chip = sim.chips[0x23] = SimulatedBh1750(500.0)
    driver = Bh1750(bus, 0x23, mtreg=138)
    assert [m.data for m in sim.log if m.write][1:3] == [b"\x44", b"\x6a"]
    assert chip.mtreg == 138
    assert driver.sample()["illuminance"] == pytest.approx(500.0, abs=0.5)


def test_one_sample_is_one_measurement(bus: I2cBus, sim: SimulatedI2c) -> None:
    """sample() = power on, one-time H-resolution (0x20), one 2-byte read: three transactions."""
    chip = sim.chips[0x23] = SimulatedBh1750(250.0)
    driver = Bh1750(bus, 0x23)
    sim.log.clear()
    sim.transactions.clear()
    assert driver.sample()["illuminance"] == pytest.approx(250.0, abs=0.5)
    assert sim.transactions[0x23] == 3
    assert [m.data for m in sim.log if m.write] == [b"\x01", b"\x20"]
    assert chip.measurements == 1


def test_mtreg_out_of_range(bus: I2cBus) -> None:
    """MTreg outside 31..254 is refused."""
    with pytest.raises(DeviceError, match=r"31\.\.254"):
        Bh1750(bus, 0x23, mtreg=20)


def test_absent_chip(bus: I2cBus) -> None:
    """No BH1750 at the address: DeviceError naming bus and address at open."""
    with pytest.raises(DeviceError, match=r"^i2c-1 0x23: ENXIO"):
        Bh1750(bus, 0x23)
