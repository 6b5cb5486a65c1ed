"""ADS1115/ADS1015 driver against TI's output-code table, big-endian registers on the real smbus2."""

from __future__ import annotations

import pytest

from gateway.devices.i2c.ads1x15 import Ads1x15
from gateway.devices.i2c.bus import I2cBus
from gateway.devices.i2c.simulators import SimulatedAds1x15, SimulatedI2c
from gateway.errors import DeviceError


def sampled(bus: I2cBus, sim: SimulatedI2c, raw: int, **options: object) -> float:
    chip = str(options.get("chip", "ads1115"))
    sim.chips[0x48] = SimulatedAds1x15(chip=chip, raw=raw)
    return Ads1x15(bus, 0x48, **options).sample()["voltage"]  # type: ignore[arg-type]


class TestOutputCodes:
    @pytest.mark.parametrize(
        ("raw", "volts"),
        [(0x7FFF, 4.096 * 32767 / 32768), (0x0001, 125e-6), (0x0000, 0.0), (0xFFFF, -125e-6), (0x8000, -4.096)],
    )
    def test_ads1115_table_3(self, bus: I2cBus, sim: SimulatedI2c, raw: int, volts: float) -> None:
        """ADS111x table 3 at ±4.096 V: LSB 125 µV, 0xFFFF = -125 µV, 0x8000 = -FS (two's complement)."""
        assert sampled(bus, sim, raw) == pytest.approx(volts, abs=1e-9)

    def test_registers_are_big_endian(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """0x01 0x02 on the wire is code 258 (32.25 mV); SMBus read_word_data would have read 0x0201 (64.125 mV)."""
        assert sampled(bus, sim, 0x0102) == pytest.approx(258 * 125e-6)

    @pytest.mark.parametrize(("raw", "volts"), [(0x7FF0, 4.094), (0x0010, 0.002), (0xFFF0, -0.002), (0x8000, -4.096)])
    def test_ads1015_left_justified_12_bit(self, bus: I2cBus, sim: SimulatedI2c, raw: int, volts: float) -> None:
        """ADS101x: the 12-bit code sits in bits 15..4; at ±4.096 V the LSB is 2 mV."""
        assert sampled(bus, sim, raw, chip="ads1015") == pytest.approx(volts, abs=1e-9)

    @pytest.mark.parametrize(("full_scale", "volts"), [(6.144, -187.5e-6), (0.256, -7.8125e-6)])
    def test_gain(self, bus: I2cBus, sim: SimulatedI2c, full_scale: float, volts: float) -> None:
        """The LSB follows the PGA: FS / 2^15 (187.5 µV at ±6.144 V, 7.8125 µV at ±0.256 V)."""
        assert sampled(bus, sim, 0xFFFF, full_scale=full_scale) == pytest.approx(volts, abs=1e-12)


class TestConversion:
    def test_config_word_on_the_wire(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """Config for AIN0 vs GND, ±4.096 V, single-shot, 128 SPS, comparator off: 0x01, 0xC3, 0x83 (MSB first)."""
        sim.chips[0x48] = SimulatedAds1x15()
        driver = Ads1x15(bus, 0x48)
        sim.log.clear()
        driver.sample()
        # OS=1 | MUX=100 | PGA=001 | MODE=1 | DR=100 | COMP_MODE/POL/LAT=0 | COMP_QUE=11 (datasheet 8.6.3)
        assert sim.log[0].data == bytes([0x01, 0b1100_0011, 0b1000_0011])

    @pytest.mark.parametrize(("channel", "volts"), [(2, 1.25), ("0-1", -0.5), ("2-3", 1.05)])
    def test_inputs(self, bus: I2cBus, sim: SimulatedI2c, channel: int | str, volts: float) -> None:
        """A single-ended channel or a differential pair converts the matching input voltage(s)."""
        sim.chips[0x48] = SimulatedAds1x15((0.5, 1.0, 1.25, 0.2))
        value = Ads1x15(bus, 0x48, channel=channel, full_scale=2.048).sample()["voltage"]
        assert value == pytest.approx(volts, abs=62.5e-6)

    def test_one_sample_is_one_conversion(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """sample() = config write + one OS poll + conversion read (a poll more while OS reads 0)."""
        chip = sim.chips[0x48] = SimulatedAds1x15(busy_polls=1)
        driver = Ads1x15(bus, 0x48)
        sim.transactions.clear()
        driver.sample()
        assert (sim.transactions[0x48], chip.conversions) == (4, 1)

    def test_a_conversion_that_never_ends(self, bus: I2cBus, sim: SimulatedI2c) -> None:
        """OS never returning to 1 is a DeviceError after bounded polls."""
        sim.chips[0x48] = SimulatedAds1x15(busy_polls=1000, chip="ads1015")
        with pytest.raises(DeviceError, match="did not finish"):
            Ads1x15(bus, 0x48, chip="ads1015").sample()

    @pytest.mark.parametrize(
        "options", [{"channel": 4}, {"channel": "1-2"}, {"full_scale": 5.0}, {"data_rate": 100}, {"chip": "ads1113x"}]
    )
    def test_invalid_options(self, bus: I2cBus, sim: SimulatedI2c, options: dict[str, object]) -> None:
        """Channels, gains, rates and chips outside the datasheet's tables are refused."""
        sim.chips[0x48] = SimulatedAds1x15()
        with pytest.raises(DeviceError):
            Ads1x15(bus, 0x48, **options)  # type: ignore[arg-type]
