"""A chip read through its kernel driver's sysfs files: the `Chip` of the kernel route.

Reads are blocking file reads; the caller runs `sample()` off the event loop.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gateway.devices.kernel.channels import Channel, OpenChannel, open_channel
from gateway.devices.kernel.locate import Locator, locate
from gateway.devices.kernel.sysfs import GONE, Reader, device_error, read_attribute
from gateway.errors import DeviceError


@dataclass(frozen=True)
class RetryPolicy:
    """How a chip family fails: which errnos are worth another try, and how many more tries one sample gets."""

    retries: int = 0
    transient: frozenset[int] = field(default_factory=frozenset)


# An I2C chip that is busy or not ready yet (a measurement in progress) answers this; one more try is cheap.
I2C_POLICY = RetryPolicy(retries=1, transient=frozenset({errno.EAGAIN, errno.EBUSY, errno.ENODATA, errno.EIO}))
# dht11.c fails a read with -ETIMEDOUT ("Only %d signal edges detected") or -EIO (checksum, lost sync) routinely.
DHT_POLICY = RetryPolicy(retries=2, transient=frozenset({errno.EIO, errno.ETIMEDOUT}))


class _ReadFailedError(Exception):
    """An OSError on one file, carried up with its path."""

    def __init__(self, path: Path, cause: OSError) -> None:
        super().__init__(str(path))
        self.path = path
        self.cause = cause


class KernelChip:
    """Samples every configured channel of one kernel device, re-locating it once if it vanished (driver rebind)."""

    def __init__(
        self,
        root: Path,
        locator: Locator,
        channels: Sequence[Channel],
        *,
        policy: RetryPolicy = I2C_POLICY,
        reader: Reader = read_attribute,
    ) -> None:
        if not channels:
            raise DeviceError(f"{locator}: no channels to read")
        self._root = root
        self._locator = locator
        self._channels = tuple(channels)
        self._policy = policy
        self._read = reader
        self._closed = False
        self._stale = False  # an error happened: re-read scales and offsets before the next value
        self._open: list[OpenChannel] = self._resolve()

    @property
    def device(self) -> Path:
        """Today's device directory (changes when the device is re-located)."""
        return self._open[0].value_path.parent

    def sample(self) -> dict[str, float]:
        """One value of every channel in our units, by quantity (or channel key); DeviceError when it cannot."""
        if self._closed:
            raise DeviceError(f"{self._locator}: sampled after close")
        try:
            return self._sample_with_retries()
        except _ReadFailedError as failure:
            if failure.cause.errno not in GONE:
                raise device_error(failure.path, failure.cause) from failure.cause
            self._relocate(failure)
        try:
            return self._sample_with_retries()
        except _ReadFailedError as failure:
            raise device_error(failure.path, failure.cause) from failure.cause

    def close(self) -> None:
        """Nothing is held open between reads; later samples fail. Idempotent."""
        self._closed = True

    def _resolve(self) -> list[OpenChannel]:
        device = locate(self._locator, self._root, self._read)
        opened = [open_channel(channel, device) for channel in self._channels]
        for channel in opened:
            try:
                channel.load_calibration(self._read)
            except OSError as exc:
                raise device_error(channel.scale_path or channel.value_path, exc) from exc
        return opened

    def _relocate(self, failure: _ReadFailedError) -> None:
        """The files vanished: find the device again (it may come back as another iio:deviceN)."""
        try:
            self._open = self._resolve()
        except DeviceError as exc:
            raise DeviceError(f"{device_error(failure.path, failure.cause)}; and again: {exc}") from failure.cause

    def _sample_with_retries(self) -> dict[str, float]:
        for attempt in range(self._policy.retries + 1):
            try:
                values = self._sample_once()
            except _ReadFailedError as failure:
                self._stale = True
                errno_ = failure.cause.errno
                if errno_ in GONE or errno_ not in self._policy.transient or attempt == self._policy.retries:
                    raise
            else:
                self._stale = False
                return values
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _sample_once(self) -> dict[str, float]:
        values: dict[str, float] = {}
        for channel in self._open:
            if self._stale:
                try:
                    channel.load_calibration(self._read)
                except OSError as exc:
                    raise _ReadFailedError(channel.scale_path or channel.value_path, exc) from exc
            try:
                values[channel.channel.report_as] = channel.read(self._read)
            except OSError as exc:
                raise _ReadFailedError(channel.value_path, exc) from exc
        return values
