"""ROHM BH1750FVI ambient light sensor, one-time high-resolution mode.

Datasheet BH1750FVI (p.5 instruction set: power on 0x01, one-time H-resolution 0x20, MTreg 0x40|hi, 0x60|lo;
p.7 measurement sequence: max 180 ms, lx = count / 1.2; p.11 MTreg: default 69, range 31..254, lx scaled by
69 / MTreg). The chip has no ID register and powers down after a one-time measurement.

One `sample()` is 3 transactions: power on, one-time H-resolution, read 2 bytes (MSB first).
"""

from __future__ import annotations

import time

from gateway.devices.i2c.bus import I2cBus
from gateway.errors import DeviceError

POWER_ON = 0x01
ONE_TIME_HIGH_RES = 0x20
MTREG_HIGH, MTREG_LOW = 0x40, 0x60
MTREG_DEFAULT, MTREG_MIN, MTREG_MAX = 69, 31, 254
MAX_MEASUREMENT_TIME = 0.180  # at MTreg 69; scales with MTreg
COUNTS_PER_LUX = 1.2


class Bh1750:
    """A BH1750 at `address` (0x23, or 0x5C with ADDR high); `mtreg` 31..254 trades range for sensitivity."""

    def __init__(self, bus: I2cBus, address: int = 0x23, *, mtreg: int = MTREG_DEFAULT) -> None:
        if not MTREG_MIN <= mtreg <= MTREG_MAX:
            raise DeviceError(f"BH1750: mtreg {mtreg} is outside {MTREG_MIN}..{MTREG_MAX}")
        self._bus, self.address, self.mtreg = bus, address, mtreg
        with bus.locked():
            bus.write_bytes(address, bytes([POWER_ON]))
            bus.write_bytes(address, bytes([MTREG_HIGH | mtreg >> 5]))
            bus.write_bytes(address, bytes([MTREG_LOW | mtreg & 0x1F]))

    def sample(self) -> dict[str, float]:
        """One one-time high-resolution measurement: illuminance in lx."""
        with self._bus.locked():
            self._bus.write_bytes(self.address, bytes([POWER_ON]))
            self._bus.write_bytes(self.address, bytes([ONE_TIME_HIGH_RES]))
            time.sleep(MAX_MEASUREMENT_TIME * self.mtreg / MTREG_DEFAULT)
            raw = self._bus.read_bytes(self.address, 2)
        return {"illuminance": lux(raw, self.mtreg)}

    def close(self) -> None:
        """Nothing to release: the chip powers down after each one-time measurement."""


def lux(raw: bytes, mtreg: int = MTREG_DEFAULT) -> float:
    """Two bytes, MSB first, in lx: count / 1.2 at MTreg 69, scaled by 69 / MTreg otherwise (datasheet p.7, p.11)."""
    return int.from_bytes(raw, "big") / COUNTS_PER_LUX * MTREG_DEFAULT / mtreg
