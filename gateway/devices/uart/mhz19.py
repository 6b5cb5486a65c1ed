"""Winsen MH-Z19B/MH-Z19C NDIR CO2 sensor, read by command over its UART.

Reference: Winsen MH-Z19B user manual (V1.0), "Communication protocol": 9600 8N1; 9-byte commands and answers
starting with 0xFF, checksum in byte 8 = (0xFF - (byte1 + ... + byte7)) + 1, modulo 256. Command 0x86 reads the
concentration (answer FF 86 HIGH LOW ... , CO2 = HIGH*256 + LOW ppm); command 0x79 with byte 3 = 0xA0/0x00 turns
the automatic baseline correction (ABC, "self-calibration for zero point") on/off and has no answer.
"""

from __future__ import annotations

import time
from pathlib import Path

from gateway.devices.uart.port import Port, SerialPort
from gateway.errors import DeviceError

BAUDRATE = 9600
PACKET_LENGTH = 9
START = 0xFF
SENSOR = 0x01  # byte 1 of a command ("reserved" in the manual, always 0x01)
READ_CO2 = 0x86
SET_ABC = 0x79
ABC_ON, ABC_OFF = 0xA0, 0x00
BAD_DATA_BUDGET = 2 * PACKET_LENGTH  # bytes skipped before an answer starts, at most
DEFAULT_TIMEOUT = 1.0  # the sensor answers within a few ms; its readings change every 5 s


def checksum(packet: bytes) -> int:
    """The manual's getCheckSum(): 0xFF minus the sum of bytes 1..7, plus 1, as one byte."""
    return (0xFF - (sum(packet[1:8]) & 0xFF) + 1) & 0xFF


def command(code: int, data: bytes = b"") -> bytes:
    """The 9-byte command `code` with up to 5 data bytes (3..7) and its checksum."""
    body = bytes([START, SENSOR, code]) + data.ljust(5, b"\x00")
    return body + bytes([checksum(body)])


class Mhz19:
    """An MH-Z19B/C on `port`; `sample()` gives carbon_dioxide in ppm.

    `abc=True/False` turns the automatic baseline correction on/off at open (it assumes the sensor sees fresh
    air, ~400 ppm, once a day; off for a greenhouse or a room never aired); None leaves the sensor's setting.
    """

    def __init__(self, port: Port, *, timeout: float = DEFAULT_TIMEOUT, abc: bool | None = None) -> None:
        self._port = port
        self.timeout = timeout
        self.where = f"MH-Z19 on {port.name}"
        if abc is not None:
            port.write(command(SET_ABC, bytes([ABC_ON if abc else ABC_OFF])))

    @classmethod
    def open(cls, device: str | Path, *, timeout: float = DEFAULT_TIMEOUT, abc: bool | None = None) -> Mhz19:
        """The sensor on serial `device` (e.g. /dev/serial0) at 9600 8N1; the port is closed if set-up fails."""
        port = SerialPort(device, BAUDRATE, timeout)
        try:
            return cls(port, timeout=timeout, abc=abc)
        except DeviceError:
            port.close()
            raise

    def sample(self) -> dict[str, float]:
        """Send the read command and decode its answer: {"carbon_dioxide": ppm}."""
        self._port.reset_input_buffer()  # a late answer to an earlier command must not pass for this one's
        self._port.write(command(READ_CO2))
        answer = self._read_answer()
        if answer[8] != checksum(answer):
            raise DeviceError(
                f"{self.where}: bad checksum in answer {answer.hex(' ')} (expected 0x{checksum(answer):02x})"
            )
        return {"carbon_dioxide": float(answer[2] * 256 + answer[3])}

    def _read_answer(self) -> bytes:
        """The 9 bytes from the first FF 86 on, skipping what comes before (bounded); DeviceError on silence."""
        buffer = bytearray()
        skipped = 0
        deadline = time.monotonic() + self.timeout
        while (left := deadline - time.monotonic()) > 0:
            buffer += self._port.read(PACKET_LENGTH - len(buffer), timeout=left)
            start = _answer_start(buffer)
            skipped += start
            del buffer[:start]
            if len(buffer) == PACKET_LENGTH:
                return bytes(buffer)
            if skipped > BAD_DATA_BUDGET:
                raise DeviceError(f"{self.where}: no answer in {skipped} bytes received (wrong baud rate?)")
        if buffer or skipped:
            got = f"{len(buffer)} of {PACKET_LENGTH} bytes" + (f" after {skipped} skipped" if skipped else "")
            raise DeviceError(f"{self.where}: incomplete answer within {self.timeout:g} s ({got}: {buffer.hex(' ')})")
        raise DeviceError(
            f"{self.where}: no answer within {self.timeout:g} s (check the 5 V supply and the crossed wires: "
            "sensor TX to the Pi's RX, sensor RX to the Pi's TX)"
        )

    def close(self) -> None:
        """Close the port; idempotent."""
        self._port.close()


def _answer_start(buffer: bytearray) -> int:
    """Where FF 86 starts in `buffer` (a trailing FF may be its first half); len(buffer) if nowhere."""
    start = buffer.find(bytes([START, READ_CO2]))
    if start >= 0:
        return start
    return len(buffer) - 1 if buffer.endswith(bytes([START])) else len(buffer)
