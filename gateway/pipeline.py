"""From a raw sample to the outbox: validate into a Reading, run the filter chain, store it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from gateway.errors import InvalidReadingError
from gateway.reading import Reading, ReadingFactory
from gateway.stats import Stats

log = structlog.get_logger(component="pipeline")

# A filter returns the (possibly changed) reading, or None to drop it.
Filter = Callable[[Reading], Reading | None]
REJECT_LOG_INTERVAL = 10.0  # seconds between log lines about one sensor's invalid readings


@dataclass
class Channel:
    """Everything the pipeline needs to know about one sensor, resolved once at start-up."""

    sensor_id: str
    topic: str
    qos: int
    retain: bool
    factory: ReadingFactory
    filters: Sequence[Filter] = ()
    _last_reject_log: float = field(default=float("-inf"), repr=False)
    _unlogged_rejects: int = field(default=0, repr=False)


class Sink(Protocol):
    """Where readings go (the outbox): never blocks; raises InvalidReadingError for an unpublishable one."""

    def put(self, topic: str, reading: Reading, qos: int, retain: bool) -> object:
        """Store a reading (assigning its seq), or reject it under the on-full policy."""


class Pipeline:
    """Runs on the event loop; never blocks (the outbox's `put` does not wait)."""

    def __init__(self, outbox: Sink, stats: Stats) -> None:
        self._outbox = outbox
        self._stats = stats

    def submit(self, channel: Channel, value: object, timestamp: float) -> None:
        """Turn one sample into a stored message, or count and log why it was rejected."""
        try:
            reading: Reading | None = channel.factory.make(value, timestamp)
            for step in channel.filters:
                if reading is None:
                    return
                reading = step(reading)
            if reading is not None:
                self._outbox.put(channel.topic, reading, channel.qos, channel.retain)
        except InvalidReadingError as exc:
            self._reject(channel, exc)

    def _reject(self, channel: Channel, exc: InvalidReadingError) -> None:
        self._stats.rejected += 1
        channel._unlogged_rejects += 1
        now = time.monotonic()
        # One line per sensor per interval, with the count, so a broken sensor cannot flood the journal.
        if now - channel._last_reject_log >= REJECT_LOG_INTERVAL:
            log.warning(
                "reading rejected",
                sensor=channel.sensor_id,
                reason=exc.reason,
                rejected_since_last_log=channel._unlogged_rejects,
            )
            channel._last_reject_log = now
            channel._unlogged_rejects = 0
