"""TI ADS1115 (16-bit) and ADS1015 (12-bit) ADCs: one single-shot conversion of one input per sample.

Datasheets: ADS111x SBAS444 (8.5 data format, table 3 output codes; 8.6 registers) and ADS101x SBAS473. The
registers are 16-bit BIG-endian (MSB first), so they go through `read_block`/`write_bytes`, never SMBus
read_word_data (little-endian). The ADS1015's 12-bit result is left-justified in bits 15..4.

One `sample()` is 3 transactions: write config (OS=1 starts the conversion), read config (OS=1 again: done;
one read more per poll while converting), read the conversion register.
"""

from __future__ import annotations

import time

from gateway.devices.i2c.bus import I2cBus
from gateway.errors import DeviceError

CONVERSION, CONFIG = 0x00, 0x01
OS_START = 0x8000  # write: start a single conversion; read: 1 = idle (conversion done)
MODE_SINGLE = 0x0100
COMPARATOR_OFF = 0x0003  # COMP_QUE = 11: comparator disabled, ALERT/RDY high impedance
# PGA field (config bits 11:9): full-scale range ±V (datasheet 8.6.3).
FULL_SCALES = {6.144: 0b000, 4.096: 0b001, 2.048: 0b010, 1.024: 0b011, 0.512: 0b100, 0.256: 0b101}
# MUX field (config bits 14:12): differential pairs "p-n", single-ended "p" (against GND).
INPUTS = {"0-1": 0b000, "0-3": 0b001, "1-3": 0b010, "2-3": 0b011, "0": 0b100, "1": 0b101, "2": 0b110, "3": 0b111}
# DR field (config bits 7:5): samples per second.
DATA_RATES = {
    "ads1115": (8, 16, 32, 64, 128, 250, 475, 860),
    "ads1015": (128, 250, 490, 920, 1600, 2400, 3300, 3300),
}
DEFAULT_RATE = {"ads1115": 128, "ads1015": 1600}
BITS = {"ads1115": 16, "ads1015": 12}
POLLS, POLL_INTERVAL = 10, 0.001


class Ads1x15:
    """An ADS1115 or ADS1015 (`chip`) at `address` (0x48..0x4B) converting `channel` at ±`full_scale` V.

    `channel`: 0..3 (single-ended, against GND) or a differential pair "0-1", "0-3", "1-3", "2-3".
    `full_scale`: 6.144, 4.096, 2.048, 1.024, 0.512 or 0.256 (never more than VDD + 0.3 V at the pins).
    `data_rate`: samples per second from the chip's table (default 128 for ADS1115, 1600 for ADS1015).
    """

    def __init__(
        self,
        bus: I2cBus,
        address: int = 0x48,
        *,
        chip: str = "ads1115",
        channel: int | str = 0,
        full_scale: float = 4.096,
        data_rate: int | None = None,
    ) -> None:
        if chip not in BITS:
            raise DeviceError(f"unknown ADC {chip!r}: expected 'ads1115' or 'ads1015'")
        if str(channel) not in INPUTS:
            raise DeviceError(f"{chip}: channel {channel!r} is not 0..3 or one of 0-1, 0-3, 1-3, 2-3")
        if full_scale not in FULL_SCALES:
            raise DeviceError(f"{chip}: full scale {full_scale} V is not one of {sorted(FULL_SCALES)}")
        rate = data_rate if data_rate is not None else DEFAULT_RATE[chip]
        if rate not in DATA_RATES[chip]:
            raise DeviceError(f"{chip}: data rate {rate} SPS is not one of {sorted(set(DATA_RATES[chip]))}")
        self._bus, self.address, self.chip = bus, address, chip
        self._where = f"{chip.upper()} at {bus.name} 0x{address:02x}"
        self.full_scale = full_scale
        self._config = (
            OS_START
            | INPUTS[str(channel)] << 12
            | FULL_SCALES[full_scale] << 9
            | MODE_SINGLE
            | DATA_RATES[chip].index(rate) << 5
            | COMPARATOR_OFF
        )
        self._conversion_time = 1.0 / rate
        # Identification: no ID register; the config register must answer (and a conversion can be started).
        bus.read_block(address, CONFIG, 2)

    def sample(self) -> dict[str, float]:
        """One single-shot conversion: {"voltage": volts}."""
        with self._bus.locked():
            self._bus.write_bytes(self.address, bytes([CONFIG, *self._config.to_bytes(2, "big")]))
            time.sleep(self._conversion_time)
            self._wait_done()
            raw = self._bus.read_block(self.address, CONVERSION, 2)
        return {"voltage": volts(raw, self.full_scale, BITS[self.chip])}

    def _wait_done(self) -> None:
        for _ in range(POLLS):
            if int.from_bytes(self._bus.read_block(self.address, CONFIG, 2), "big") & OS_START:
                return
            time.sleep(POLL_INTERVAL)
        raise DeviceError(f"{self._where}: the conversion did not finish (OS stays 0)")

    def close(self) -> None:
        """Nothing to release: in single-shot mode the chip powers down after each conversion."""


def volts(register: bytes, full_scale: float, bits: int) -> float:
    """The conversion register (2 bytes, MSB first, two's complement, left-justified) in volts.

    Datasheet table 3: 0x7FFF = +FS (1 - 2^-15), 0x0001 = +FS / 2^15, 0xFFFF = -FS / 2^15, 0x8000 = -FS.
    """
    code = int.from_bytes(register, "big", signed=True) >> (16 - bits)
    return code * full_scale / (1 << (bits - 1))
