"""Bosch BME280 (temperature, humidity, pressure) and BMP280 (temperature, pressure), in forced mode.

References: BME280 datasheet BST-BME280-DS002 (sections 3.3.3 forced mode, 4.2.2 table 16 calibration, 4.2.3
compensation, 5.4 registers, 9.1 measurement time) and BMP280 datasheet BST-BMP280-DS001 (3.11, 3.12 worked
example, 4.3). Compensation uses the datasheets' integer formulas: 32-bit for temperature and humidity, 64-bit
for pressure (Python's integers are exact; C's truncating division is reproduced).

One `sample()` is 3 transactions: write ctrl_meas (forced), read status, burst-read 0xF7..0xFE (0xF7..0xFC on a
BMP280); a status read more per `measuring` poll. ctrl_hum is written once at open: it takes effect at every
following ctrl_meas write (datasheet 5.4.3).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gateway.devices.i2c.bus import I2cBus
from gateway.errors import DeviceError

CHIP_ID = 0xD0
CALIB_LOW, CALIB_LOW_LENGTH = 0x88, 26  # 0x88..0xA1: dig_T1..dig_P9, (0xA0 unused), dig_H1
CALIB_HIGH, CALIB_HIGH_LENGTH = 0xE1, 7  # 0xE1..0xE7: dig_H2..dig_H6 (BME280 only)
CTRL_HUM, STATUS, CTRL_MEAS, CONFIG, DATA = 0xF2, 0xF3, 0xF4, 0xF5, 0xF7
BME280_ID = 0x60
BMP280_IDS = (0x58, 0x56, 0x57)  # 0x58 production; 0x56/0x57 engineering samples
OVERSAMPLING_X1 = 0b001
FORCED = 0b01
MEASURING = 0x08  # status bit 3
# Datasheet 9.1: t_max = 1.25 + 2.3*osrs_t + (2.3*osrs_p + 0.575) + (2.3*osrs_h + 0.575) ms = 9.3 ms at x1.
MEASUREMENT_TIME = 0.0094
STATUS_POLLS, POLL_INTERVAL = 10, 0.002
SKIPPED_20BIT, SKIPPED_16BIT = 0x80000, 0x8000  # what the data registers hold when nothing was measured


@dataclass(frozen=True)
class Calibration:
    """The trimming words (datasheet table 16); humidity words are 0 on a BMP280."""

    t1: int
    t2: int
    t3: int
    p: tuple[int, ...]  # dig_P1..dig_P9
    h1: int = 0
    h2: int = 0
    h3: int = 0
    h4: int = 0
    h5: int = 0
    h6: int = 0


def _word(data: bytes, offset: int, *, signed: bool) -> int:
    return int.from_bytes(data[offset : offset + 2], "little", signed=signed)


def _int8(value: int) -> int:
    return value - 256 if value & 0x80 else value


def parse_calibration(low: bytes, high: bytes | None) -> Calibration:
    """The words from the images of 0x88..0xA1 and (BME280) 0xE1..0xE7, little-endian as the chip stores them.

    dig_H4 is 0xE4[11:4] | 0xE5[3:0] and dig_H5 is 0xE6[11:4] | 0xE5[7:4], both signed 12-bit: the sign comes
    from the MSB byte read as int8 (as Bosch's BME280_driver does).
    """
    pressure = (_word(low, 6, signed=False), *(_word(low, 6 + 2 * i, signed=True) for i in range(1, 9)))
    temperature = (_word(low, 0, signed=False), _word(low, 2, signed=True), _word(low, 4, signed=True))
    if high is None:
        return Calibration(*temperature, p=pressure)
    return Calibration(
        *temperature,
        p=pressure,
        h1=low[25],
        h2=_word(high, 0, signed=True),
        h3=high[2],
        h4=_int8(high[3]) * 16 | (high[4] & 0x0F),
        h5=_int8(high[5]) * 16 | (high[4] >> 4),
        h6=_int8(high[6]),
    )


def _div(numerator: int, denominator: int) -> int:
    """C integer division (truncates toward zero), as in the datasheet's code."""
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator >= 0) == (denominator > 0) else -quotient


def compensate_temperature(adc_t: int, cal: Calibration) -> tuple[int, int]:
    """(T in 0.01 °C, t_fine): BME280_compensate_T_int32 (datasheet 4.2.3)."""
    var1 = (((adc_t >> 3) - (cal.t1 << 1)) * cal.t2) >> 11
    var2 = (((((adc_t >> 4) - cal.t1) * ((adc_t >> 4) - cal.t1)) >> 12) * cal.t3) >> 14
    t_fine = var1 + var2
    return (t_fine * 5 + 128) >> 8, t_fine


def compensate_pressure(adc_p: int, t_fine: int, cal: Calibration) -> int:
    """Pressure in Pa as Q24.8 (divide by 256): BME280_compensate_P_int64 (datasheet 4.2.3)."""
    p1, p2, p3, p4, p5, p6, p7, p8, p9 = cal.p
    var1 = t_fine - 128000
    var2 = var1 * var1 * p6 + ((var1 * p5) << 17) + (p4 << 35)
    var1 = ((var1 * var1 * p3) >> 8) + ((var1 * p2) << 12)
    var1 = (((1 << 47) + var1) * p1) >> 33
    if var1 == 0:
        raise DeviceError("BMx280: calibration gives a division by zero (dig_P1 = 0): the NVM reads as zeros")
    p = _div((((1048576 - adc_p) << 31) - var2) * 3125, var1)
    var1 = (p9 * (p >> 13) * (p >> 13)) >> 25
    var2 = (p8 * p) >> 19
    return ((p + var1 + var2) >> 8) + (p7 << 4)


def compensate_humidity(adc_h: int, t_fine: int, cal: Calibration) -> int:
    """Relative humidity in %RH as Q22.10 (divide by 1024): bme280_compensate_H_int32 (datasheet 4.2.3)."""
    v = t_fine - 76800
    x = (((adc_h << 14) - (cal.h4 << 20) - cal.h5 * v) + 16384) >> 15
    x *= ((((((v * cal.h6) >> 10) * (((v * cal.h3) >> 11) + 32768)) >> 10) + 2097152) * cal.h2 + 8192) >> 14
    x -= ((((x >> 15) * (x >> 15)) >> 7) * cal.h1) >> 4
    return min(max(x, 0), 419430400) >> 12


class Bme280:
    """A BME280 (`chip="bme280"`, id 0x60) or BMP280 (`chip="bmp280"`, id 0x58/0x56/0x57) at `address`."""

    def __init__(self, bus: I2cBus, address: int = 0x76, *, chip: str = "bme280") -> None:
        if chip not in ("bme280", "bmp280"):
            raise DeviceError(f"unknown Bosch chip {chip!r}: expected 'bme280' or 'bmp280'")
        self._bus, self.address, self.chip = bus, address, chip
        self._where = f"{chip.upper()} at {bus.name} 0x{address:02x}"
        self.humidity = chip == "bme280"
        self._check_id(bus.read_byte_data(address, CHIP_ID))
        low = bus.read_block(address, CALIB_LOW, CALIB_LOW_LENGTH)
        high = bus.read_block(address, CALIB_HIGH, CALIB_HIGH_LENGTH) if self.humidity else None
        self._calibration = parse_calibration(low, high)
        # Sleep mode first: config writes may be ignored in normal mode (datasheet 5.4.6). No IIR filter.
        bus.write_byte_data(address, CTRL_MEAS, 0x00)
        bus.write_byte_data(address, CONFIG, 0x00)
        if self.humidity:
            bus.write_byte_data(address, CTRL_HUM, OVERSAMPLING_X1)
        self._ctrl_meas = OVERSAMPLING_X1 << 5 | OVERSAMPLING_X1 << 2 | FORCED

    def _check_id(self, found: int) -> None:
        expected = (BME280_ID,) if self.humidity else BMP280_IDS
        if found in expected:
            return
        names = {BME280_ID: "a BME280", **dict.fromkeys(BMP280_IDS, "a BMP280")}
        what = names.get(found, "not a Bosch BMx280")
        raise DeviceError(
            f"{self._where}: chip id 0x{found:02x} ({what}), expected 0x{expected[0]:02x}"
            + (" (configure chip: bmp280)" if found in BMP280_IDS else "")
            + (" (configure chip: bme280)" if found == BME280_ID else "")
        )

    def sample(self) -> dict[str, float]:
        """One forced measurement: temperature °C, pressure hPa and (BME280) humidity %."""
        length = 8 if self.humidity else 6
        with self._bus.locked():
            self._bus.write_byte_data(self.address, CTRL_MEAS, self._ctrl_meas)
            time.sleep(MEASUREMENT_TIME)
            self._wait_ready()
            data = self._bus.read_block(self.address, DATA, length)
        return self._compensate(data)

    def _wait_ready(self) -> None:
        for _ in range(STATUS_POLLS):
            if not self._bus.read_byte_data(self.address, STATUS) & MEASURING:
                return
            time.sleep(POLL_INTERVAL)
        raise DeviceError(f"{self._where}: the measurement did not finish (status 'measuring' stays set)")

    def _compensate(self, data: bytes) -> dict[str, float]:
        adc_p = data[0] << 12 | data[1] << 4 | data[2] >> 4
        adc_t = data[3] << 12 | data[4] << 4 | data[5] >> 4
        if SKIPPED_20BIT in (adc_t, adc_p):
            raise DeviceError(f"{self._where}: no measurement in the data registers (chip reset?)")
        centi, t_fine = compensate_temperature(adc_t, self._calibration)
        values = {"temperature": centi / 100, "pressure": compensate_pressure(adc_p, t_fine, self._calibration) / 25600}
        if self.humidity:
            adc_h = data[6] << 8 | data[7]
            if adc_h == SKIPPED_16BIT:
                raise DeviceError(f"{self._where}: no humidity measurement in the data registers (chip reset?)")
            values["humidity"] = compensate_humidity(adc_h, t_fine, self._calibration) / 1024
        return values

    def close(self) -> None:
        """Nothing to release: the chip sleeps between forced measurements and the bus belongs to the caller."""
