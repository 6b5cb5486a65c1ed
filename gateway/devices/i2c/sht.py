"""Sensirion SHT3x / SHT4x and TE HTU21D / Silicon Labs Si7021 humidity and temperature sensors.

All answer a measurement command with big-endian words each followed by a CRC-8 (polynomial 0x31), which is
always checked: a mismatch is a DeviceError, never a reading.

- SHT3x (datasheet SHT3x-DIS 4.3, 4.12, 4.13): single shot, high repeatability, clock stretching disabled =
  command 0x24 0x00; max 15.5 ms; 6 bytes T, CRC, RH, CRC; T = -45 + 175 * S / 65535, RH = 100 * S / 65535.
  CRC init 0xFF, example CRC(0xBEEF) = 0x92.
- SHT4x (datasheet SHT4x 4.4, 4.5): 0xFD = high precision; max 8.3 ms; same layout; RH = -6 + 125 * S / 65535,
  clamped to 0..100 as the datasheet recommends.
- HTU21D / Si7021 (HTU21D(F) datasheet; Si7021-A20 5.1): no-hold 0xF3 (temperature, max 50 ms at 14 bit) and
  0xF5 (humidity, max 16 ms at 12 bit); 3 bytes MSB, LSB (2 status bits), CRC with init 0x00;
  T = -46.85 + 175.72 * S / 65536, RH = -6 + 125 * S / 65536.

One `sample()` is 2 transactions on SHT3x/SHT4x (command, read) and 4 on HTU21D/Si7021 (two of each).
"""

from __future__ import annotations

import time

from gateway.devices.i2c.bus import I2cBus
from gateway.errors import DeviceError

CHIPS = ("sht3x", "sht4x", "htu21d", "si7021")
SHT3X_SINGLE_SHOT_HIGH = b"\x24\x00"  # SHT3x-DIS table 9: no clock stretching, high repeatability
SHT3X_WAIT = 0.016  # table 4: 15.5 ms max
SHT4X_MEASURE_HIGH = b"\xfd"  # SHT4x table 7
SHT4X_WAIT = 0.010  # table 5: 8.3 ms max
HTU21D_TEMPERATURE, HTU21D_HUMIDITY = b"\xf3", b"\xf5"  # no hold master
HTU21D_TEMPERATURE_WAIT, HTU21D_HUMIDITY_WAIT = 0.050, 0.016


def crc8(data: bytes, init: int = 0xFF) -> int:
    """CRC-8, polynomial 0x31 (x^8 + x^5 + x^4 + 1), MSB first, no final XOR.

    `init` 0xFF for Sensirion (SHT3x-DIS 4.12) and Aosong; 0x00 for HTU21D / Si7021.
    """
    crc = init
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def checked_words(data: bytes, init: int, where: str) -> list[int]:
    """The big-endian words of `data` laid out as [msb, lsb, crc] groups; DeviceError on a CRC mismatch."""
    words = []
    for offset in range(0, len(data) - 2, 3):
        word, crc = data[offset : offset + 2], data[offset + 2]
        if crc8(word, init) != crc:
            raise DeviceError(
                f"{where}: CRC mismatch (data 0x{word.hex()}, CRC 0x{crc:02x}, expected 0x{crc8(word, init):02x})"
            )
        words.append(int.from_bytes(word, "big"))
    return words


class Sht:
    """An SHT3x, SHT4x, HTU21D or Si7021 (`chip`) at `address` (0x44/0x45 SHT3x/SHT4x, 0x40 HTU21D/Si7021)."""

    def __init__(self, bus: I2cBus, address: int = 0x44, *, chip: str = "sht3x") -> None:
        if chip not in CHIPS:
            raise DeviceError(f"unknown humidity chip {chip!r}: expected one of {', '.join(CHIPS)}")
        self._bus, self.address, self.chip = bus, address, chip
        self._where = f"{chip.upper()} at {bus.name} 0x{address:02x}"

    def sample(self) -> dict[str, float]:
        """One measurement: temperature °C and humidity %."""
        if self.chip in ("htu21d", "si7021"):
            return self._sample_htu21d()
        command, wait = (
            (SHT3X_SINGLE_SHOT_HIGH, SHT3X_WAIT) if self.chip == "sht3x" else (SHT4X_MEASURE_HIGH, SHT4X_WAIT)
        )
        raw_t, raw_rh = checked_words(self._measure(command, wait, 6), 0xFF, self._where)
        temperature = -45.0 + 175.0 * raw_t / 65535
        if self.chip == "sht3x":
            humidity = 100.0 * raw_rh / 65535
        else:
            humidity = min(max(-6.0 + 125.0 * raw_rh / 65535, 0.0), 100.0)
        return {"temperature": temperature, "humidity": humidity}

    def _sample_htu21d(self) -> dict[str, float]:
        (raw_t,) = checked_words(self._measure(HTU21D_TEMPERATURE, HTU21D_TEMPERATURE_WAIT, 3), 0x00, self._where)
        (raw_rh,) = checked_words(self._measure(HTU21D_HUMIDITY, HTU21D_HUMIDITY_WAIT, 3), 0x00, self._where)
        temperature = -46.85 + 175.72 * (raw_t & 0xFFFC) / 65536  # the 2 low bits are status, not data
        humidity = min(max(-6.0 + 125.0 * (raw_rh & 0xFFFC) / 65536, 0.0), 100.0)
        return {"temperature": temperature, "humidity": humidity}

    def _measure(self, command: bytes, wait: float, length: int) -> bytes:
        with self._bus.locked():
            self._bus.write_bytes(self.address, command)
            time.sleep(wait)
            return self._bus.read_bytes(self.address, length)

    def close(self) -> None:
        """Nothing to release: single-shot chips idle between measurements."""
