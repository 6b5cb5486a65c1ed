"""Pulse counters whose total survives restarts and power loss, and the rate derived from the totals.

The total is written to `<state dir>/counters/<id>.json` (temp file, fsync, rename, fsync of the directory)
by `read()`, on the sensor's reader thread, before the reading that carries it goes to the outbox: a total
the outbox has accepted is never lost. Pulses counted after the last read are lost by a crash; they were
never acknowledged.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.config import CounterConfig
from gateway.durable_file import write_durably
from gateway.errors import DeviceError, StateError
from gateway.reading import Reading, ReadingFactory

if TYPE_CHECKING:  # the device layer (gpiozero) is only needed to build one, by the server
    from gateway.devices.sensors import PulseInput

PER_SECONDS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}


class Counter:
    """A persistent total: the saved base plus the pulses counted since it was set."""

    def __init__(self, pulses: PulseInput, path: Path) -> None:
        self.config: CounterConfig = pulses.config
        self._pulses = pulses
        self._path = path
        self._lock = threading.Lock()
        self._broken: str | None = None  # an unreadable saved total: every read fails (the sensor goes offline)
        try:
            self._base = load_total(path)
        except StateError as exc:
            self._base, self._broken = 0, str(exc)
        self._counted_at_base = pulses.read()
        self._saved = self._base

    def read(self) -> float:
        """The total now, saved durably first if it changed (called on the reader thread).

        DeviceError when the total cannot be saved (it is then not published: nothing unsaved is acknowledged).
        """
        with self._lock:
            if self._broken is not None:
                raise DeviceError(self._broken)
            total = self._base + self._pulses.read() - self._counted_at_base
            if total != self._saved:
                self._save(total)
                self._saved = total
        return float(total)

    def set_total(self, total: int) -> None:
        """Set (or reset, with 0) the total; saved at once (DeviceError if not). The next reading publishes it."""
        with self._lock:
            self._save(total)
            self._base, self._counted_at_base, self._saved, self._broken = total, self._pulses.read(), total, None

    def _save(self, total: int) -> None:
        try:
            save_total(self._path, total)
        except StateError as exc:
            raise DeviceError(f"counter {self.config.id!r}: {exc}") from exc

    def close(self) -> None:
        """Release the pin."""
        self._pulses.close()


def counter_path(state_dir: Path, sensor_id: str) -> Path:
    """Where a counter's total is kept."""
    return state_dir / "counters" / f"{sensor_id}.json"


def load_total(path: Path) -> int:
    """The saved total, 0 for a new counter; StateError for a file that cannot be used."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return 0
    except (OSError, ValueError) as exc:
        raise StateError(f"counter file {path} cannot be read: {exc}; fix or delete it") from exc
    total = data.get("total") if isinstance(data, dict) else None
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise StateError(f"counter file {path} has no valid total; fix or delete it")
    return total


def save_total(path: Path, total: int) -> None:
    """Write the total so that it survives a power cut right after this returns."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_durably(path, json.dumps({"total": total}))
    except OSError as exc:
        raise StateError(f"cannot save counter total to {path}: {exc.strerror}") from exc


class RateMeter:
    """The rate between consecutive totals, per second, minute or hour, published on `<topic>/rate`."""

    def __init__(self, config: CounterConfig, topic: str, unit: str | None) -> None:
        self.topic = f"{topic}/rate"
        self._per = PER_SECONDS[config.rate_per]
        self._factory = ReadingFactory(config.id, f"{unit or 'pulses'}/{config.rate_per}", binary=False)
        self._last: tuple[float, float] | None = None  # (total, monotonic time)

    def feed(self, reading: Reading, now: float) -> Reading | None:
        """The rate since the previous total (None for the first one, or after the total was set lower)."""
        if isinstance(reading.value, bool):
            return None
        last, self._last = self._last, (reading.value, now)
        if last is None or now <= last[1] or reading.value < last[0]:
            return None
        rate = (reading.value - last[0]) / (now - last[1]) * self._per
        return self._factory.make(rate, reading.ts.timestamp())
