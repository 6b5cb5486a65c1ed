"""From a raw sample to the outbox: validate into a Reading, run the filter chain, store it.

A chain whose filters hold readings (debounce, throttle, heartbeat), and a button's gesture recogniser,
share one loop timer per sensor, set for their next deadline; what a filter releases is stored like any
other reading, and the gestures (fed the filtered readings) go to `<sensor topic>/event`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import structlog

from gateway.config import (
    BinaryInput,
    ButtonConfig,
    CounterConfig,
    PolledSensor,
    SensorConfig,
    sensor_precision,
    sensor_unit,
)
from gateway.counter import RateMeter
from gateway.errors import InvalidReadingError
from gateway.filters import FilterChain, build_chain
from gateway.gestures import Gesture, GestureRecognizer
from gateway.logs import LogThrottle
from gateway.reading import Reading, ReadingFactory, format_ts
from gateway.stats import Stats

log = structlog.get_logger(component="pipeline")

REJECT_LOG_INTERVAL = 10.0  # seconds between log lines about one sensor's invalid readings


@dataclass
class Channel:
    """Everything the pipeline needs to know about one sensor, resolved once at start-up."""

    sensor_id: str
    topic: str
    qos: int
    retain: bool
    factory: ReadingFactory
    chain: FilterChain | None = None
    gestures: GestureRecognizer | None = None
    rate: RateMeter | None = None  # a counter's rate, published beside its total
    value_topic: str | None = None  # `payload = "value"`: the bare value here too
    offline_after: int = 3  # consecutive failed reads before the sensor is `offline`
    expire_after: float | None = None  # seconds without a reading before it is `offline` (stale)
    # The pipeline's own state for this channel: its filter/gesture timer and its rejection log throttle.
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)
    timer_at: float = field(default=float("inf"), repr=False)
    reject_log: LogThrottle = field(default_factory=lambda: LogThrottle(REJECT_LOG_INTERVAL), repr=False)

    @property
    def plain(self) -> bool:
        """No filters, gestures, rate or bare value: a reading goes straight to the outbox."""
        return self.chain is None and self.gestures is None and self.rate is None and self.value_topic is None

    @property
    def availability_topic(self) -> str:
        """`<sensor topic>/availability`."""
        return f"{self.topic}/availability"

    @property
    def event_topic(self) -> str:
        """`<sensor topic>/event`: press gestures, not retained."""
        return f"{self.topic}/event"


def build_channel(sensor: SensorConfig, topic: str, default_qos: int) -> Channel:
    """Everything about one sensor the pipeline needs: validation, filters, availability, gestures, rate."""
    minimum, maximum = (sensor.min, sensor.max) if isinstance(sensor, PolledSensor) else (None, None)
    unit, binary = sensor_unit(sensor), isinstance(sensor, BinaryInput)
    precision = None if binary else sensor_precision(sensor)
    factory = ReadingFactory(sensor.id, unit, binary=binary, minimum=minimum, maximum=maximum, precision=precision)
    qos = sensor.qos if sensor.qos is not None else default_qos
    channel = Channel(sensor.id, topic, qos, sensor.retain, factory, build_chain(sensor.filters))
    if isinstance(sensor, PolledSensor):
        channel.offline_after, channel.expire_after = sensor.offline_after, sensor.expire_after
    if isinstance(sensor, CounterConfig):
        channel.rate = RateMeter(sensor, topic, unit)
    if sensor.payload == "value":
        channel.value_topic = f"{topic}/value"
    if isinstance(sensor, ButtonConfig) and sensor.gestures is not None:
        gestures = sensor.gestures
        channel.gestures = GestureRecognizer(gestures.double_ms / 1000, gestures.long_ms / 1000)
    return channel


class Sink(Protocol):
    """Where readings go (the outbox): never blocks; raises InvalidReadingError for an unpublishable one."""

    def put(self, topic: str, reading: Reading, qos: int, retain: bool) -> object:
        """Store a reading (assigning its seq), or reject it under the on-full policy."""

    def put_raw(self, topic: str, payload: bytes, qos: int, retain: bool) -> object:
        """Store a message that is not a reading (an availability state), in order with the readings."""


class Pipeline:
    """Runs on the event loop; never blocks (the outbox's `put` does not wait)."""

    def __init__(
        self, outbox: Sink, stats: Stats, clock: Callable[[], float] = time.monotonic, *, control: Sink | None = None
    ) -> None:
        self._outbox = outbox
        self._control = control or outbox  # availability goes ahead of the readings (gateway.lanes)
        self._stats = stats
        self._clock = clock

    def submit(self, channel: Channel, value: object, timestamp: float) -> None:
        """Turn one sample into a stored message, or count and log why it was rejected."""
        try:
            reading = channel.factory.make(value, timestamp)
            if channel.plain:
                self._outbox.put(channel.topic, reading, channel.qos, channel.retain)  # the common, fast path
                return
            now = self._clock()
            self._store(channel, channel.chain.feed(reading, now) if channel.chain else [reading], now)
        except InvalidReadingError as exc:
            self._reject(channel, exc)
        self._arm(channel)

    def availability(self, channel: Channel, online: bool) -> None:
        """Publish (retained) whether this sensor is delivering readings: `online` or `offline`."""
        self._control.put_raw(channel.availability_topic, b"online" if online else b"offline", 1, True)

    def flush(self, channels: Sequence[Channel]) -> None:
        """Store what the filters still hold and stop their timers (at shutdown or before a reload)."""
        for channel in channels:
            if channel.timer is not None:
                channel.timer.cancel()
                channel.timer, channel.timer_at = None, float("inf")
            if channel.chain is not None:
                self._guarded(channel, channel.chain.flush)

    def _release(self, channel: Channel) -> None:
        channel.timer, channel.timer_at = None, float("inf")
        if channel.chain is not None:
            self._guarded(channel, channel.chain.due)
        if channel.gestures is not None:
            self._events(channel, channel.gestures.due(self._clock()))
        self._arm(channel)

    def _guarded(self, channel: Channel, produce: Callable[[float], list[Reading]]) -> None:
        now = self._clock()
        try:
            self._store(channel, produce(now), now)
        except InvalidReadingError as exc:
            self._reject(channel, exc)

    def _store(self, channel: Channel, readings: list[Reading], now: float) -> None:
        for reading in readings:
            self._outbox.put(channel.topic, reading, channel.qos, channel.retain)
            if channel.value_topic is not None:  # a JSON scalar: 21.5, true
                self._outbox.put_raw(
                    channel.value_topic, json.dumps(reading.value).encode(), channel.qos, channel.retain
                )
            if channel.rate is not None and (rate := channel.rate.feed(reading, now)) is not None:
                self._outbox.put(channel.rate.topic, rate, channel.qos, channel.retain)
            if channel.gestures is not None and isinstance(reading.value, bool):
                self._events(channel, channel.gestures.feed(reading.value, now))

    def _events(self, channel: Channel, gestures: list[Gesture]) -> None:
        for gesture in gestures:
            payload = {"sensor": channel.sensor_id, "event": gesture, "ts": format_ts(datetime.now(UTC))}
            self._outbox.put_raw(channel.event_topic, json.dumps(payload, separators=(",", ":")).encode(), 1, False)

    def _arm(self, channel: Channel) -> None:
        """Make the channel's timer fire at the next deadline of its filters or gestures."""
        deadlines = [d for part in (channel.chain, channel.gestures) if part and (d := part.deadline()) is not None]
        deadline = min(deadlines, default=None)
        if deadline is None or deadline >= channel.timer_at:
            return
        if channel.timer is not None:
            channel.timer.cancel()
        loop = asyncio.get_running_loop()
        channel.timer = loop.call_later(max(0.0, deadline - self._clock()), self._release, channel)
        channel.timer_at = deadline

    def _reject(self, channel: Channel, exc: InvalidReadingError) -> None:
        self._stats.rejected += 1
        # One line per sensor per interval, with the count, so a broken sensor cannot flood the journal.
        if (rejected := channel.reject_log.count(time.monotonic())) is not None:
            log.warning(
                "reading rejected", sensor=channel.sensor_id, reason=exc.reason, rejected_since_last_log=rejected
            )
