"""BME280/BMP280 driver against the Bosch datasheets' numbers, on simulated chips behind the real smbus2."""

from __future__ import annotations

import errno
import struct

import pytest

from gateway.devices.chip import Chip
from gateway.devices.i2c.bme280 import Bme280, parse_calibration
from gateway.devices.i2c.bus import I2cBus
from gateway.devices.i2c.simulators import SimulatedBme280, SimulatedI2c
from gateway.errors import DeviceError

# BMP280 datasheet 3.12, "Compensation formula" worked example (also Bosch's BMP280_driver test values).
DATASHEET_WORDS = (27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
ADC_T, ADC_P = 519888, 415148


def datasheet_bmp280(sim: SimulatedI2c, chip_id: int = 0x58) -> SimulatedBme280:
    """A BMP280 whose NVM holds the datasheet's trimming words, little-endian as the chip stores them."""
    chip = SimulatedBme280(chip_id=chip_id, adc=(ADC_T, ADC_P, 0))
    chip.registers[0x88:0xA0] = struct.pack("<HhhHhhhhhhhh", *DATASHEET_WORDS)  # table 17: dig_T1..dig_P9
    sim.chips[0x77] = chip
    return chip


class TestDatasheetVectors:
    def test_bmp280_worked_example(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """Datasheet 3.12: adc_T 519888 -> 25.08 °C and adc_P 415148 -> 100653.27 Pa, from the NVM bytes."""
        datasheet_bmp280(sim)
        values = Bme280(bus, 0x77, chip="bmp280").sample()
        assert values == {"temperature": 25.08, "pressure": pytest.approx(1006.5327, abs=0.0005)}

    @pytest.mark.parametrize("chip_id", [0x56, 0x57])
    def test_bmp280_sample_ids_are_accepted(self, bus: I2cBus, sim: SimulatedI2c, chip_id: int) -> None:
        """Chip ids 0x56 and 0x57 (BMP280 engineering samples) are BMP280s too."""
        datasheet_bmp280(sim, chip_id)
        assert Bme280(bus, 0x77, chip="bmp280").sample()["temperature"] == 25.08

    def test_humidity_words_are_12_bit_signed_and_share_0xe5(self) -> None:
        """Table 16: dig_H4 = 0xE4<<4 | 0xE5[3:0], dig_H5 = 0xE6<<4 | 0xE5[7:4], both signed; dig_H6 int8."""
        low = bytes(25) + bytes([75])  # dig_H1 at 0xA1
        positive = parse_calibration(low, bytes([0x6A, 0x01, 0x00, 0x14, 0x0D, 0x00, 0x1E]))
        assert (positive.h1, positive.h2, positive.h3, positive.h4, positive.h5, positive.h6) == (
            75,
            362,
            0,
            333,
            0,
            30,
        )
        negative = parse_calibration(low, bytes([0x6A, 0x01, 0x00, 0xEA, 0x23, 0xFE, 0xE2]))
        assert (negative.h4, negative.h5, negative.h6) == (-349, -30, -30)


class TestRoundTrip:
    @pytest.mark.parametrize(
        ("temperature", "humidity", "pressure"), [(21.5, 45.0, 1013.25), (-10.25, 92.5, 870.0), (38.0, 5.0, 1085.0)]
    )
    def test_physical_values_come_back(
        self, bus: I2cBus, sim: SimulatedI2c, temperature: float, humidity: float, pressure: float
    ) -> None:
        """The integer compensation undoes the simulator's (independent, double-precision) inversion."""
        sim.chips[0x76] = SimulatedBme280(temperature, humidity, pressure)
        values = Bme280(bus, 0x76).sample()
        assert values["temperature"] == pytest.approx(temperature, abs=0.01)
        assert values["humidity"] == pytest.approx(humidity, abs=0.02)
        assert values["pressure"] == pytest.approx(pressure, abs=0.005)

    def test_bme280_and_bmp280_quantities(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """A BME280 reports temperature, humidity and pressure; a BMP280 no humidity."""
        sim.chips[0x76] = SimulatedBme280()
        sim.chips[0x77] = SimulatedBme280(chip_id=0x58)
        bme: Chip = Bme280(bus, 0x76)
        bmp: Chip = Bme280(bus, 0x77, chip="bmp280")
        assert set(bme.sample()) == {"temperature", "humidity", "pressure"}
        assert set(bmp.sample()) == {"temperature", "pressure"}


class TestTransactions:
    def test_one_sample_is_one_forced_measurement(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """sample() = ctrl_meas write + one status read + ONE burst read of 0xF7..0xFE, one conversion."""
        chip = sim.chips[0x76] = SimulatedBme280()
        driver = Bme280(bus, 0x76)
        sim.transactions.clear()
        sim.log.clear()
        driver.sample()
        assert sim.transactions[0x76] == 3
        assert chip.conversions == 1
        writes = [m.data for m in sim.log if m.write]
        assert writes == [bytes([0xF4, 0b001_001_01]), b"\xf3", b"\xf7"]  # osrs_t x1, osrs_p x1, forced
        assert [len(m.data) for m in sim.log if not m.write] == [1, 8]

    def test_status_is_polled_while_measuring(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """While status bit 3 (measuring) is set, the driver polls it again before the burst read."""
        sim.chips[0x76] = SimulatedBme280(busy_polls=2)
        driver = Bme280(bus, 0x76)
        sim.transactions.clear()
        driver.sample()
        assert sim.transactions[0x76] == 5

    def test_a_measurement_that_never_ends(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """A status that stays 'measuring' ends in a DeviceError after a bounded number of polls."""
        sim.chips[0x76] = SimulatedBme280(busy_polls=1000)
        with pytest.raises(DeviceError, match="did not finish"):
            Bme280(bus, 0x76).sample()

    def test_ctrl_hum_is_written_before_ctrl_meas(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """ctrl_hum (0xF2) is set at open, before any ctrl_meas forced write (it only applies after one)."""
        sim.chips[0x76] = SimulatedBme280()
        Bme280(bus, 0x76).sample()
        writes = [m.data[0] for m in sim.log if m.write and len(m.data) == 2]
        assert writes.index(0xF2) < writes.index(0xF4, writes.index(0xF2))


class TestErrors:
    def test_bmp280_where_a_bme280_was_configured(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """A BMP280 (id 0x58) answering for a configured BME280: the error names both ids and the fix."""
        sim.chips[0x76] = SimulatedBme280(chip_id=0x58)
        with pytest.raises(DeviceError, match=r"BME280 at i2c-1 0x76: chip id 0x58 \(a BMP280\), expected 0x60"):
            Bme280(bus, 0x76)

    def test_an_unknown_chip(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """Another chip at the address (id 0x55, a BMP180) is refused as not a BMx280."""
        sim.chips[0x77] = SimulatedBme280(chip_id=0x55)
        with pytest.raises(DeviceError, match=r"chip id 0x55 \(not a Bosch BMx280\), expected 0x58"):
            Bme280(bus, 0x77, chip="bmp280")

    def test_nack_during_a_sample(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """A NACK in the middle of a sample is a DeviceError naming bus and address."""
        sim.chips[0x76] = SimulatedBme280()
        driver = Bme280(bus, 0x76)
        sim.fail(0x76, errno.EREMOTEIO)
        with pytest.raises(DeviceError, match=r"^i2c-1 0x76: EREMOTEIO"):
            driver.sample()
