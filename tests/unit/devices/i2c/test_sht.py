"""SHT3x/SHT4x/HTU21D driver against Sensirion's and TE's datasheet numbers, CRCs always checked."""

from __future__ import annotations

import pytest

from gateway.devices.i2c.bus import I2cBus
from gateway.devices.i2c.sht import Sht, crc8
from gateway.devices.i2c.simulators import SimulatedHtu21d, SimulatedI2c, SimulatedSht
from gateway.errors import DeviceError


class TestCrc:
    def test_sensirion_example(self) -> None:
        """SHT3x-DIS 4.12: CRC-8 (0x31, init 0xFF) of 0xBEEF is 0x92."""
        assert crc8(b"\xbe\xef") == 0x92

    @pytest.mark.parametrize(("data", "crc"), [(b"\xdc", 0x79), (b"\x68\x3a", 0x7C), (b"\x4e\x85", 0x6B)])
    def test_htu21d_examples(self, data: bytes, crc: int) -> None:
        """HTU21D datasheet CRC examples (0x31, init 0x00): 0xDC->0x79, 0x683A->0x7C, 0x4E85->0x6B."""
        assert crc8(data, 0x00) == crc

    @pytest.mark.parametrize("chip", ["sht3x", "sht4x"])
    def test_bad_crc_is_refused(self, bus: I2cBus, sim: SimulatedI2c, chip: str) -> None:
        """A CRC mismatch is a DeviceError, never a reading."""
        sim.chips[0x44] = SimulatedSht(chip=chip, corrupt_crc=True)
        with pytest.raises(DeviceError, match="CRC mismatch"):
            Sht(bus, 0x44, chip=chip).sample()

    def test_bad_crc_is_refused_on_htu21d(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """The HTU21D's CRC (init 0x00) is checked too."""
        sim.chips[0x40] = SimulatedHtu21d(corrupt_crc=True)
        with pytest.raises(DeviceError, match="CRC mismatch"):
            Sht(bus, 0x40, chip="htu21d").sample()


class TestConversions:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [((0x0000, 0x0000), (-45.0, 0.0)), ((0xFFFF, 0xFFFF), (130.0, 100.0)), ((0x6666, 0x8000), (25.0, 50.0008))],
    )
    def test_sht3x_formulas(
        self, bus: I2cBus, sim: SimulatedI2c, raw: tuple[int, int], expected: tuple[float, ...]
    ) -> None:
        """SHT3x-DIS 4.13: T = -45 + 175 * S / 65535, RH = 100 * S / 65535."""
        sim.chips[0x44] = SimulatedSht(raw=raw)
        values = Sht(bus, 0x44).sample()
        assert (values["temperature"], values["humidity"]) == pytest.approx(expected, abs=1e-4)

    @pytest.mark.parametrize(
        ("raw_rh", "humidity"), [(0x0000, 0.0), (0xFFFF, 100.0), (0x8000, 56.5009), (0x0C49, 0.0), (0x0D00, 0.3477)]
    )
    def test_sht4x_humidity_is_clamped(self, bus: I2cBus, sim: SimulatedI2c, raw_rh: int, humidity: float) -> None:
        """SHT4x 4.6: RH = -6 + 125 * S / 65535, cropped to 0..100 %."""
        sim.chips[0x44] = SimulatedSht(chip="sht4x", raw=(0x6666, raw_rh))
        assert Sht(bus, 0x44, chip="sht4x").sample()["humidity"] == pytest.approx(humidity, abs=1e-4)

    def test_htu21d_datasheet_example(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """HTU21D datasheet: 0x683A -> 24.7 °C and 0x7C80 -> 54.8 %RH (status bits masked off)."""
        sim.chips[0x40] = SimulatedHtu21d(raw=(0x683A, 0x7C82))
        values = Sht(bus, 0x40, chip="htu21d").sample()
        assert round(values["temperature"], 1) == 24.7  # the datasheet gives one decimal
        assert round(values["humidity"], 1) == 54.8

    @pytest.mark.parametrize("chip", ["sht3x", "sht4x"])
    def test_round_trip(self, bus: I2cBus, sim: SimulatedI2c, chip: str) -> None:
        """Physical values set on the simulator come back within the chip's resolution."""
        sim.chips[0x44] = SimulatedSht(-12.5, 63.0, chip=chip)
        values = Sht(bus, 0x44, chip=chip).sample()
        assert values == {"temperature": pytest.approx(-12.5, abs=0.003), "humidity": pytest.approx(63.0, abs=0.002)}


class TestTransactions:
    @pytest.mark.parametrize(("chip", "command"), [("sht3x", b"\x24\x00"), ("sht4x", b"\xfd")])
    def test_one_command_one_read(self, bus: I2cBus, sim: SimulatedI2c, chip: str, command: bytes) -> None:
        """sample() = the single-shot command (no clock stretching, high repeatability) + one 6-byte read."""
        simulated = sim.chips[0x44] = SimulatedSht(chip=chip)
        Sht(bus, 0x44, chip=chip).sample()
        assert sim.transactions[0x44] == 2
        assert [(m.write, m.data if m.write else len(m.data)) for m in sim.log] == [(True, command), (False, 6)]
        assert simulated.measurements == 1

    def test_htu21d_uses_no_hold_commands(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """HTU21D sample() = 0xF3, read 3, 0xF5, read 3: four transactions, no clock-stretching hold mode."""
        sim.chips[0x40] = SimulatedHtu21d()
        Sht(bus, 0x40, chip="si7021").sample()
        assert sim.transactions[0x40] == 4
        assert [m.data for m in sim.log if m.write] == [b"\xf3", b"\xf5"]

    def test_unknown_chip_option(self, bus: I2cBus) -> None:
        """An unsupported `chip` option is a DeviceError listing the supported ones."""
        with pytest.raises(DeviceError, match="sht3x, sht4x, htu21d, si7021"):
            Sht(bus, 0x44, chip="sht85x")
