"""Simulated UART sensors on real pseudo-terminals: the driver opens the pty's slave exactly as /dev/ttyAMA0.

Each simulator holds both ends of an `os.openpty()` pair (the slave set raw, like a UART's line discipline) and
runs on a background thread at the master end: what it writes there is what the sensor's TX would put on the
wire; what the driver writes to the slave arrives there as the sensor's RX. So tests and the demo run our real
SerialPort on real pyserial, with only the chip replaced:

    with SimulatedPms5003(pm1=5, pm25=12, pm10=20) as sim:
        chip = Pms5003.open(sim.path, warmup=0)
        chip.sample()  # {"pm1": 5.0, "pm25": 12.0, "pm10": 20.0}

The master is non-blocking: bytes nobody reads are dropped, as a real UART overruns, so a simulator never blocks.
Fault options are plain attributes, changeable while running; they apply to the next frame or answer.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import struct
import termios
import threading
import time
import tty
from types import TracebackType
from typing import Self

_FLUSHREAD = 0x01  # TIOCPKT_FLUSHREAD: in packet mode, the master learns that the slave flushed its input


class _Stopped(Exception):  # noqa: N818 - a signal, not an error
    """The simulator is stopping."""


class PseudoTerminal:
    """Both ends of a pty pair and a thread serving the master end; `path` is what the driver opens."""

    def __init__(self, *, packet: bool = False) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing, 8-bit clean: what pyserial sets anyway, from the start
        os.set_blocking(master, False)
        if packet:
            fcntl.ioctl(master, termios.TIOCPKT, struct.pack("i", 1))
        self._master, self._slave = master, slave
        self.path = os.ttyname(slave)
        self._wake_r, self._wake_w = os.pipe()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"simulated {self.path}", daemon=True)
        self._closed = False
        self.dropped = 0  # bytes the slave had no room for

    def start(self) -> Self:
        """Start serving on the background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close both ends (a driver still open on the slave then reads EIO); idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join()
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            os.close(fd)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def send(self, data: bytes) -> None:
        """Put `data` on the sensor's TX line (what the slave does not take now is lost, as on a UART)."""
        try:
            written = os.write(self._master, data)
        except BlockingIOError:
            written = 0
        self.dropped += len(data) - written

    def pause(self, seconds: float) -> None:
        """Wait `seconds` on the simulator's thread, cut short by stop()."""
        if self._stopping.wait(seconds):
            raise _Stopped

    def receive(self, timeout: float | None) -> bytes | None:
        """What the master end reads next (in packet mode with its status byte first); None after `timeout`."""
        ready, _, _ = select.select([self._master, self._wake_r], [], [], timeout)
        if self._stopping.is_set():
            raise _Stopped
        if not ready:
            return None
        try:
            return os.read(self._master, 4096)
        except BlockingIOError:
            return None

    def _serve(self) -> None:
        with contextlib.suppress(_Stopped):
            self.serve()

    def serve(self) -> None:
        """The simulator's loop; returns or raises _Stopped when stopping."""
        raise NotImplementedError


class SimulatedPms5003(PseudoTerminal):
    """A PMS5003 in active mode: a frame every `interval` seconds (None: none on a timer), and, with
    `answer_flush`, one right after the driver flushes its input - no real sensor does that, but it puts a frame
    (and the faults set before it) right after `sample()`'s flush, so tests and the demo never wait a period.

    Concentrations are in µg/m³ (rounded), `standard` are the CF=1 fields (default: the atmospheric values, as
    the sensor gives below ~30 µg/m³), `counts` the six particle counts per 0.1 L.
    `raw` replaces the built frame with given bytes (a captured frame). Faults, each applied to every frame
    written: `garbage` bytes before it; `corrupt` frames with a wrong checksum (and junk values) before it;
    `split` seconds of pause halfway through it; `silent`: nothing at all.
    """

    def __init__(
        self,
        pm1: float = 5.0,
        pm25: float = 12.0,
        pm10: float = 20.0,
        *,
        interval: float | None = 1.0,
        answer_flush: bool = True,
    ) -> None:
        super().__init__(packet=True)
        self.pm1, self.pm25, self.pm10 = pm1, pm25, pm10
        self.standard: tuple[float, float, float] | None = None
        self.counts: tuple[int, int, int, int, int, int] = (0, 0, 0, 0, 0, 0)
        self.interval = interval
        self.answer_flush = answer_flush
        self.raw: bytes | None = None  # written instead of the built frame (a captured frame, replayed)
        self.garbage = b""
        self.corrupt = 0
        self.split: float | None = None
        self.silent = False
        self.frames_sent = 0
        self.flushes = 0
        self.received = bytearray()  # what the driver wrote (passive-mode commands, which this one ignores)

    def frame(self) -> bytes:
        """The current values as a frame, laid out as the datasheet's transport protocol."""
        atmospheric = (self.pm1, self.pm25, self.pm10)
        return build_frame(self.standard or atmospheric, atmospheric, self.counts)

    def serve(self) -> None:
        """Write frames on the timer and after flushes until stopped."""
        next_at = None if self.interval is None else time.monotonic() + self.interval
        while True:
            packet = self.receive(None if next_at is None else max(next_at - time.monotonic(), 0.0))
            if packet is None:
                if next_at is not None and time.monotonic() >= next_at:
                    self.write_frame()
                    next_at = None if self.interval is None else time.monotonic() + self.interval
            elif packet[0] == 0:
                self.received += packet[1:]
            elif packet[0] & _FLUSHREAD:
                self.flushes += 1
                if self.answer_flush:
                    self.write_frame()

    def write_frame(self) -> None:
        """One frame with the faults set now: garbage, corrupt frames, then the good frame, maybe split."""
        if self.silent:
            return
        good = self.frame() if self.raw is None else self.raw
        junk = (self.pm1 + 500, self.pm25 + 500, self.pm10 + 500)
        bad = bytearray(build_frame(junk, junk, self.counts))
        bad[-1] ^= 0x01  # one flipped bit: the checksum no longer matches
        head = self.garbage + bytes(bad) * self.corrupt
        if self.split is None:
            self.send(head + good)  # one write: a flush discards all of it or none
        else:
            half = len(good) // 2
            self.send(head + good[:half])
            self.pause(self.split)
            self.send(good[half:])
        self.frames_sent += 1


def build_frame(
    standard: tuple[float, float, float],
    atmospheric: tuple[float, float, float],
    counts: tuple[int, int, int, int, int, int],
    reserved: int = 0,
) -> bytes:
    """A PMS5003 frame: 42 4D, length 28, the 13 data words, the sum of the 30 bytes before, all big-endian."""
    words = [*(round(v) for v in standard), *(round(v) for v in atmospheric), *counts, reserved]
    body = struct.pack(">BBH13H", 0x42, 0x4D, 2 * 13 + 2, *(min(max(w, 0), 0xFFFF) for w in words))
    return body + struct.pack(">H", sum(body) & 0xFFFF)


class SimulatedMhz19(PseudoTerminal):
    """An MH-Z19B: answers each read command (FF 01 86 ...) with `co2` ppm; records every command and the ABC state.

    Commands with a wrong checksum are ignored (counted in `bad_commands`), as the sensor does.
    Faults, applied to every answer: `garbage` bytes before it; `bad_checksum`; `partial`: only the first N
    bytes of it; `silent`: no answer.
    """

    def __init__(self, co2: float = 600.0, *, abc: bool = True) -> None:
        super().__init__()
        self.co2 = co2
        self.abc = abc  # the B's factory default: on
        self.commands: list[bytes] = []
        self.bad_commands = 0
        self.garbage = b""
        self.bad_checksum = False
        self.partial: int | None = None
        self.silent = False
        self._pending = bytearray()

    def serve(self) -> None:
        """Read commands and answer them until stopped."""
        while True:
            data = self.receive(None)
            if data:
                self._pending += data
                self._handle_commands()

    def answer(self) -> bytes:
        """The answer to a read command for the current concentration: FF 86 HIGH LOW 00 00 00 00 checksum."""
        ppm = min(max(round(self.co2), 0), 0xFFFF)
        body = bytes([0xFF, 0x86, ppm >> 8, ppm & 0xFF, 0, 0, 0, 0])
        return body + bytes([_mhz19_checksum(body)])

    def _handle_commands(self) -> None:
        while True:
            start = self._pending.find(b"\xff")
            del self._pending[: start if start >= 0 else len(self._pending)]
            if len(self._pending) < 9:
                return
            packet = bytes(self._pending[:9])
            if packet[8] != _mhz19_checksum(packet):
                self.bad_commands += 1
                del self._pending[:1]
                continue
            del self._pending[:9]
            self._execute(packet)

    def _execute(self, packet: bytes) -> None:
        self.commands.append(packet)
        if packet[2] == 0x79:
            self.abc = packet[3] == 0xA0
        elif packet[2] == 0x86 and not self.silent:
            answer = bytearray(self.answer())
            if self.bad_checksum:
                answer[8] ^= 0xFF
            self.send(self.garbage + bytes(answer[: self.partial]))


def _mhz19_checksum(packet: bytes) -> int:
    """The manual's checksum, written out again here: the simulator does not trust the driver's code."""
    total = 0
    for byte in packet[1:8]:
        total = (total + byte) & 0xFF
    return (0xFF - total + 1) & 0xFF
