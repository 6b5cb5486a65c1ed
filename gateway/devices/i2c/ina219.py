"""TI INA219 current/power monitor: bus voltage, shunt current and power from one triggered conversion.

Datasheet SBOS448 (8.6.2 config, 8.6.3.1 shunt voltage register: signed, LSB 10 µV; 8.6.3.2 bus voltage
register: bits 15..3, LSB 4 mV, bit 1 CNVR, bit 0 OVF). Registers are 16-bit big-endian.

Current and power are computed here, not by the chip: current = shunt voltage / `shunt_ohms`, power = bus
voltage * current. The calibration register stays 0, so the chip's own current/power registers are unused
(and cannot disagree with ours through LSB rounding).

`max_current` picks the PGA (shunt range ±40/80/160/320 mV): the smallest range holding max_current *
shunt_ohms, for the best resolution. One `sample()` is 3 transactions: write config (triggers the conversion),
read bus voltage (CNVR set: done; one read more per poll), read shunt voltage.
"""

from __future__ import annotations

import time

from gateway.devices.i2c.bus import I2cBus
from gateway.errors import DeviceError

CONFIG, SHUNT, BUS = 0x00, 0x01, 0x02
SHUNT_LSB = 10e-6  # V
BUS_LSB = 0.004  # V, after the 3-bit shift
CNVR, OVF = 0b10, 0b01
BUS_RANGE_32V = 1 << 13
ADC_12BIT = 0b0011  # BADC/SADC: 12-bit, 532 µs each
MODE_SHUNT_AND_BUS_TRIGGERED = 0b011
PGA_RANGES = (0.040, 0.080, 0.160, 0.320)  # PG field 0..3: ±V across the shunt
CONVERSION_TIME = 0.0011  # two 12-bit conversions, 532 µs each
POLLS, POLL_INTERVAL = 10, 0.001


class Ina219:
    """An INA219 at `address` (0x40..0x4F) with a `shunt_ohms` shunt (0.1 Ω on the common breakout board).

    `max_current` (A, default 3.2: the ±320 mV range with 0.1 Ω) sets the PGA gain.
    """

    def __init__(self, bus: I2cBus, address: int = 0x40, *, shunt_ohms: float = 0.1, max_current: float = 3.2) -> None:
        if shunt_ohms <= 0 or max_current <= 0:
            raise DeviceError(f"INA219: shunt_ohms ({shunt_ohms}) and max_current ({max_current}) must be positive")
        needed = max_current * shunt_ohms
        if needed > PGA_RANGES[-1] * 1.0001:
            raise DeviceError(
                f"INA219: {max_current} A through {shunt_ohms} Ω is {needed * 1000:.0f} mV, over the 320 mV range"
            )
        gain = next(i for i, limit in enumerate(PGA_RANGES) if needed <= limit * 1.0001)
        self._bus, self.address, self.shunt_ohms = bus, address, shunt_ohms
        self._where = f"INA219 at {bus.name} 0x{address:02x}"
        self._config = BUS_RANGE_32V | gain << 11 | ADC_12BIT << 7 | ADC_12BIT << 3 | MODE_SHUNT_AND_BUS_TRIGGERED
        # No ID register: the config register must answer.
        bus.read_block(address, CONFIG, 2)

    def sample(self) -> dict[str, float]:
        """One triggered conversion: voltage (bus, V), current (A), power (W)."""
        with self._bus.locked():
            self._bus.write_bytes(self.address, bytes([CONFIG, *self._config.to_bytes(2, "big")]))
            time.sleep(CONVERSION_TIME)
            bus_register = self._wait_ready()
            shunt_register = self._bus.read_block(self.address, SHUNT, 2)
        if bus_register & OVF:
            raise DeviceError(f"{self._where}: overflow (OVF): the current exceeds the shunt range, raise max_current")
        voltage = bus_volts(bus_register)
        current = shunt_volts(shunt_register) / self.shunt_ohms
        return {"voltage": voltage, "current": current, "power": voltage * current}

    def _wait_ready(self) -> int:
        for _ in range(POLLS):
            register = int.from_bytes(self._bus.read_block(self.address, BUS, 2), "big")
            if register & CNVR:
                return register
            time.sleep(POLL_INTERVAL)
        raise DeviceError(f"{self._where}: the conversion did not finish (CNVR stays 0)")

    def close(self) -> None:
        """Nothing to release: in triggered mode the chip idles between conversions."""


def bus_volts(register: int) -> float:
    """The bus voltage register in volts: bits 15..3, LSB 4 mV (datasheet 8.6.3.2)."""
    return (register >> 3) * BUS_LSB


def shunt_volts(register: bytes) -> float:
    """The shunt voltage register (MSB first, two's complement, sign-extended by the chip) in volts: LSB 10 µV."""
    return int.from_bytes(register, "big", signed=True) * SHUNT_LSB
