"""MCP23017/MCP23008 driver against the datasheets' register map and power-on state, on the real smbus2."""

from __future__ import annotations

from itertools import pairwise

import pytest

from gateway.devices.expanders.mcp23x import Mcp23x, Mcp23008, Mcp23017, register
from gateway.devices.expanders.port import ExpanderOutput
from gateway.devices.expanders.simulators import SimulatedMcp23x
from gateway.devices.i2c.bus import I2cBus
from gateway.devices.i2c.simulators import SimulatedI2c
from gateway.errors import DeviceError
from tests.unit.devices.expanders.conftest import toggle_at_once

ADDRESS = 0x20


def mcp23017(bus: I2cBus, sim: SimulatedI2c) -> tuple[Mcp23017, SimulatedMcp23x]:
    chip = sim.chips[ADDRESS] = SimulatedMcp23x("mcp23017")
    return Mcp23017(bus, ADDRESS), chip


def writes_to(sim: SimulatedI2c, register_address: int) -> list[int]:
    """The values written to one register, in order (SMBus write byte data: [register, value])."""
    return [m.data[1] for m in sim.log if m.write and len(m.data) == 2 and m.data[0] == register_address]


class TestRegisterMap:
    @pytest.mark.parametrize(
        ("name", "port", "address"),
        [("IODIR", 0, 0x00), ("IODIR", 1, 0x01), ("IPOL", 0, 0x02), ("GPINTEN", 0, 0x04), ("DEFVAL", 0, 0x06),
         ("INTCON", 0, 0x08), ("IOCON", 0, 0x0A), ("GPPU", 0, 0x0C), ("INTF", 0, 0x0E), ("INTCAP", 0, 0x10),
         ("GPIO", 0, 0x12), ("GPIO", 1, 0x13), ("OLAT", 0, 0x14), ("OLAT", 1, 0x15)],
    )  # fmt: skip
    def test_mcp23017_bank0(self, name: str, port: int, address: int) -> None:
        """MCP23017 table 3-1, IOCON.BANK=0: port A at even addresses, port B at A + 1."""
        assert register(name, port, 2) == address

    @pytest.mark.parametrize(("name", "address"), [("IODIR", 0x00), ("IOCON", 0x05), ("GPIO", 0x09), ("OLAT", 0x0A)])
    def test_mcp23008(self, name: str, address: int) -> None:
        """MCP23008 table 1-3: the same eleven registers at 0x00..0x0A."""
        assert register(name, 0, 1) == address

    def test_power_on_state(self) -> None:
        """Power-on (table 3-1): IODIR 0xFF on both ports, OLAT 0x00, INT released (pins read high, floating)."""
        chip = SimulatedMcp23x("mcp23017")
        assert [chip.register_value("IODIR", p) for p in (0, 1)] == [0xFF, 0xFF]
        assert [chip.register_value("OLAT", p) for p in (0, 1)] == [0x00, 0x00]
        assert chip.int_level is True


class TestSetup:
    @pytest.mark.parametrize(("chip", "address", "iocon"), [("mcp23017", 0x0A, 0x44), ("mcp23008", 0x05, 0x04)])
    def test_iocon(self, bus: I2cBus, sim: SimulatedI2c, chip: str, address: int, iocon: int) -> None:
        """Opening writes IOCON: MIRROR (MCP23017 only) | ODR, so one open-drain active-low INT serves all."""
        sim.chips[ADDRESS] = SimulatedMcp23x(chip)
        Mcp23x(bus, ADDRESS, chip)
        assert writes_to(sim, address) == [iocon]

    def test_input(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """An input: IODIR bit 1, GPPU bit 1, INTCON bit 0 (compare with previous), GPINTEN bit 1; port B too."""
        driver, chip = mcp23017(bus, sim)
        driver.setup_input("B3")
        assert chip.register_value("IODIR", 1) & 0x08
        assert chip.register_value("GPPU", 1) == 0x08
        assert chip.register_value("GPINTEN", 1) == 0x08
        assert chip.register_value("INTCON", 1) == 0
        assert chip.register_value("GPINTEN", 0) == 0

    def test_no_glitch_on_initial_on(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """Initial ON, active high: OLAT gets the 1 before IODIR clears, so the pin is never driven low."""
        driver, chip = mcp23017(bus, sim)
        ExpanderOutput(driver, "A5", initial=True)
        assert chip.driven("A5") == [True]
        ordered = [m.data[0] for m in sim.log if m.write and len(m.data) == 2 and m.data[0] in (0x00, 0x14)]
        assert ordered == [0x14, 0x00]  # OLATA written, then IODIRA

    def test_active_low_relay_starts_off(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """An active-low relay, initially off, is driven high from its first instant as an output."""
        driver, chip = mcp23017(bus, sim)
        relay = ExpanderOutput(driver, "B0", active_high=False, initial=False)
        relay.on()
        relay.off()
        assert chip.driven("B0") == [True, False, True]
        assert relay.value == 0

    def test_mcp23008_pin_names(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """MCP23008 pins are 0..7; A3 and GP3 name the same pin; an unknown name lists the valid ones."""
        chip = sim.chips[ADDRESS] = SimulatedMcp23x("mcp23008")
        driver = Mcp23008(bus, ADDRESS)
        driver.setup_output("GP3", True)
        driver.write("A3", False)
        driver.write("3", True)
        assert chip.driven("3") == [True, False, True]
        with pytest.raises(DeviceError, match=r"no pin 'B0' \(pins are 0, 1"):
            driver.write("B0", True)


class TestOutputs:
    def test_write_keeps_the_other_bits(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """A write is read OLAT, change one bit, write OLAT: the other outputs of the port are untouched."""
        driver, chip = mcp23017(bus, sim)
        for pin in ("A0", "A7"):
            driver.setup_output(pin, True)
        driver.write("A0", False)
        assert chip.register_value("OLAT", 0) == 0x80

    def test_concurrent_outputs_never_clobber(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """Two outputs of one port toggled from two threads 300 times: each OLAT write changes one bit only."""
        driver, chip = mcp23017(bus, sim)
        outputs = {pin: ExpanderOutput(driver, pin) for pin in ("A1", "A2")}
        setup_entries = len(chip.output_history)
        commanded = toggle_at_once(outputs)
        history = [(e["A1"], e["A2"]) for e in chip.output_history[setup_entries - 1 :]]
        assert len(history) == 601
        assert {sum(a != b for a, b in zip(x, y, strict=True)) for x, y in pairwise(history)} == {1}
        assert chip.register_value("OLAT", 0) >> 1 & 0b11 == commanded["A1"] | commanded["A2"] << 1


class TestReads:
    def test_read_port_is_one_block_read(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """read_port() is one transaction: [0x0E] then 6 bytes INTFA..GPIOB; it clears the mirrored INT."""
        driver, chip = mcp23017(bus, sim)
        driver.setup_input("B6")
        chip.set_input("B6", False)
        assert chip.int_level is False  # open-drain, active low
        sim.log.clear()
        sim.transactions.clear()
        snapshot = driver.read_port()
        assert sim.transactions[ADDRESS] == 1
        assert [(m.write, len(m.data)) for m in sim.log] == [(True, 1), (False, 6)]
        assert sim.log[0].data == b"\x0e"
        assert (snapshot.levels["B6"], snapshot.captured) == (False, {"B6": False})
        assert chip.int_level is True

    def test_short_pulse_is_captured(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """A press and release before the read: INTCAP keeps the press, GPIO shows the release."""
        driver, chip = mcp23017(bus, sim)
        driver.setup_input("A4")
        chip.set_input("A4", False)
        chip.set_input("A4", True)
        snapshot = driver.read_port()
        assert (snapshot.captured, snapshot.levels["A4"]) == ({"A4": False}, True)

    def test_nack_is_a_device_error(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """A NACK during the read is a DeviceError naming bus, address and EREMOTEIO."""
        driver, _ = mcp23017(bus, sim)
        sim.fail(ADDRESS)
        with pytest.raises(DeviceError, match=r"^i2c-1 0x20: EREMOTEIO"):
            driver.read_port()

    def test_absent_chip(self, bus: I2cBus) -> None:
        """No chip at the address: DeviceError (ENXIO) when opening."""
        with pytest.raises(DeviceError, match="ENXIO"):
            Mcp23017(bus, 0x21)
