"""SerialPort on real pyserial over a real pseudo-terminal: I/O, timeouts, and one DeviceError per failure."""

from __future__ import annotations

import errno
import os
import select
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.devices.uart.port import SerialPort, describe_error
from gateway.errors import DeviceError

pytestmark = pytest.mark.timeout(30)


class Pty:
    """A raw pty pair: the test plays the device at `master`; SerialPort opens `path`."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)

    def received(self, size: int) -> bytes:
        """`size` bytes the port wrote, waiting for them (at most 5 s)."""
        data = b""
        deadline = time.monotonic() + 5
        while len(data) < size and select.select([self.master], [], [], deadline - time.monotonic())[0]:
            data += os.read(self.master, size - len(data))
        return data

    def close(self) -> None:
        for fd in (self.master, self.slave):
            os.close(fd)


@pytest.fixture
def pty() -> Iterator[Pty]:
    pair = Pty()
    yield pair
    pair.close()


@pytest.fixture
def port(pty: Pty) -> Iterator[SerialPort]:
    opened = SerialPort(pty.path, 9600, 0.2)
    yield opened
    opened.close()


def test_write_reaches_the_device(port: SerialPort, pty: Pty) -> None:
    """Bytes written to the port arrive unchanged at the other end (raw: 0x0A is not turned into CR LF)."""
    port.write(b"\xff\x01\x86\x0a\x0d\x00")
    assert pty.received(6) == b"\xff\x01\x86\x0a\x0d\x00"


def test_read_returns_what_the_device_sent(port: SerialPort, pty: Pty) -> None:
    """read(n) returns the n bytes the device sent, 8-bit clean."""
    os.write(pty.master, b"\x42\x4d\x0d\x11\x13\xff")
    assert port.read(6) == b"\x42\x4d\x0d\x11\x13\xff"


def test_read_of_a_silent_device_returns_what_came_within_the_timeout(port: SerialPort, pty: Pty) -> None:
    """A read waits at most its timeout, then returns the bytes received so far (maybe none)."""
    os.write(pty.master, b"\x42")
    started = time.monotonic()
    assert port.read(32, timeout=0.1) == b"\x42"
    assert port.read(32) == b""  # the port's own timeout, 0.2 s
    assert time.monotonic() - started < 5  # bounded, with room for a loaded machine


def test_reset_input_buffer_discards_the_backlog(port: SerialPort, pty: Pty) -> None:
    """reset_input_buffer() drops what was received before it; later bytes are read."""
    os.write(pty.master, b"stale")
    port.reset_input_buffer()
    os.write(pty.master, b"fresh")
    assert port.read(5) == b"fresh"


def test_close_is_idempotent_and_later_use_is_a_device_error(pty: Pty) -> None:
    """close() twice is fine; reading, writing or flushing a closed port is a DeviceError naming the device."""
    opened = SerialPort(pty.path, 9600, 0.2)
    opened.close()
    opened.close()
    for use in (lambda: opened.read(1), lambda: opened.write(b"x"), opened.reset_input_buffer):
        with pytest.raises(DeviceError, match=rf"^{pty.path}: the port is closed"):
            use()


def test_missing_device_says_how_to_enable_the_uart(tmp_path: Path) -> None:
    """A device path that does not exist: ENOENT, with the config.txt and raspi-config fix, chained."""
    missing = tmp_path / "ttyAMA0"
    with pytest.raises(DeviceError, match=rf"^{missing}: ENOENT \({missing} does not exist") as info:
        SerialPort(missing, 9600, 0.2)
    assert "enable_uart=1" in str(info.value)
    assert "raspi-config" in str(info.value)
    assert isinstance(info.value.__cause__, OSError)  # pyserial's SerialException, with errno set


def test_permission_denied_says_to_join_dialout() -> None:
    """EACCES at open (pyserial's SerialException is an OSError with errno) names the 'dialout' group."""
    exc = OSError(errno.EACCES, "could not open port /dev/ttyS0: [Errno 13] Permission denied")
    message = describe_error("/dev/ttyS0", exc)
    assert message.startswith("/dev/ttyS0: EACCES (permission denied: add the user to the 'dialout' group")


def test_not_a_serial_port(tmp_path: Path) -> None:
    """A plain file is not a tty: ENOTTY from the terminal settings, found under pyserial's own exception."""
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    with pytest.raises(DeviceError, match=rf"^{plain}: ENOTTY \(not a serial port"):
        SerialPort(plain, 9600, 0.2)


def test_a_second_opener_is_refused(port: SerialPort, pty: Pty) -> None:
    """The port is opened exclusively: a second SerialPort on it fails, naming the other process."""
    with pytest.raises(DeviceError, match=rf"^{pty.path}: EAGAIN \(the port is in use by another process"):
        SerialPort(pty.path, 9600, 0.2)


def test_a_vanished_device_is_a_device_error() -> None:
    """The other end going away (a USB adapter unplugged) makes the next read a DeviceError, not a hang."""
    pair = Pty()
    opened = SerialPort(pair.path, 9600, 0.2)
    pair.close()
    try:
        with pytest.raises(DeviceError, match=rf"^{pair.path}: "):
            opened.read(1, timeout=5)
    finally:
        opened.close()
