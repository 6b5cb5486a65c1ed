"""A chip that measures several quantities at once, read once per sample, whatever reads it.

Every chip driver (kernel sysfs or our own I2C code) has this shape: `sample()` takes one measurement of every
quantity the chip has and returns them in the units of `gateway.quantities` (°C, %, hPa, lx, V, A, W, ...).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from gateway.errors import DeviceError


class Chip(Protocol):
    """One opened chip."""

    def sample(self) -> Mapping[str, float]:
        """One measurement of each quantity, by quantity name; DeviceError when the chip cannot be read."""

    def close(self) -> None:
        """Release what the chip holds (file descriptors); idempotent."""


class SharedChip:
    """One chip behind several sensor entries: a sample younger than the asker's `max_age` is reused, so a
    chip measuring three quantities is measured once per interval, not three times. A failed sample is
    reused the same way (one failed read, not one per quantity). Thread-safe: entries read on their own threads.
    """

    def __init__(self, chip: Chip, clock: Callable[[], float] = time.monotonic) -> None:
        self._chip = chip
        self._clock = clock
        self._lock = threading.Lock()
        self._taken_at = -math.inf
        self._values: Mapping[str, float] = {}
        self._error: DeviceError | None = None
        self.samples = 0  # measurements taken (for `check` and the tests)

    def sample(self, max_age: float) -> Mapping[str, float]:
        """The chip's latest sample if younger than `max_age` seconds, else a new one; DeviceError if it failed."""
        with self._lock:
            if self._clock() - self._taken_at >= max_age:
                self._take()
            if self._error is not None:  # a fresh error per reader: one exception object is not shared by threads
                raise DeviceError(str(self._error)) from self._error
            return self._values

    def _take(self) -> None:
        self.samples += 1
        try:
            self._values, self._error = self._chip.sample(), None
        except DeviceError as exc:
            self._values, self._error = {}, exc
        self._taken_at = self._clock()

    def close(self) -> None:
        """Close the chip."""
        self._chip.close()


class ChipPool:
    """The open chips of one set of sensors, by chip key, each closed when its last entry is."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._chips: dict[tuple[object, ...], tuple[SharedChip, int]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def acquire(self, key: tuple[object, ...], open_chip: Callable[[], Chip]) -> SharedChip:
        """The shared chip for `key`, opened by `open_chip()` on first use."""
        with self._lock:
            shared, users = self._chips.get(key) or (SharedChip(open_chip(), self._clock), 0)
            self._chips[key] = (shared, users + 1)
            return shared

    def release(self, key: tuple[object, ...]) -> None:
        """One entry of `key` is done; the last one closes the chip."""
        with self._lock:
            shared, users = self._chips[key]
            if users > 1:
                self._chips[key] = (shared, users - 1)
                return
            del self._chips[key]
        shared.close()


class ChipQuantity:
    """One sensor entry's view of a shared chip: the quantity it publishes, sampled at most once per interval.

    A sample younger than half the entry's interval is reused: entries on one chip polled at one interval read
    within moments of each other, while a chip read by entries of different intervals still gets fresh samples.
    """

    def __init__(self, pool: ChipPool, key: tuple[object, ...], shared: SharedChip, name: str, interval: float) -> None:
        self._pool, self._key, self._shared = pool, key, shared
        self._name = name
        self._max_age = interval / 2
        self._closed = False

    def read(self) -> float:
        """This entry's quantity from the chip's current sample."""
        values = self._shared.sample(self._max_age)
        if self._name not in values:
            raise DeviceError(f"the chip gave no {self._name} (it gave {', '.join(sorted(values)) or 'nothing'})")
        return values[self._name]

    def close(self) -> None:
        """Release this entry's share of the chip (idempotent)."""
        if not self._closed:
            self._closed = True
            self._pool.release(self._key)
