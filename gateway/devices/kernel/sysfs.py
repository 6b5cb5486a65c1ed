"""Reading one sysfs attribute, and what its errno means.

Every read of the kernel route goes through a `Reader` (default `read_attribute`), so a test can stand a fake in
front of it that raises `OSError(errno.EIO, ...)` for chosen paths: a plain file cannot return an errno.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path

from gateway.errors import DeviceError

Reader = Callable[[Path], str]

SYS = Path("/sys")

# The device (or its driver) went away under us: the files vanished (ENOENT) or the driver is unbinding (ENODEV).
GONE = frozenset({errno.ENOENT, errno.ENODEV})


def read_attribute(path: Path) -> str:
    """The text of one sysfs attribute (one short read, as the kernel serves it); OSError as raised."""
    # One read() of a page: a sysfs attribute is produced whole by one show() call.
    with path.open("rb", buffering=0) as handle:
        return handle.read(4096).decode("ascii", errors="replace")


def errno_name(number: int | None) -> str:
    """`EIO` for errno.EIO (the number itself when unknown)."""
    if number is None:
        return "no errno"
    return errno.errorcode.get(number, str(number))


def device_error(path: Path, exc: OSError) -> DeviceError:
    """A DeviceError naming the file and the errno (the caller raises it `from exc`)."""
    reason = exc.strerror or os.strerror(exc.errno or 0)
    return DeviceError(f"{path}: {errno_name(exc.errno)} ({reason})")


def parse_decimal(path: Path, text: str) -> Decimal:
    """The number in a sysfs attribute ("23125\\n", "0.125000000\\n"); DeviceError for an empty or garbled one."""
    stripped = text.strip()
    try:
        return Decimal(stripped)
    except InvalidOperation:
        # Some drivers (w1_therm) answer a failed read with an empty file instead of an errno.
        shown = repr(stripped) if stripped else "nothing"
        raise DeviceError(f"{path}: read {shown}, not a number") from None
