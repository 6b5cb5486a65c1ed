"""One serial port (`/dev/serial0`, `/dev/ttyAMA0`, `/dev/ttyUSB0`) opened with pyserial, 8N1, raw, exclusive.

Every pyserial or OS failure is translated here, once, into a DeviceError naming the device, the errno and the fix.
Reads block for at most their timeout: drivers run on worker threads, never on the event loop, and never hang.
The port is locked per operation, so a `close()` from another thread waits for a read in progress to finish.
"""

from __future__ import annotations

import errno
import termios
import threading
from pathlib import Path
from typing import Protocol

import serial  # type: ignore[import-untyped,unused-ignore]  # types-pyserial is optional

from gateway.errors import DeviceError

_NOT_ENABLED = (
    "the UART is not enabled: set enable_uart=1 in config.txt and turn the serial console off "
    "(raspi-config > Interface Options > Serial Port: login shell No, hardware Yes), then reboot"
)
_DIALOUT = "permission denied: add the user to the 'dialout' group (sudo usermod -aG dialout $USER) and log in again"
_EXPLANATIONS: dict[int, str] = {
    errno.EACCES: _DIALOUT,
    errno.EPERM: _DIALOUT,
    errno.EAGAIN: "the port is in use by another process (it holds the exclusive lock)",
    errno.EBUSY: "the port is in use by another process",
    errno.ENOTTY: "not a serial port (the terminal settings cannot be applied)",
    errno.EIO: "I/O error: the device went away (USB adapter unplugged?)",
    errno.ENXIO: "no such device behind this node (USB adapter unplugged?)",
    errno.ENODEV: "no such device behind this node (USB adapter unplugged?)",
}


class Port(Protocol):
    """What the UART drivers need of a port (SerialPort, or a fake in tests)."""

    @property
    def name(self) -> str:
        """The device path, for messages."""

    def read(self, size: int, timeout: float | None = None) -> bytes:
        """Up to `size` bytes, fewer if `timeout` (default: the port's) expires first."""

    def write(self, data: bytes) -> None:
        """Send `data`."""

    def reset_input_buffer(self) -> None:
        """Discard everything received and not yet read."""

    def close(self) -> None:
        """Release the port; idempotent."""


def error_number(exc: BaseException) -> int | None:
    """The errno of a pyserial/OS error, or of the OSError or termios.error it was raised from."""
    for candidate in (exc, exc.__context__, exc.__cause__):
        if isinstance(candidate, OSError) and candidate.errno is not None:
            return candidate.errno
        if isinstance(candidate, termios.error) and candidate.args and isinstance(candidate.args[0], int):
            return candidate.args[0]
    return None


def describe_error(device: str, exc: BaseException) -> str:
    """'/dev/serial0: ENOENT (... not enabled ...)' for a failure to open or use a serial port."""
    code = error_number(exc)
    if code is None:
        return f"{device}: {exc}"
    name = errno.errorcode.get(code, f"errno {code}")
    if code == errno.ENOENT:
        return f"{device}: ENOENT ({device} does not exist: {_NOT_ENABLED})"
    return f"{device}: {name} ({_EXPLANATIONS.get(code, str(exc))})"


class SerialPort:
    """`device` opened at `baudrate` 8N1, no flow control, exclusive; reads wait at most `timeout` seconds."""

    def __init__(self, device: str | Path, baudrate: int, timeout: float) -> None:
        self._name = str(device)
        self.timeout = timeout
        self._lock = threading.Lock()
        try:
            # exclusive: a second reader (another gateway, a stray minicom) would steal bytes and break frames.
            self._serial: serial.Serial | None = serial.Serial(
                self._name, baudrate=baudrate, timeout=timeout, write_timeout=timeout, exclusive=True
            )
        except OSError as exc:  # serial.SerialException is an OSError
            raise DeviceError(describe_error(self._name, exc)) from exc

    @property
    def name(self) -> str:
        """The device path, for messages."""
        return self._name

    def read(self, size: int, timeout: float | None = None) -> bytes:
        """Up to `size` bytes: fewer (maybe none) when `timeout` (default: the port's) expires first."""
        wait = self.timeout if timeout is None else max(timeout, 0.0)
        with self._lock:
            port = self._open()
            try:
                if port.timeout != wait:
                    port.timeout = wait
                return bytes(port.read(size))
            except OSError as exc:
                raise DeviceError(describe_error(self._name, exc)) from exc

    def write(self, data: bytes) -> None:
        """Send `data` (DeviceError if it cannot be queued within the timeout)."""
        with self._lock:
            port = self._open()
            try:
                port.write(data)
            except OSError as exc:  # serial.SerialTimeoutException too
                raise DeviceError(describe_error(self._name, exc)) from exc

    def reset_input_buffer(self) -> None:
        """Discard everything received and not yet read (tcflush TCIFLUSH)."""
        with self._lock:
            port = self._open()
            try:
                port.reset_input_buffer()
            except (OSError, termios.error) as exc:
                raise DeviceError(describe_error(self._name, exc)) from exc

    def close(self) -> None:
        """Close the port; idempotent."""
        with self._lock:
            port, self._serial = self._serial, None
        if port is not None:
            port.close()

    def _open(self) -> serial.Serial:
        if self._serial is None:
            raise DeviceError(f"{self._name}: the port is closed")
        return self._serial
