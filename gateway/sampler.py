"""The sampler: edge callbacks bridged into the loop, and polled sensors read on a schedule."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import structlog

from gateway.counter import Counter
from gateway.errors import DeviceError
from gateway.pipeline import Channel, Pipeline
from gateway.reader_thread import ReaderThread
from gateway.stats import Stats

if TYPE_CHECKING:  # drivers come built from the server; the sampler never loads gpiozero itself
    from gateway.devices.sensors import Driver, EdgeInput

log = structlog.get_logger(component="sampler")
READ_ERROR_LOG_INTERVAL = 60.0
MIN_READ_TIMEOUT = 5.0  # seconds a single read may take before it counts as failed
BACKOFF_CAP = 300.0  # seconds between reads of an offline sensor, at most (unless its interval is longer)


@dataclass
class Sensor:
    """A driver and its pipeline channel."""

    driver: Driver | Counter
    channel: Channel
    interval: float | None = None  # None for edge-driven inputs


class EdgeBridge:
    """Carries edges from gpiozero's threads into the loop, in the order they happened.

    Edges go into one FIFO shared by all inputs; the loop is woken once per batch rather than once per
    edge, which halves the loop's work in bursts and keeps the order across inputs.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, pipeline: Pipeline) -> None:
        self._loop = loop
        self._submit = pipeline.submit
        self._pending: deque[tuple[Channel, bool, float]] = deque()
        self._lock = threading.Lock()
        self._scheduled = False

    def start(self, driver: EdgeInput, channel: Channel) -> None:
        """Attach to `driver` and publish its current state now (callbacks first, so no edge is missed)."""
        state = driver.start(lambda active, timestamp: self._on_edge(channel, active, timestamp))
        self._submit(channel, state, time.time())

    def _on_edge(self, channel: Channel, active: bool, timestamp: float) -> None:
        # On a gpiozero thread.
        self._pending.append((channel, active, timestamp))
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        with contextlib.suppress(RuntimeError):  # the loop is closing at shutdown
            self._loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        # On the loop. Clear the flag first: an edge appended from now on schedules another flush.
        with self._lock:
            self._scheduled = False
        pending, submit = self._pending, self._submit
        while pending:
            submit(*pending.popleft())


class Sampler:
    """Feeds every sensor's samples into the pipeline, in the order they were taken, until cancelled."""

    def __init__(self, sensors: Sequence[Sensor], pipeline: Pipeline, stats: Stats) -> None:
        self._sensors = sensors
        self._pipeline = pipeline
        self._stats = stats

    async def run(self) -> None:
        """Start the edge inputs (publishing their state now), then poll the others until cancelled."""
        bridge = EdgeBridge(asyncio.get_running_loop(), self._pipeline)
        for sensor in self._sensors:
            if sensor.interval is None:  # an edge input: it reports, it is never read
                try:
                    bridge.start(cast("EdgeInput", sensor.driver), sensor.channel)
                except DeviceError as exc:  # an expander that does not answer: its inputs stay silent, not the rest
                    self._stats.read_errors += 1
                    log.error("input cannot start", sensor=sensor.channel.sensor_id, error=str(exc))
        async with asyncio.TaskGroup() as group:
            for sensor in self._sensors:
                if sensor.interval is not None:
                    group.create_task(self._poll(sensor, sensor.interval), name=f"poll-{sensor.channel.sensor_id}")
            # Edge inputs need no task; stay alive until cancelled, so supervision sees a running sampler.
            await asyncio.get_running_loop().create_future()

    async def _poll(self, sensor: Sensor, interval: float) -> None:
        loop = asyncio.get_running_loop()
        reader = ReaderThread(sensor.channel.sensor_id)
        timeout = max(interval, MIN_READ_TIMEOUT)
        health = Availability(sensor.channel.offline_after, sensor.channel.expire_after, interval, loop.time())
        next_at = loop.time()
        last_logged = float("-inf")
        try:
            while True:
                timestamp = time.time()
                try:
                    # A fast read (a /proc file) costs less inline than the hop to its thread and back.
                    blocking = getattr(sensor.driver, "blocking", True)
                    value = await reader.call(sensor.driver.read, timeout) if blocking else sensor.driver.read()
                except (DeviceError, TimeoutError) as exc:
                    self._stats.read_errors += 1
                    if loop.time() - last_logged >= READ_ERROR_LOG_INTERVAL:
                        error = str(exc) or f"no answer within {timeout:g} s"
                        log.warning("sensor read failed", sensor=sensor.channel.sensor_id, error=error)
                        last_logged = loop.time()
                    changed = health.failure(loop.time())
                else:
                    changed = health.success(loop.time())
                    if changed:  # `online` before the reading that proves it
                        self._pipeline.availability(sensor.channel, True)
                    self._pipeline.submit(sensor.channel, value, timestamp)
                    changed = None
                if changed is False:
                    log.warning("sensor offline", sensor=sensor.channel.sensor_id, failures=health.failures)
                    self._pipeline.availability(sensor.channel, False)
                # A fixed rate (slower while offline); after an overrun the next read starts now, without a burst.
                next_at = max(next_at + health.next_interval(), loop.time())
                await asyncio.sleep(next_at - loop.time())
        finally:
            reader.close()


class Availability:
    """One polled sensor's health: `online` after a good read, `offline` after `offline_after` failed reads
    in a row or `expire_after` seconds without a good one; while offline its reads back off."""

    def __init__(self, offline_after: int, expire_after: float | None, interval: float, now: float) -> None:
        self._offline_after = offline_after
        self._expire_after = expire_after
        self._interval = interval
        self._last_success = now
        self.online: bool | None = None  # unknown until the first read
        self.failures = 0

    def success(self, now: float) -> bool | None:
        """A good read: True when this makes the sensor `online`, else None."""
        self.failures = 0
        self._last_success = now
        if self.online is True:
            return None
        self.online = True
        return True

    def failure(self, now: float) -> bool | None:
        """A failed read: False when this makes the sensor `offline`, else None."""
        self.failures += 1
        stale = self._expire_after is not None and now - self._last_success >= self._expire_after
        if self.online is False or (self.failures < self._offline_after and not stale):
            return None
        self.online = False
        return False

    def next_interval(self) -> float:
        """The normal interval; while offline it doubles per failure, up to max(interval, BACKOFF_CAP)."""
        if self.online is not False:
            return self._interval
        doublings = min(self.failures - self._offline_after + 1, 16)
        return min(self._interval * 2.0 ** max(doublings, 1), max(self._interval, BACKOFF_CAP))
