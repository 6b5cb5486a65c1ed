"""Plantower PMS5003 particulate matter sensor (also PMS7003 and PMSA003: the same 32-byte frame), in active mode.

Reference: Plantower PMS5003 data manual (2016), "Appendix I: transport protocol - active mode": 9600 8N1; a frame
is 0x42 0x4D, the frame length 2*13+2 = 28 (big-endian), 13 big-endian 16-bit data words, then the checksum: the
sum of bytes 0..29, big-endian. Data 1-3 are PM1.0/PM2.5/PM10 "CF=1, standard particle" (for factory use), data
4-6 the same "under atmospheric environment" (what we publish), data 7-12 particle counts per 0.1 L, data 13
reserved. The sensor streams a frame every 200-800 ms ("fast") to 2.3 s ("stable"), hence the 3 s default timeout.
Data is stable 30 s after power-on or wake-up ("at least 30 seconds" of fan time), hence the warm-up.

Freshness: `sample()` first discards the input backlog (tcflush). A tty buffers 4 KiB - two minutes of frames -
and once full it drops the newest bytes, so the last frame of a backlog can be minutes old; after the flush, the
first valid frame was sent after `sample()` began.
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gateway.devices.uart.port import Port, SerialPort
from gateway.errors import DeviceError

BAUDRATE = 9600
START = b"\x42\x4d"
FRAME_LENGTH = 32
LENGTH_FIELD = 2 * 13 + 2  # 13 data words + the checksum
BAD_DATA_BUDGET = 3 * FRAME_LENGTH  # bytes of garbage or bad frames tolerated before giving up
DEFAULT_TIMEOUT = 3.0  # > the 2.3 s period of stable mode
DEFAULT_WARMUP = 30.0
_FRAME = struct.Struct(">2sH13HH")


@dataclass(frozen=True)
class Frame:
    """One decoded frame: concentrations in µg/m³, particle counts per 0.1 L of air."""

    standard: tuple[int, int, int]  # PM1.0, PM2.5, PM10 at CF=1 ("standard particle")
    atmospheric: tuple[int, int, int]  # PM1.0, PM2.5, PM10 "under atmospheric environment"
    counts: tuple[int, int, int, int, int, int]  # > 0.3, 0.5, 1.0, 2.5, 5.0, 10 µm
    reserved: int


def checksum(frame: bytes) -> int:
    """The datasheet checksum: the sum of bytes 0..29 (start characters to data 13), as 16 bits."""
    return sum(frame[: FRAME_LENGTH - 2]) & 0xFFFF


def decode(frame: bytes) -> Frame | None:
    """The frame in these 32 bytes, or None if the start, the length field or the checksum is wrong."""
    if len(frame) != FRAME_LENGTH:
        return None
    start, length, *data, check = _FRAME.unpack(frame)
    if start != START or length != LENGTH_FIELD or check != checksum(frame):
        return None
    return Frame(
        standard=(data[0], data[1], data[2]),
        atmospheric=(data[3], data[4], data[5]),
        counts=(data[6], data[7], data[8], data[9], data[10], data[11]),
        reserved=data[12],
    )


class FrameScanner:
    """Finds frames in a byte stream: skips garbage up to a start, waits for split frames, rejects bad ones."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.discarded = 0  # bytes skipped: garbage, and the first byte of every rejected frame
        self.rejected = 0  # candidates with a start but a wrong length field or checksum

    def feed(self, data: bytes) -> Frame | None:
        """Add received bytes; the first complete valid frame, consumed from the buffer, or None yet."""
        self.buffer += data
        while True:
            self._skip_to_start()
            if len(self.buffer) >= 4 and self.buffer[2:4] != LENGTH_FIELD.to_bytes(2, "big"):
                self._reject()  # a false start or another model's frame: no need to wait for 32 bytes
                continue
            if len(self.buffer) < FRAME_LENGTH:
                return None
            frame = decode(bytes(self.buffer[:FRAME_LENGTH]))
            if frame is not None:
                del self.buffer[:FRAME_LENGTH]
                return frame
            self._reject()

    def missing(self) -> int:
        """How many more bytes the frame being received needs (a whole frame when none is)."""
        return FRAME_LENGTH - len(self.buffer)

    def _skip_to_start(self) -> None:
        start = self.buffer.find(START)
        if start < 0:  # keep a trailing 0x42: it may be the first half of a start split across reads
            start = len(self.buffer) - 1 if self.buffer.endswith(START[:1]) else len(self.buffer)
        self.discarded += start
        del self.buffer[:start]

    def _reject(self) -> None:
        # Drop only the 0x42: a real frame may start inside a truncated one.
        self.rejected += 1
        self.discarded += 1
        del self.buffer[:1]


class Pms5003:
    """A PMS5003/PMS7003/PMSA003 in active mode on `port`; `sample()` gives pm1, pm25, pm10 (atmospheric).

    `warmup` seconds after opening (by `clock`), `sample()` raises a DeviceError instead of reading: the
    datasheet's data is not stable before. `timeout` bounds the wait for a valid frame (real time, not `clock`).
    """

    def __init__(
        self,
        port: Port,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        warmup: float = DEFAULT_WARMUP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._port = port
        self.timeout = timeout
        self.warmup = warmup
        self._clock = clock
        self._opened_at = clock()
        self.where = f"PMS5003 on {port.name}"
        self.last_frame: Frame | None = None  # with the CF=1 values and counts, for diagnostics
        self.skipped = 0  # bytes skipped in all samples (garbage, rejected frames)
        self.rejected = 0  # frames rejected in all samples (a wrong length field or checksum)

    @classmethod
    def open(
        cls,
        device: str | Path,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        warmup: float = DEFAULT_WARMUP,
        clock: Callable[[], float] = time.monotonic,
    ) -> Pms5003:
        """The sensor on serial `device` (e.g. /dev/serial0) at 9600 8N1."""
        return cls(SerialPort(device, BAUDRATE, timeout), timeout=timeout, warmup=warmup, clock=clock)

    def sample(self) -> dict[str, float]:
        """The atmospheric PM1.0, PM2.5 and PM10 of the first frame sent after this call began, in µg/m³."""
        left = self.warmup - (self._clock() - self._opened_at)
        if left > 0:
            raise DeviceError(f"{self.where}: warming up ({math.ceil(left)} s left)")
        self._port.reset_input_buffer()
        frame = self._read_frame()
        self.last_frame = frame
        pm1, pm25, pm10 = frame.atmospheric
        return {"pm1": float(pm1), "pm25": float(pm25), "pm10": float(pm10)}

    def _read_frame(self) -> Frame:
        scanner = FrameScanner()
        try:
            return self._scan(scanner)
        finally:
            self.skipped += scanner.discarded
            self.rejected += scanner.rejected

    def _scan(self, scanner: FrameScanner) -> Frame:
        deadline = time.monotonic() + self.timeout  # real time: the bytes arrive in real time
        received = 0
        while (left := deadline - time.monotonic()) > 0:
            # Ask for exactly what completes the current frame: never read past it, never wait for more.
            data = self._port.read(scanner.missing(), timeout=left)
            received += len(data)
            frame = scanner.feed(data)
            if frame is not None:
                return frame
            if scanner.discarded > BAD_DATA_BUDGET:
                raise DeviceError(f"{self.where}: no valid frame in {scanner.discarded} bytes{_why(scanner)}")
        if received == 0:
            raise DeviceError(
                f"{self.where}: no frame within {self.timeout:g} s (no data: check the 5 V supply, the sensor's "
                "TX to the Pi's RX, and that SET is not held low, which puts the sensor to sleep)"
            )
        raise DeviceError(f"{self.where}: no complete frame within {self.timeout:g} s{_why(scanner)}")

    def close(self) -> None:
        """Close the port; idempotent."""
        self._port.close()


def _why(scanner: FrameScanner) -> str:
    return (
        f" ({scanner.discarded} bytes skipped, {scanner.rejected} bad frames: wrong baud rate, a noisy line, "
        "or not a PMS5003/PMS7003/PMSA003?)"
    )
