"""Register-map simulators of our I2C chips and `SimulatedI2c`, the adapter they sit on, at smbus2's ioctl level.

The seam: smbus2's `SMBus` opens the device node with `os.open` and then talks to it only through the module
global `smbus2.smbus2.ioctl` (I2C_FUNCS, I2C_SLAVE, I2C_SMBUS, I2C_RDWR). `attach(sim, dev_root, n)` creates a
plain file `dev_root/i2c-n` and routes the ioctls of any descriptor open on that file to `sim`, by swapping
that global for a dispatcher; descriptors of other files (a real `/dev/i2c-1`) still reach `fcntl.ioctl`.
So tests and the demo run the real `smbus2.SMBus` and our real `I2cBus`, with only the kernel replaced:

    sim = SimulatedI2c({0x76: SimulatedBme280(temperature=21.5, humidity=45.0, pressure=1013.25)})
    bus = open_simulated_bus(sim, 1, Path(tempfile.mkdtemp()))  # an I2cBus on the simulator
    Bme280(bus, 0x76).sample()

Each simulated chip sees what a chip sees on the wire: write messages (`write(data)`) and read messages
(`read(length)`); it raises `Nack` where the real chip would not acknowledge. `SimulatedI2c` counts
transactions (one per ioctl, i.e. per STOP) per address, logs every message and can inject errors.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import smbus2.smbus2 as smbus2_module
from smbus2.smbus2 import (
    I2C_FUNCS,
    I2C_M_RD,
    I2C_RDWR,
    I2C_SLAVE,
    I2C_SMBUS,
    I2C_SMBUS_BYTE,
    I2C_SMBUS_BYTE_DATA,
    I2C_SMBUS_I2C_BLOCK_DATA,
    I2C_SMBUS_QUICK,
    I2C_SMBUS_READ,
    I2C_SMBUS_WORD_DATA,
    I2cFunc,
)

from gateway.devices.i2c.bus import I2cBus
from gateway.devices.i2c.sht import crc8

# ---------------------------------------------------------------------------------------------------------------
# The chips' side of the wire

T = TypeVar("T")


class Nack(Exception):  # noqa: N818 - named after the bus condition it stands for
    """The simulated chip does not acknowledge (the adapter reports EREMOTEIO)."""


class SimulatedChip:
    """A chip as seen from the bus: write messages in, read messages out."""

    def write(self, data: bytes) -> None:
        """A write message addressed to the chip."""
        raise Nack

    def read(self, length: int) -> bytes:
        """A read message addressed to the chip."""
        raise Nack


class ByteRegisters(SimulatedChip):
    """8-bit registers with an auto-incrementing pointer (Bosch sensors): [reg, value, value...] / read from reg."""

    def __init__(self) -> None:
        self.registers = bytearray(256)
        self.pointer = 0

    def write(self, data: bytes) -> None:
        """The first byte sets the pointer, the others are written from there on."""
        self.pointer = data[0]
        for value in data[1:]:
            self.write_register(self.pointer, value)
            self.pointer = (self.pointer + 1) & 0xFF

    def read(self, length: int) -> bytes:
        """`length` registers from the pointer on."""
        out = bytearray()
        for _ in range(length):
            out.append(self.read_register(self.pointer))
            self.pointer = (self.pointer + 1) & 0xFF
        return bytes(out)

    def write_register(self, register: int, value: int) -> None:
        """Store a byte; chips override this for registers that act."""
        self.registers[register] = value

    def read_register(self, register: int) -> int:
        """Return a byte; chips override this for registers that change when read."""
        return self.registers[register]


class WordRegisters(SimulatedChip):
    """16-bit big-endian registers behind a pointer byte (TI ADS1x15, INA219): [ptr, msb, lsb] / read msb, lsb."""

    def __init__(self, registers: Mapping[int, int]) -> None:
        self.registers = dict(registers)
        self.pointer = 0

    def write(self, data: bytes) -> None:
        """A pointer byte, optionally followed by a big-endian 16-bit value for that register."""
        if data[0] not in self.registers or len(data) not in (1, 3):
            raise Nack
        self.pointer = data[0]
        if len(data) == 3:
            self.write_register(self.pointer, data[1] << 8 | data[2])

    def read(self, length: int) -> bytes:
        """The pointed register, MSB first (repeated if more bytes are clocked out)."""
        value = self.read_register(self.pointer)
        return (value.to_bytes(2, "big") * length)[:length]

    def write_register(self, register: int, value: int) -> None:
        """Store a word; chips override this for registers that act."""
        self.registers[register] = value

    def read_register(self, register: int) -> int:
        """Return a word; chips override this for registers that change when read."""
        return self.registers[register]


def _solve(function: Callable[[int], float], target: float, low: int, high: int) -> int:
    """The integer in [low, high] where the monotonic `function` comes closest to `target` (bisection)."""
    increasing = function(high) >= function(low)
    while high - low > 1:
        middle = (low + high) // 2
        if (function(middle) < target) == increasing:
            low = middle
        else:
            high = middle
    return min((low, high), key=lambda x: abs(function(x) - target))


# ---------------------------------------------------------------------------------------------------------------
# Bosch BME280 / BMP280

# BMP280 datasheet 3.12 (compensation example) for T and P; humidity words of a real BME280.
BMX280_CALIBRATION: dict[str, int] = {
    "T1": 27504, "T2": 26435, "T3": -1000,
    "P1": 36477, "P2": -10685, "P3": 3024, "P4": 2855, "P5": 140, "P6": -7, "P7": 15500, "P8": -14600, "P9": 6000,
    "H1": 75, "H2": 362, "H3": 0, "H4": 333, "H5": 50, "H6": 30,
}  # fmt: skip


def bmx280_calibration_bytes(calibration: Mapping[str, int]) -> tuple[bytes, bytes]:
    """The chip's NVM images 0x88..0xA1 and 0xE1..0xE7 (BME280 datasheet table 16: little-endian words)."""
    c = calibration
    words = [c["T1"], c["T2"], c["T3"], *(c[f"P{i}"] for i in range(1, 10))]
    low = b"".join((w & 0xFFFF).to_bytes(2, "little") for w in words) + bytes([0, c["H1"] & 0xFF])
    h4, h5 = c["H4"] & 0xFFF, c["H5"] & 0xFFF  # 12-bit two's complement, sharing 0xE5
    high = (c["H2"] & 0xFFFF).to_bytes(2, "little") + bytes(
        [c["H3"] & 0xFF, h4 >> 4, (h5 & 0x0F) << 4 | (h4 & 0x0F), h5 >> 4, c["H6"] & 0xFF]
    )
    return low, high


class SimulatedBme280(ByteRegisters):
    """A BME280 (or BMP280 with `chip_id=0x58`) in forced mode, turning physical values into raw ADC values.

    The raw values are found by inverting the datasheet's double-precision compensation (BME280 datasheet 8.1),
    an implementation independent of the driver's integer one. `adc` overrides them (adc_T, adc_P, adc_H).
    `busy_polls` is how many status reads still show `measuring` after a forced conversion starts.
    """

    def __init__(
        self,
        temperature: float = 21.5,
        humidity: float = 45.0,
        pressure: float = 1013.25,
        *,
        chip_id: int = 0x60,
        calibration: Mapping[str, int] = BMX280_CALIBRATION,
        adc: tuple[int, int, int] | None = None,
        busy_polls: int = 0,
    ) -> None:
        super().__init__()
        self.temperature, self.humidity, self.pressure = temperature, humidity, pressure
        self.calibration = dict(calibration)
        self.adc = adc
        self.busy_polls = busy_polls
        self.conversions = 0
        self._busy = 0
        self.registers[0xD0] = chip_id
        low, high = bmx280_calibration_bytes(self.calibration)
        self.registers[0x88 : 0x88 + len(low)] = low
        self.registers[0xE1 : 0xE1 + len(high)] = high
        self.registers[0xF7:0xFF] = bytes([0x80, 0, 0, 0x80, 0, 0, 0x80, 0])  # reset values: "skipped"

    @property
    def has_humidity(self) -> bool:
        """Only the BME280 (id 0x60) measures humidity."""
        return self.registers[0xD0] == 0x60

    def write_register(self, register: int, value: int) -> None:
        """ctrl_meas with mode forced (01 or 10) runs one conversion; reset (0xE0 <- 0xB6) is accepted."""
        super().write_register(register, value)
        if register == 0xF4 and value & 0b11 in (0b01, 0b10):
            self._convert()
            self.registers[0xF4] = value & ~0b11  # back to sleep mode, as the chip does

    def read_register(self, register: int) -> int:
        """Status (0xF3) shows `measuring` (bit 3) for `busy_polls` reads after a conversion starts."""
        if register == 0xF3:
            busy, self._busy = self._busy > 0, max(self._busy - 1, 0)
            return 0x08 if busy else 0x00
        return super().read_register(register)

    def _convert(self) -> None:
        self.conversions += 1
        self._busy = self.busy_polls
        adc_t, adc_p, adc_h = self.adc or self._raw()
        self.registers[0xF7:0xFD] = (adc_p << 4).to_bytes(3, "big") + (adc_t << 4).to_bytes(3, "big")
        if self.has_humidity:
            self.registers[0xFD:0xFF] = adc_h.to_bytes(2, "big")

    def _raw(self) -> tuple[int, int, int]:
        adc_t = _solve(lambda a: self._t_fine(a) / 5120.0, self.temperature, 0, (1 << 20) - 1)
        t_fine = self._t_fine(adc_t)
        adc_p = _solve(lambda a: self._pressure(a, t_fine) / 100.0, self.pressure, 1, (1 << 20) - 1)
        adc_h = _solve(lambda a: self._humidity(a, t_fine), self.humidity, 0, 0xFFFF)
        return adc_t, adc_p, adc_h

    def _t_fine(self, adc_t: int) -> float:
        c = self.calibration
        var1 = (adc_t / 16384.0 - c["T1"] / 1024.0) * c["T2"]
        var2 = (adc_t / 131072.0 - c["T1"] / 8192.0) ** 2 * c["T3"]
        return var1 + var2

    def _pressure(self, adc_p: int, t_fine: float) -> float:
        c = self.calibration
        var1 = t_fine / 2.0 - 64000.0
        var2 = var1 * var1 * c["P6"] / 32768.0 + var1 * c["P5"] * 2.0
        var2 = var2 / 4.0 + c["P4"] * 65536.0
        var1 = (c["P3"] * var1 * var1 / 524288.0 + c["P2"] * var1) / 524288.0
        var1 = (1.0 + var1 / 32768.0) * c["P1"]
        p = (1048576.0 - adc_p - var2 / 4096.0) * 6250.0 / var1
        return p + (c["P9"] * p * p / 2147483648.0 + p * c["P8"] / 32768.0 + c["P7"]) / 16.0

    def _humidity(self, adc_h: int, t_fine: float) -> float:
        c = self.calibration
        var = t_fine - 76800.0
        var = (adc_h - (c["H4"] * 64.0 + c["H5"] / 16384.0 * var)) * (
            c["H2"] / 65536.0 * (1.0 + c["H6"] / 67108864.0 * var * (1.0 + c["H3"] / 67108864.0 * var))
        )
        return var * (1.0 - c["H1"] * var / 524288.0)


# ---------------------------------------------------------------------------------------------------------------
# Sensirion SHT3x / SHT4x and the HTU21D / Si7021 family


class SimulatedSht(SimulatedChip):
    """An SHT3x (`chip="sht3x"`, command 0x2400) or SHT4x (`"sht4x"`, command 0xFD): 6 bytes T, CRC, RH, CRC.

    Reading before a measurement command NACKs, as the chips do; `corrupt_crc` flips the humidity CRC;
    `raw` overrides the (temperature, humidity) words.
    """

    COMMANDS: ClassVar[dict[str, bytes]] = {"sht3x": b"\x24\x00", "sht4x": b"\xfd"}

    def __init__(
        self,
        temperature: float = 21.5,
        humidity: float = 45.0,
        *,
        chip: str = "sht3x",
        corrupt_crc: bool = False,
        raw: tuple[int, int] | None = None,
    ) -> None:
        self.temperature, self.humidity, self.chip, self.corrupt_crc = temperature, humidity, chip, corrupt_crc
        self.raw = raw
        self.measurements = 0
        self._result: bytes | None = None

    def write(self, data: bytes) -> None:
        """The single-shot measurement command; anything else NACKs."""
        if bytes(data) != self.COMMANDS[self.chip]:
            raise Nack
        self.measurements += 1
        raw_t = round((self.temperature + 45.0) * 65535 / 175.0)
        rh_offset, rh_span = (0.0, 100.0) if self.chip == "sht3x" else (6.0, 125.0)
        raw_rh = round((self.humidity + rh_offset) * 65535 / rh_span)
        raw_t, raw_rh = self.raw or (raw_t, raw_rh)
        self._result = _with_crcs(raw_t, raw_rh, init=0xFF, corrupt=self.corrupt_crc)

    def read(self, length: int) -> bytes:
        """The measurement, once; NACK while none is pending."""
        result, self._result = self._result, None
        if result is None:
            raise Nack
        return result[:length]


def _with_crcs(first: int, second: int, *, init: int, corrupt: bool = False) -> bytes:
    """Two big-endian words, each followed by its CRC-8 (poly 0x31)."""
    a, b = first.to_bytes(2, "big"), second.to_bytes(2, "big")
    return a + bytes([crc8(a, init)]) + b + bytes([crc8(b, init) ^ (0xFF if corrupt else 0)])


class SimulatedHtu21d(SimulatedChip):
    """An HTU21D / Si7021: no-hold commands 0xF3 (T) and 0xF5 (RH), 3-byte answer MSB, LSB (status bits), CRC.

    `raw` overrides the (temperature, humidity) words as sent, status bits included.
    """

    def __init__(
        self,
        temperature: float = 21.5,
        humidity: float = 45.0,
        *,
        corrupt_crc: bool = False,
        raw: tuple[int, int] | None = None,
    ) -> None:
        self.temperature, self.humidity, self.corrupt_crc, self.raw = temperature, humidity, corrupt_crc, raw
        self.measurements = 0
        self._result: bytes | None = None

    def write(self, data: bytes) -> None:
        """Start a temperature (0xF3) or humidity (0xF5) conversion; soft reset (0xFE) is accepted."""
        command = bytes(data)
        if command == b"\xfe":
            return
        if command == b"\xf3":  # HTU21D datasheet: T = -46.85 + 175.72 * S / 2^16, status bits 00
            raw = self.raw[0] if self.raw else round((self.temperature + 46.85) * 65536 / 175.72) & 0xFFFC
        elif command == b"\xf5":  # RH = -6 + 125 * S / 2^16, status bit 1 set for humidity
            raw = self.raw[1] if self.raw else round((self.humidity + 6.0) * 65536 / 125.0) & 0xFFFC | 0b10
        else:
            raise Nack
        self.measurements += 1
        word = raw.to_bytes(2, "big")
        self._result = word + bytes([crc8(word, 0x00) ^ (0xFF if self.corrupt_crc else 0)])

    def read(self, length: int) -> bytes:
        """The conversion, once; NACK while none is pending (as in no-hold mode before it ends)."""
        result, self._result = self._result, None
        if result is None:
            raise Nack
        return result[:length]


# ---------------------------------------------------------------------------------------------------------------
# TI ADS1115 / ADS1015 and INA219


class SimulatedAds1x15(WordRegisters):
    """An ADS1115 or ADS1015 converting `voltages` (AIN0..AIN3, volts) in single-shot mode.

    `raw` overrides the conversion result (the 16-bit register value). `busy_polls` is how many config reads
    show OS=0 (converting) after a conversion starts.
    """

    FULL_SCALE = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256)  # PGA field 0..7 (datasheet 8.6.3)
    MUX = ((0, 1), (0, 3), (1, 3), (2, 3), (0, None), (1, None), (2, None), (3, None))  # MUX field 0..7

    def __init__(
        self,
        voltages: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
        *,
        chip: str = "ads1115",
        raw: int | None = None,
        busy_polls: int = 0,
    ) -> None:
        super().__init__({0x00: 0x0000, 0x01: 0x8583, 0x02: 0x8000, 0x03: 0x7FFF})  # reset values
        self.voltages, self.chip, self.raw, self.busy_polls = list(voltages), chip, raw, busy_polls
        self.conversions = 0
        self._busy = 0

    def write_register(self, register: int, value: int) -> None:
        """Writing the config register with OS=1 in single-shot mode (bit 8) starts a conversion."""
        super().write_register(register, value & 0x7FFF if register == 0x01 else value)
        if register == 0x01 and value & 0x8000 and value & 0x0100:
            self.conversions += 1
            self._busy = self.busy_polls
            self.registers[0x00] = self.raw if self.raw is not None else self._code(value)

    def read_register(self, register: int) -> int:
        """OS (bit 15 of config) reads 0 while converting, 1 when idle."""
        value = super().read_register(register)
        if register == 0x01:
            busy, self._busy = self._busy > 0, max(self._busy - 1, 0)
            return value if busy else value | 0x8000
        return value

    def _code(self, config: int) -> int:
        positive, negative = self.MUX[config >> 12 & 0b111]
        volts = self.voltages[positive] - (self.voltages[negative] if negative is not None else 0.0)
        bits = 16 if self.chip == "ads1115" else 12
        top = 1 << (bits - 1)
        code = max(-top, min(top - 1, round(volts / self.FULL_SCALE[config >> 9 & 0b111] * top)))
        return (code << (16 - bits)) & 0xFFFF


class SimulatedIna219(WordRegisters):
    """An INA219 measuring `bus_voltage` (V) and `current` (A) through `shunt_ohms`, in triggered mode."""

    def __init__(
        self, bus_voltage: float = 12.0, current: float = 0.5, *, shunt_ohms: float = 0.1, busy_polls: int = 0
    ) -> None:
        # Reset values (datasheet 8.6): config 0x399F, calibration 0.
        super().__init__({0x00: 0x399F, 0x01: 0, 0x02: 0, 0x03: 0, 0x04: 0, 0x05: 0})
        self.bus_voltage, self.current, self.shunt_ohms, self.busy_polls = bus_voltage, current, shunt_ohms, busy_polls
        self.conversions = 0
        self._busy = 0

    def write_register(self, register: int, value: int) -> None:
        """Writing the config register with a triggered mode (1..3) runs one conversion."""
        super().write_register(register, value)
        if register == 0x00 and value & 0b111 in (1, 2, 3):
            self.conversions += 1
            self._busy = self.busy_polls
            self.registers[0x02] &= ~0b10  # CNVR cleared until this conversion ends
            limit = 4000 << (value >> 11 & 0b11)  # PGA /1../8: ±40..320 mV in 10 µV steps
            shunt = round(self.current * self.shunt_ohms / 10e-6)
            overflow = abs(shunt) > limit
            self.registers[0x01] = max(-limit, min(limit, shunt)) & 0xFFFF
            self.registers[0x02] = min(round(self.bus_voltage / 0.004), 0x1FFF) << 3 | int(overflow)

    def read_register(self, register: int) -> int:
        """CNVR (bit 1 of the bus voltage) sets when the conversion ends; reading power clears it."""
        value = super().read_register(register)
        if register == 0x02:
            busy, self._busy = self._busy > 0, max(self._busy - 1, 0)
            if not busy:
                self.registers[0x02] |= 0b10
            return self.registers[0x02]
        if register == 0x03:
            self.registers[0x02] &= ~0b10
        return value


# ---------------------------------------------------------------------------------------------------------------
# ROHM BH1750


class SimulatedBh1750(SimulatedChip):
    """A BH1750 under `illuminance` lx: opcodes in, the 16-bit count of the last measurement out (MSB first)."""

    def __init__(self, illuminance: float = 250.0, *, raw: int | None = None) -> None:
        self.illuminance, self.raw = illuminance, raw
        self.mtreg = 69
        self.measurements = 0
        self.powered = False
        self._count = 0

    def write(self, data: bytes) -> None:
        """Power down/on (0x00/0x01), one-time H-resolution (0x20), MTreg high (0x40|x) / low (0x60|x) bits."""
        if len(data) != 1:
            raise Nack
        opcode = data[0]
        if opcode in (0x00, 0x01):
            self.powered = opcode == 0x01
        elif opcode == 0x20:
            self.measurements += 1
            # Datasheet p.7 / p.11: count = lx * 1.2 * MTreg / 69, saturating at 0xFFFF; powers down after.
            count = round(self.illuminance * 1.2 * self.mtreg / 69)
            self._count = self.raw if self.raw is not None else min(count, 0xFFFF)
            self.powered = False
        elif opcode & 0xF8 == 0x40:
            self.mtreg = (opcode & 0x07) << 5 | (self.mtreg & 0x1F)
        elif opcode & 0xE0 == 0x60:
            self.mtreg = (self.mtreg & 0xE0) | (opcode & 0x1F)
        else:
            raise Nack

    def read(self, length: int) -> bytes:
        """The last count, big-endian."""
        return self._count.to_bytes(2, "big")[:length]


# ---------------------------------------------------------------------------------------------------------------
# The adapter: ioctls in, messages to the chips out


@dataclass(frozen=True)
class Message:
    """One message on the wire: `write` True for master -> chip."""

    address: int
    write: bool
    data: bytes


@dataclass
class SimulatedI2c:
    """Chips by 7-bit address on one simulated adapter, implementing the i2c-dev ioctls smbus2 issues."""

    chips: dict[int, SimulatedChip] = field(default_factory=dict)
    missing_errno: int = errno.ENXIO  # what an empty address answers
    transactions: Counter[int] = field(default_factory=Counter)
    log: list[Message] = field(default_factory=list)
    busy: set[int] = field(default_factory=set)  # addresses "bound to a kernel driver": I2C_SLAVE -> EBUSY
    _failures: dict[int, list[int]] = field(default_factory=dict)
    _selected: dict[int, int] = field(default_factory=dict)  # fd -> address set by I2C_SLAVE
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, address: int, code: int = errno.EREMOTEIO, times: int = 1) -> None:
        """Make the next `times` transactions to `address` fail with `code` (a NACK is EREMOTEIO)."""
        self._failures.setdefault(address, []).extend([code] * times)

    def ioctl(self, fd: int, request: int, arg: Any) -> int:
        """One i2c-dev ioctl on a descriptor of this adapter."""
        with self._lock:
            if request == I2C_FUNCS:
                arg.value = int(I2cFunc.I2C | I2cFunc.SMBUS_EMUL)
            elif request == I2C_SLAVE:
                if arg in self.busy:
                    raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
                self._selected[fd] = arg
            elif request == I2C_SMBUS:
                self._smbus(self._selected[fd], arg)
            elif request == I2C_RDWR:
                self._rdwr(arg)
            else:  # I2C_SLAVE_FORCE, I2C_PEC ...: our bus never issues them
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
            return 0

    def _chip(self, address: int) -> SimulatedChip:
        """The chip for one transaction, counted; OSError for an injected failure or an empty address."""
        self.transactions[address] += 1
        pending = self._failures.get(address)
        if pending:
            code = pending.pop(0)
            raise OSError(code, os.strerror(code))
        chip = self.chips.get(address)
        if chip is None:
            raise OSError(self.missing_errno, os.strerror(self.missing_errno))
        return chip

    def _send(self, address: int, chip: SimulatedChip, data: bytes) -> None:
        self.log.append(Message(address, True, data))
        _acknowledged(lambda: chip.write(data))

    def _receive(self, address: int, chip: SimulatedChip, length: int) -> bytes:
        data = _acknowledged(lambda: chip.read(length))
        self.log.append(Message(address, False, data))
        return data

    def _smbus(self, address: int, request: Any) -> None:
        """An SMBus transfer (the kernel emulates it with I2C messages on a plain I2C adapter such as the Pi's)."""
        chip, size, command = self._chip(address), request.size, request.command
        data = request.data.contents
        if request.read_write != I2C_SMBUS_READ:
            payload = {
                I2C_SMBUS_QUICK: b"",
                I2C_SMBUS_BYTE: bytes([command]),
                I2C_SMBUS_BYTE_DATA: bytes([command, data.byte]),
                I2C_SMBUS_WORD_DATA: bytes([command, data.word & 0xFF, data.word >> 8]),  # SMBus: low byte first
                I2C_SMBUS_I2C_BLOCK_DATA: bytes([command, *data.block[1 : data.block[0] + 1]]),
            }[size]
            if payload:
                self._send(address, chip, payload)
            return
        if size != I2C_SMBUS_BYTE:
            self._send(address, chip, bytes([command]))
        if size in (I2C_SMBUS_BYTE, I2C_SMBUS_BYTE_DATA):
            data.byte = self._receive(address, chip, 1)[0]
        elif size == I2C_SMBUS_WORD_DATA:
            data.word = int.from_bytes(self._receive(address, chip, 2), "little")
        else:
            block = self._receive(address, chip, data.block[0])
            data.block[1 : len(block) + 1] = list(block)

    def _rdwr(self, request: Any) -> None:
        """Combined messages, one STOP at the end: one transaction per address involved."""
        messages = [request.msgs[i] for i in range(request.nmsgs)]
        chips = {address: self._chip(address) for address in dict.fromkeys(m.addr for m in messages)}
        for message in messages:
            chip = chips[message.addr]
            if message.flags & I2C_M_RD:
                data = self._receive(message.addr, chip, message.len)
                ctypes.memmove(message.buf, data, len(data))
            else:
                self._send(message.addr, chip, ctypes.string_at(message.buf, message.len))


def _acknowledged(transfer: Callable[[], T]) -> T:
    """Run a chip's side of a message; its NACK becomes the adapter's EREMOTEIO."""
    try:
        return transfer()
    except Nack:
        raise OSError(errno.EREMOTEIO, os.strerror(errno.EREMOTEIO)) from None


# ---------------------------------------------------------------------------------------------------------------
# Installing a SimulatedI2c under smbus2

_NODES: dict[str, SimulatedI2c] = {}
_USERS: dict[str, int] = {}  # open simulated buses per node: the last one to close detaches it
_REAL_IOCTL = fcntl.ioctl


def _dispatch(fd: int, request: int, arg: Any = 0, mutate_flag: bool = True) -> Any:
    """smbus2's `ioctl`: descriptors open on an attached node go to its simulator, all others to the kernel."""
    try:
        simulator = _NODES.get(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        simulator = None
    if simulator is None:
        return _REAL_IOCTL(fd, request, arg, mutate_flag)
    return simulator.ioctl(fd, request, arg)


def attach(simulator: SimulatedI2c, dev_root: Path, number: int) -> Path:
    """Create the node `dev_root/i2c-<number>` (a plain file) and route smbus2's ioctls on it to `simulator`."""
    node = dev_root / f"i2c-{number}"
    node.touch()
    _NODES[str(node.resolve())] = simulator
    smbus2_module.ioctl = _dispatch  # type: ignore[attr-defined]
    return node


def detach(node: Path) -> None:
    """Forget a node; smbus2 gets the kernel's ioctl back once no node is left."""
    _NODES.pop(str(node.resolve()), None)
    if not _NODES:
        smbus2_module.ioctl = _REAL_IOCTL  # type: ignore[attr-defined]


@contextmanager
def attached(simulator: SimulatedI2c, dev_root: Path, number: int) -> Iterator[Path]:
    """`attach` for the length of a `with` block."""
    node = attach(simulator, dev_root, number)
    try:
        yield node
    finally:
        detach(node)


class SimulatedBus(I2cBus):
    """An I2cBus on a simulated adapter that detaches its node when the last bus on it closes (nothing of the
    simulation outlives it: smbus2 gets the kernel's ioctl back)."""

    def __init__(self, simulator: SimulatedI2c, number: int, dev_root: Path) -> None:
        self._node = attach(simulator, dev_root, number)
        key = str(self._node.resolve())
        _USERS[key] = _USERS.get(key, 0) + 1
        self._attached = True
        try:
            super().__init__(number, dev_root=dev_root)
        except BaseException:
            self._release()
            raise

    def close(self) -> None:
        """Close the bus, then let go of the node (idempotent)."""
        super().close()
        self._release()

    def _release(self) -> None:
        if not self._attached:
            return
        self._attached = False
        key = str(self._node.resolve())
        _USERS[key] -= 1
        if _USERS[key] == 0:
            del _USERS[key]
            detach(self._node)


def open_simulated_bus(simulator: SimulatedI2c, number: int, dev_root: Path) -> I2cBus:
    """An I2cBus (real smbus2 underneath) whose adapter is `simulator`: for the demo simulation."""
    return SimulatedBus(simulator, number, dev_root)
