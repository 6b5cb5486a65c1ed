"""Simulated hardware for the chip kinds: a fake sysfs tree and simulated I2C chips, kept moving over time.

A kind's `simulate(config, hardware)` lays out what the real machine would have (a kernel driver's files, or a
chip's registers) and registers how its values drift; the gateway then opens the kind with its real driver.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

T = TypeVar("T")
Update = Callable[[float], None]  # called with time.monotonic() on every simulation tick


def drift(period: float, low: float, high: float, phase: float = 0.0) -> Callable[[float], float]:
    """A value swinging between `low` and `high` every `period` seconds."""
    middle, amplitude = (high + low) / 2, (high - low) / 2
    return lambda t: middle + amplitude * math.sin(2 * math.pi * t / period + phase)


@dataclass
class SimulatedHardware:
    """The fake sysfs root, the simulated I2C chips (made on first use) and the updates to run each tick."""

    sysfs_root: Path
    rng: random.Random = field(default_factory=random.Random)
    pin_factory: Any = None  # gpiozero's MockFactory
    adcs: dict[Any, Any] = field(default_factory=dict)  # mock SPI slaves by (port, select), kept across reloads
    updates: list[Update] = field(default_factory=list)
    _i2c: Any | None = None
    _built: dict[tuple[object, ...], Any] = field(default_factory=dict)
    _stops: list[Callable[[], None]] = field(default_factory=list)

    @property
    def i2c(self) -> Any:
        """The simulated I2C buses (a gateway.devices.i2c.simulators.SimulatedI2c)."""
        if self._i2c is None:
            from gateway.devices.i2c.simulators import SimulatedI2c  # noqa: PLC0415 - smbus2 only when used

            self._i2c = SimulatedI2c()
        return self._i2c

    @property
    def uses_i2c(self) -> bool:
        """Whether any kind put a chip on the simulated I2C."""
        return self._i2c is not None

    def first_time(self, key: tuple[object, ...]) -> bool:
        """True the first time a chip is named: entries sharing a chip simulate it once."""
        if key in self._built:
            return False
        self._built[key] = True
        return True

    def shared(self, key: tuple[object, ...], build: Callable[[], T]) -> T:
        """The simulated part called `key`, built on first use (a chip several entries read)."""
        if key not in self._built:
            self._built[key] = build()
        return cast("T", self._built[key])

    def every_tick(self, update: Update) -> None:
        """Run `update(now)` on every simulation tick (and once now)."""
        update(0.0)
        self.updates.append(update)

    def tick(self, now: float) -> None:
        """Move every simulated value to its value at `now`."""
        for update in self.updates:
            update(now)

    def on_close(self, stop: Callable[[], None]) -> None:
        """Run `stop` when the simulation closes: a part with a thread or file descriptors of its own."""
        self._stops.append(stop)

    def close(self) -> None:
        """Stop every part registered with `on_close` (a reload builds new ones), each once."""
        while self._stops:
            self._stops.pop()()
