"""Signal conditioning: small filters between a validated Reading and the outbox.

Every filter is a function of (its state, a reading, the time `now`): `feed` returns the readings to pass on
(none drops it), `due` returns what its timer releases at `now`, `deadline` says when it next needs `due`,
and `flush` releases what it holds at shutdown. Time is a monotonic clock passed in, never read here, so
every filter is tested with a fake clock. A `FilterChain` runs them in order; what a timer releases goes
through the filters after the one that held it.
"""

from __future__ import annotations

import math
import operator
import statistics
from collections import deque
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any, Protocol

from gateway.config import (
    CalibrateLinearFilter,
    ClampFilter,
    DeadbandFilter,
    DebounceFilter,
    FilterConfig,
    HeartbeatFilter,
    MedianFilter,
    MovingAverageFilter,
    MultiplyFilter,
    OffsetFilter,
    RoundFilter,
    ThrottleFilter,
)
from gateway.errors import InvalidReadingError
from gateway.reading import Reading


class Filter(Protocol):
    """One step of a chain."""

    def feed(self, reading: Reading, now: float) -> list[Reading]:
        """The readings to pass on for this one (usually zero or one)."""

    def due(self, now: float) -> list[Reading]:
        """What a timer releases at `now` (empty when nothing is due)."""

    def deadline(self) -> float | None:
        """When `due` next has something to do, or None."""

    def flush(self) -> list[Reading]:
        """What is held, released at shutdown."""


class Untimed:
    """Base of the filters that only react to readings."""

    def due(self, now: float) -> list[Reading]:
        """Nothing is ever due."""
        return []

    def deadline(self) -> float | None:
        """Never."""
        return None

    def flush(self) -> list[Reading]:
        """Nothing is held."""
        return []


class Mapping(Untimed):
    """A value transformation (offset, multiply, calibrate_linear, clamp, round)."""

    def __init__(self, transform: Callable[[float], float]) -> None:
        self._transform = transform

    def feed(self, reading: Reading, now: float) -> list[Reading]:
        """The reading with its value transformed (booleans pass unchanged); not finite -> InvalidReadingError."""
        if isinstance(reading.value, bool):
            return [reading]
        value = self._transform(reading.value)
        if not math.isfinite(value):  # e.g. multiply overflowing: never published, counted as rejected
            raise InvalidReadingError(reading.sensor, f"a filter made {reading.value} into {value}")
        return [reading.model_copy(update={"value": value})]


class Window(Untimed):
    """The mean or median of the last `size` values."""

    def __init__(self, size: int, combine: Callable[[Sequence[float]], float]) -> None:
        self._values: deque[float] = deque(maxlen=size)
        self._combine = combine

    def feed(self, reading: Reading, now: float) -> list[Reading]:
        """The reading with the window's combined value."""
        if isinstance(reading.value, bool):
            return [reading]
        self._values.append(reading.value)
        return [reading.model_copy(update={"value": self._combine(self._values)})]


class Deadband(Untimed):
    """Pass a reading only when it moved far enough from the last one passed (or a boolean changed)."""

    def __init__(self, delta: float | None, percent: float | None) -> None:
        self._delta = delta
        self._percent = percent
        self._last: bool | float | None = None

    def feed(self, reading: Reading, now: float) -> list[Reading]:
        """The reading if it differs enough, else nothing."""
        if self._last is not None and not self._moved(self._last, reading.value):
            return []
        self._last = reading.value
        return [reading]

    def _moved(self, last: bool | float, value: bool | float) -> bool:
        if isinstance(value, bool) or isinstance(last, bool):
            return value != last
        threshold = self._delta if self._delta is not None else abs(last) * (self._percent or 0) / 100
        return abs(value - last) > threshold


class Debounce:
    """A change passes only after it has stayed for `hold` seconds; a bounce back cancels it."""

    def __init__(self, hold: float) -> None:
        self._hold = hold
        self._stable: bool | float | None = None  # the last value passed on
        self._pending: Reading | None = None
        self._since = 0.0

    def feed(self, reading: Reading, now: float) -> list[Reading]:
        """The first reading passes; later changes wait for `due`."""
        if self._stable is None:
            self._stable = reading.value
            return [reading]
        if reading.value == self._stable:
            self._pending = None  # it bounced back
        elif self._pending is None or self._pending.value != reading.value:
            self._pending, self._since = reading, now
        return []

    def due(self, now: float) -> list[Reading]:
        """The pending change, once it has held long enough."""
        if self._pending is None or now < self._since + self._hold:
            return []
        return self.flush()

    def deadline(self) -> float | None:
        """When the pending change will have held long enough."""
        return None if self._pending is None else self._since + self._hold

    def flush(self) -> list[Reading]:
        """The pending change, if any (the input did end there)."""
        reading, self._pending = self._pending, None
        if reading is None:
            return []
        self._stable = reading.value
        return [reading]


class Throttle:
    """At most one reading per `interval`; the latest of an interval is passed at its end."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._open_at = float("-inf")  # when the next reading may pass at once
        self._held: Reading | None = None

    def feed(self, reading: Reading, now: float) -> list[Reading]:
        """Pass at once if the interval is over, else hold it (replacing what was held)."""
        if now >= self._open_at and self._held is None:
            self._open_at = now + self._interval
            return [reading]
        self._held = reading
        return []

    def due(self, now: float) -> list[Reading]:
        """The held reading, at the end of the interval."""
        if self._held is None or now < self._open_at:
            return []
        self._open_at = now + self._interval
        return self.flush()

    def deadline(self) -> float | None:
        """The end of the interval, while a reading is held."""
        return None if self._held is None else self._open_at

    def flush(self) -> list[Reading]:
        """The held reading, if any."""
        reading, self._held = self._held, None
        return [] if reading is None else [reading]


class Heartbeat:
    """After `interval` seconds without a reading, the last one again (same value, a new `ts`)."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._last: Reading | None = None
        self._last_at = 0.0

    def feed(self, reading: Reading, now: float) -> list[Reading]:
        """Pass it and restart the silence timer."""
        self._last, self._last_at = reading, now
        return [reading]

    def due(self, now: float) -> list[Reading]:
        """A repeat of the last reading once the silence lasted `interval`."""
        if self._last is None or now < self._last_at + self._interval:
            return []
        elapsed = now - self._last_at
        repeat = self._last.model_copy(update={"ts": self._last.ts + timedelta(seconds=elapsed)})
        self._last, self._last_at = repeat, now
        return [repeat]

    def deadline(self) -> float | None:
        """When the silence will have lasted `interval`."""
        return None if self._last is None else self._last_at + self._interval

    def flush(self) -> list[Reading]:
        """Nothing is held back."""
        return []


class FilterChain:
    """The filters of one sensor, in config order."""

    def __init__(self, filters: Sequence[Filter]) -> None:
        self._filters = list(filters)

    def feed(self, reading: Reading, now: float) -> list[Reading]:
        """Run one reading through every filter."""
        return self._through(0, [reading], now)

    def due(self, now: float) -> list[Reading]:
        """Release what timers hold at `now`, each through the filters after the one that held it."""
        out: list[Reading] = []
        for index, step in enumerate(self._filters):
            out += self._through(index + 1, step.due(now), now)
        return out

    def deadline(self) -> float | None:
        """The earliest deadline of any filter."""
        deadlines = [d for step in self._filters if (d := step.deadline()) is not None]
        return min(deadlines, default=None)

    def flush(self, now: float) -> list[Reading]:
        """Release everything held (shutdown), in filter order."""
        out: list[Reading] = []
        for index, step in enumerate(self._filters):
            out += self._through(index + 1, step.flush(), now)
        return out

    def _through(self, start: int, readings: list[Reading], now: float) -> list[Reading]:
        for step in self._filters[start:]:
            readings = [passed for reading in readings for passed in step.feed(reading, now)]
            if not readings:
                break
        return readings


_BUILDERS: dict[type, Callable[[Any], Filter]] = {
    DebounceFilter: lambda c: Debounce(c.ms / 1000),
    DeadbandFilter: lambda c: Deadband(c.delta, c.percent),
    ThrottleFilter: lambda c: Throttle(c.interval),
    HeartbeatFilter: lambda c: Heartbeat(c.interval),
    MovingAverageFilter: lambda c: Window(c.window, statistics.fmean),
    MedianFilter: lambda c: Window(c.window, statistics.median),
    OffsetFilter: lambda c: Mapping(partial(operator.add, c.value)),
    MultiplyFilter: lambda c: Mapping(partial(operator.mul, c.value)),
    CalibrateLinearFilter: lambda c: Mapping(linear_calibration(c.points)),
    ClampFilter: lambda c: Mapping(clamp(c.min, c.max)),
    RoundFilter: lambda c: Mapping(partial(_round, digits=c.digits)),
}


def build_filter(config: FilterConfig) -> Filter:
    """The filter a config entry describes."""
    return _BUILDERS[type(config)](config)


def _round(value: float, digits: int) -> float:
    return round(value, digits)


def build_chain(configs: Sequence[FilterConfig]) -> FilterChain | None:
    """A chain for a sensor's `filters`, or None when it has none (the pipeline's fast path)."""
    return FilterChain([build_filter(config) for config in configs]) if configs else None


def clamp(low: float | None, high: float | None) -> Callable[[float], float]:
    """Limit a value to [low, high]; a missing bound does not limit."""
    lower = low if low is not None else float("-inf")
    upper = high if high is not None else float("inf")
    return lambda value: min(upper, max(lower, value))


def linear_calibration(points: Sequence[tuple[float, float]]) -> Callable[[float], float]:
    """Piecewise linear through (raw, actual) points, extending the first and last segments."""
    ordered = sorted(points)

    def calibrate(raw: float) -> float:
        index = 1
        while index < len(ordered) - 1 and raw > ordered[index][0]:
            index += 1
        (x0, y0), (x1, y1) = ordered[index - 1], ordered[index]
        return y0 + (raw - x0) * (y1 - y0) / (x1 - x0)

    return calibrate
