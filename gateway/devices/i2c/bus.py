"""One Linux I2C adapter (`/dev/i2c-N`) opened with smbus2, with the few transfers our chip drivers need.

Every transfer is one ioctl, i.e. one I2C transaction ending in a STOP; the kernel serialises ioctls per adapter,
so a single transfer is atomic. A driver's "command, wait, read" sequence is not: it holds `bus.locked()`, one
re-entrant lock per bus number shared by every `I2cBus` of that number in the process (`bus_lock(n)`).

Addresses are selected with I2C_SLAVE only, never I2C_SLAVE_FORCE: an address bound to a kernel driver
(a dtoverlay) is refused with EBUSY instead of being read behind the kernel's back.

Every OSError is translated here, once, into a DeviceError naming the bus, the address and the errno.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from smbus2 import SMBus, i2c_msg

from gateway.errors import DeviceError

_LOCKS: dict[int, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()

# What each errno means on an I2C adapter (i2c-dev and the bcm2835/designware bus drivers).
_EXPLANATIONS: dict[int, str] = {
    errno.ENXIO: "no device answered at this address",
    errno.EREMOTEIO: "the device did not acknowledge (NACK): check wiring, address and power",
    errno.EBUSY: "the address is in use by a kernel driver (a dtoverlay?)",
    errno.ETIMEDOUT: "bus timeout: SDA/SCL held low or clock stretched too long",
    errno.EAGAIN: "bus arbitration lost",
    errno.EIO: "I/O error on the bus",
    errno.EACCES: "permission denied: add the user to the 'i2c' group",
    errno.EPERM: "permission denied: add the user to the 'i2c' group",
    errno.EOPNOTSUPP: "the adapter does not support this transfer",
}
_NOT_ENABLED = (
    "I2C is not enabled: set dtparam=i2c_arm=on in config.txt (or raspi-config > Interface Options > I2C) "
    "and reboot, or load the i2c-dev module"
)


def bus_lock(number: int) -> threading.RLock:
    """The lock shared by every I2cBus of bus `number` in this process.

    Re-entrant because each transfer takes it too: a driver holding it across a sequence re-enters it.
    """
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(number, threading.RLock())


def describe_os_error(bus_name: str, address: int | None, exc: OSError) -> str:
    """'i2c-1 0x76: ENXIO (no device answered at this address)' for an OSError of a transfer or of opening."""
    where = bus_name if address is None else f"{bus_name} 0x{address:02x}"
    code = exc.errno if exc.errno is not None else 0
    name = errno.errorcode.get(code, f"errno {code}")
    if code == errno.ENOENT:
        return f"{where}: ENOENT ({exc.filename or bus_name} does not exist: {_NOT_ENABLED})"
    return f"{where}: {name} ({_EXPLANATIONS.get(code, exc.strerror or 'error')})"


class I2cBus:
    """`/dev/i2c-<number>` under `dev_root`, opened once; DeviceError for any failure."""

    def __init__(self, number: int, dev_root: Path = Path("/dev")) -> None:
        self.number = number
        self.name = f"i2c-{number}"
        self.path = dev_root / self.name
        self._lock = bus_lock(number)
        smbus = SMBus()
        try:
            smbus.open(str(self.path))
        except OSError as exc:
            smbus.close()
            raise DeviceError(describe_os_error(self.name, None, exc)) from exc
        self._smbus: SMBus | None = smbus

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the bus across several transfers (command, wait, read) so no other user interleaves."""
        with self._lock:
            yield

    def read_byte_data(self, address: int, register: int) -> int:
        """One register byte (SMBus read byte data)."""
        with self._transfer(address) as smbus:
            return smbus.read_byte_data(address, register)

    def write_byte_data(self, address: int, register: int, value: int) -> None:
        """Write one register byte (SMBus write byte data)."""
        with self._transfer(address) as smbus:
            smbus.write_byte_data(address, register, value)

    def read_block(self, address: int, register: int, length: int) -> bytes:
        """`length` bytes from `register` on: the register write then a repeated-start read, one transaction."""
        write, read = i2c_msg.write(address, [register]), i2c_msg.read(address, length)
        with self._transfer(address) as smbus:
            smbus.i2c_rdwr(write, read)
        return bytes(read)

    def write_bytes(self, address: int, data: bytes | list[int]) -> None:
        """A plain I2C write of `data` (a command, or a register pointer and its value)."""
        message = i2c_msg.write(address, bytes(data))
        with self._transfer(address) as smbus:
            smbus.i2c_rdwr(message)

    def read_bytes(self, address: int, length: int) -> bytes:
        """A plain I2C read of `length` bytes (no register pointer written first)."""
        message = i2c_msg.read(address, length)
        with self._transfer(address) as smbus:
            smbus.i2c_rdwr(message)
        return bytes(message)

    def close(self) -> None:
        """Close the file descriptor; idempotent."""
        with self._lock:
            smbus, self._smbus = self._smbus, None
            if smbus is not None:
                smbus.close()

    @contextmanager
    def _transfer(self, address: int) -> Iterator[SMBus]:
        """The open SMBus under the bus lock; an OSError inside becomes a DeviceError naming bus and address."""
        with self._lock:
            if self._smbus is None:
                raise DeviceError(f"{self.name} 0x{address:02x}: the bus is closed")
            try:
                yield self._smbus
            except OSError as exc:
                raise DeviceError(describe_os_error(self.name, address, exc)) from exc
