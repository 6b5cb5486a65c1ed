"""PCF8574/PCF8575 driver against the datasheets: quasi-bidirectional pins, one/two-byte transfers, INT."""

from __future__ import annotations

from itertools import pairwise

import pytest

from gateway.devices.expanders.pcf857x import Pcf8574, Pcf8575
from gateway.devices.expanders.port import ExpanderOutput
from gateway.devices.expanders.simulators import SimulatedPcf857x
from gateway.devices.i2c.bus import I2cBus
from gateway.devices.i2c.simulators import SimulatedI2c
from gateway.errors import DeviceError
from tests.unit.devices.expanders.conftest import toggle_at_once

ADDRESS = 0x20


def pcf8574(bus: I2cBus, sim: SimulatedI2c) -> tuple[Pcf8574, SimulatedPcf857x]:
    chip = sim.chips[ADDRESS] = SimulatedPcf857x("pcf8574")
    return Pcf8574(bus, ADDRESS), chip


def test_power_on_all_high() -> None:
    """Power-on: every latch 1, every pin high, INT released."""
    chip = SimulatedPcf857x("pcf8574")
    assert (chip.latch, chip.levels(), chip.int_level) == (0xFF, 0xFF, True)


class TestOutputs:
    def test_initial_off_is_driven_low_in_its_first_write(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """An active-high output, initially off, goes low in the first write that sets it up; inputs stay 1."""
        driver, chip = pcf8574(bus, sim)
        driver.setup_input("P0")
        ExpanderOutput(driver, "P3", initial=False)
        assert chip.driven("P3") == [True, False]  # power-on high while still unconfigured, then low at once
        assert chip.driven("P0") == [True, True]

    def test_output_first_is_low_from_the_first_write(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """With the output set up first, the first byte on the wire already has its bit 0 and the rest 1."""
        driver, chip = pcf8574(bus, sim)
        ExpanderOutput(driver, "P3", initial=False)
        driver.setup_input("P0")
        assert [m.data for m in sim.log if m.write] == [b"\xf7", b"\xf7"]
        assert chip.driven("P3") == [False, False]

    def test_inputs_are_always_written_1(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """Writes to outputs keep input pins at 1 even while the outside holds them low; writing an input fails."""
        driver, chip = pcf8574(bus, sim)
        driver.setup_input("P1")
        chip.set_input("P1", False)
        relay = ExpanderOutput(driver, "P6", active_high=False)
        relay.on()
        assert all(entry["P1"] for entry in chip.output_history)
        assert chip.latch == 0b1011_1111
        with pytest.raises(DeviceError, match="P1 is an input"):
            driver.write("P1", False)

    def test_restart_keeps_a_low_output_low(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """After a gateway restart the shadow starts from the pins: a relay the chip holds on (low) stays on."""
        chip = sim.chips[ADDRESS] = SimulatedPcf857x("pcf8574")
        chip.latch = 0b1111_0111  # P3 left low by the previous run
        driver = Pcf8574(bus, ADDRESS)
        driver.setup_output("P5", True)
        ExpanderOutput(driver, "P3", active_high=False, initial=True)
        assert chip.driven("P3") == [False, False]

    def test_concurrent_outputs_never_clobber(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """Two outputs toggled from two threads 300 times: every write changes one bit, the last states stay."""
        driver, chip = pcf8574(bus, sim)
        outputs = {pin: ExpanderOutput(driver, pin) for pin in ("P2", "P5")}
        start = len(chip.output_history) - 1
        commanded = toggle_at_once(outputs)
        history = [(e["P2"], e["P5"]) for e in chip.output_history[start:]]
        assert len(history) == 601
        assert {sum(a != b for a, b in zip(x, y, strict=True)) for x, y in pairwise(history)} == {1}
        assert (chip.latch >> 2 & 1, chip.latch >> 5 & 1) == (commanded["P2"], commanded["P5"])

    def test_pcf8575_byte_order(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """PCF8575: two bytes per write and read, P00..P07 first, then P10..P17."""
        chip = sim.chips[ADDRESS] = SimulatedPcf857x("pcf8575")
        driver = Pcf8575(bus, ADDRESS)
        driver.setup_output("P10", False)
        assert [m.data for m in sim.log if m.write] == [b"\xff\xfe"]
        chip.set_input("P07", False)
        levels = driver.read_port().levels
        assert (levels["P07"], levels["P10"], levels["P17"]) == (False, False, True)


class TestInterrupt:
    def test_asserted_by_an_input_change_cleared_by_a_read(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """INT goes low on an input change and is released by the read (one transaction of one byte)."""
        driver, chip = pcf8574(bus, sim)
        driver.setup_input("P4")
        chip.set_input("P4", False)
        assert chip.int_level is False
        sim.transactions.clear()
        assert driver.read_port().levels["P4"] is False
        assert (chip.int_level, sim.transactions[ADDRESS]) == (True, 1)

    def test_released_when_the_input_goes_back(self) -> None:
        """Datasheet: INT also resets when the input returns to its state at the last read."""
        chip = SimulatedPcf857x("pcf8574")
        chip.set_input("P4", False)
        chip.set_input("P4", True)
        assert chip.int_level is True

    def test_a_write_clears_it(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """A write also resets INT (so a watcher must read after writes) and write listeners are called."""
        driver, chip = pcf8574(bus, sim)
        driver.setup_input("P0")
        called: list[bool] = []
        driver.add_write_listener(lambda: called.append(True))
        chip.set_input("P0", False)
        driver.setup_output("P7", True)
        assert (chip.int_level, called) == (True, [True])

    def test_nack_is_a_device_error(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """A NACK during the read is a DeviceError naming bus, address and EREMOTEIO."""
        driver, _ = pcf8574(bus, sim)
        sim.fail(ADDRESS)
        with pytest.raises(DeviceError, match=r"^i2c-1 0x20: EREMOTEIO"):
            driver.read_port()
