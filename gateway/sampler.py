"""The sampler: edge callbacks bridged into the loop, and polled sensors read on a schedule."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from gateway.devices.sensors import Driver, EdgeInput
from gateway.errors import DeviceError
from gateway.pipeline import Channel, Pipeline
from gateway.readers import ReaderThread
from gateway.stats import Stats

log = structlog.get_logger(component="sampler")
READ_ERROR_LOG_INTERVAL = 60.0
MIN_READ_TIMEOUT = 5.0  # seconds a single read may take before it counts as failed


@dataclass
class Sensor:
    """A driver and its pipeline channel."""

    driver: Driver
    channel: Channel
    interval: float | None = None  # None for edge-driven inputs


class Sampler:
    """Feeds every sensor's samples into the pipeline, in the order they were taken, until cancelled."""

    def __init__(self, sensors: Sequence[Sensor], pipeline: Pipeline, stats: Stats) -> None:
        self._sensors = sensors
        self._pipeline = pipeline
        self._stats = stats

    async def run(self) -> None:
        """Start the edge inputs (publishing their state now), then poll the others until cancelled."""
        loop = asyncio.get_running_loop()
        for sensor in self._sensors:
            if isinstance(sensor.driver, EdgeInput):
                self._start_edges(loop, sensor.driver, sensor.channel)
        async with asyncio.TaskGroup() as group:
            for sensor in self._sensors:
                if sensor.interval is not None:
                    group.create_task(self._poll(sensor, sensor.interval), name=f"poll-{sensor.channel.sensor_id}")

    def _start_edges(self, loop: asyncio.AbstractEventLoop, driver: EdgeInput, channel: Channel) -> None:
        submit = self._pipeline.submit

        def on_change(active: bool, timestamp: float) -> None:
            # gpiozero's thread: hand over in FIFO order; the loop may already be closing at shutdown.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(submit, channel, active, timestamp)

        state = driver.start(on_change)
        submit(channel, state, time.time())

    async def _poll(self, sensor: Sensor, interval: float) -> None:
        loop = asyncio.get_running_loop()
        reader = ReaderThread(sensor.channel.sensor_id)
        timeout = max(interval, MIN_READ_TIMEOUT)
        next_at = loop.time()
        last_logged = float("-inf")
        try:
            while True:
                timestamp = time.time()
                try:
                    value = await reader.call(sensor.driver.read, timeout)
                except (DeviceError, TimeoutError) as exc:
                    self._stats.read_errors += 1
                    if loop.time() - last_logged >= READ_ERROR_LOG_INTERVAL:
                        error = str(exc) or f"no answer within {timeout:g} s"
                        log.warning("sensor read failed", sensor=sensor.channel.sensor_id, error=error)
                        last_logged = loop.time()
                else:
                    self._pipeline.submit(sensor.channel, value, timestamp)
                # A fixed rate; after an overrun the next read starts now, without a burst to catch up.
                next_at = max(next_at + interval, loop.time())
                await asyncio.sleep(next_at - loop.time())
        finally:
            reader.close()
