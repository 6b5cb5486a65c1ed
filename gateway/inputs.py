"""The gateway's inputs: every sensor opened on the hardware (simulated when the config says so), sampled into the
pipeline on their own task, swapped whole on a reload, closed at the end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from gateway.config import GatewayConfig, PolledSensor
from gateway.counter import Counter, counter_path
from gateway.devices.hardware import Hardware
from gateway.devices.probe import hardware_for
from gateway.devices.sensors import Driver, PulseInput, open_sensor
from gateway.devices.simulation import SimulatedAdcs, Simulator
from gateway.pipeline import Channel, Pipeline, build_channel
from gateway.sampler import Sampler, Sensor
from gateway.stats import Stats
from gateway.topics import Topics


class Inputs:
    """The open sensors and their sampling task; `counters` by id serve the counters' commands."""

    def __init__(self, state_dir: Path, stats: Stats, pin_factory: Callable[[GatewayConfig], Any]) -> None:
        self._state_dir = state_dir
        self._stats = stats
        self._pin_factory = pin_factory
        self._drivers: list[Driver | Counter] = []
        self.counters: dict[str, Counter] = {}
        self.hardware: Hardware | None = None  # what the sensors opened on: the outputs open on it too
        self._simulator: Simulator | None = None
        self._simulated_adcs: SimulatedAdcs = {}  # kept across reloads: they stay attached to the mock pins
        self.task: asyncio.Task[None] | None = None
        self._sampled: tuple[Pipeline, list[Channel]] | None = None

    @property
    def simulated(self) -> bool:
        """Whether the pins are driven by the simulator."""
        return self._simulator is not None

    def open(self, config: GatewayConfig) -> list[Sensor]:
        """Build every sensor of `config` (channels first, so a bad topic opens no device)."""
        channels = channels_for(config)
        factory = self._pin_factory(config)
        configs = list(config.sensors)
        self._simulator = None
        self.hardware = hardware_for(config, factory)
        if config.gpio.simulated:
            self._simulator = Simulator(factory, self._state_dir, adcs=self._simulated_adcs)
            configs = self._simulator.prepare(configs)
            self._simulator.prepare_expanders(config.expanders, configs)
            self.hardware = self._simulator.hardware(config.expanders)
        self.counters.clear()
        return [self._open_one(sensor, channel) for sensor, channel in zip(configs, channels, strict=True)]

    def _open_one(self, config: Any, channel: Channel) -> Sensor:
        assert self.hardware is not None  # noqa: S101 - open() sets it first
        driver: Driver | Counter = open_sensor(config, self.hardware)
        if isinstance(driver, PulseInput):
            driver = self.counters[config.id] = Counter(driver, counter_path(self._state_dir, driver.config.id))
        self._drivers.append(driver)
        return Sensor(driver, channel, config.interval if isinstance(config, PolledSensor) else None)

    def start(self, group: asyncio.TaskGroup, sensors: list[Sensor], pipeline: Pipeline) -> None:
        """Sample `sensors` into `pipeline` on a task of `group` (with the simulation, if any)."""
        self.task = group.create_task(self._sample(Sampler(sensors, pipeline, self._stats)), name="sampler")
        self._sampled = (pipeline, [sensor.channel for sensor in sensors])

    async def stop(self) -> None:
        """Stop sampling, close the devices, and store what the filters still hold."""
        if self.task is not None:
            self.task.cancel()
            with suppress(asyncio.CancelledError):
                await self.task
        self.close()
        if self._sampled is not None:
            pipeline, channels = self._sampled
            pipeline.flush(channels)

    async def swap(self, group: asyncio.TaskGroup, pipeline: Pipeline, new: GatewayConfig, old: GatewayConfig) -> bool:
        """Close the running sensors and open `new`'s; if that fails, reopen `old`'s. True on success."""
        from gateway.errors import GatewayError  # noqa: PLC0415 - only a reload needs it

        await self.stop()
        try:
            sensors = self.open(new)
        except GatewayError:
            self.close()
            self.start(group, self.open(old), pipeline)
            raise
        self.start(group, sensors, pipeline)
        return True

    def close(self) -> None:
        """Close every device (best effort: one bad device must not keep pins held), then the simulation's parts."""
        while self._drivers:
            driver = self._drivers.pop()
            with suppress(Exception):
                driver.close()
        if self._simulator is not None:
            self._simulator.close()

    async def _sample(self, sampler: Sampler) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(sampler.run(), name="sensors")
            if self._simulator is not None:
                group.create_task(self._simulator.run(), name="simulation")


def channels_for(config: GatewayConfig) -> list[Channel]:
    """One pipeline channel per sensor (its topics were checked when the config loaded)."""
    topics = Topics(config.gateway.topic_prefix, config.gateway.id)
    return [build_channel(sensor, topics.sensor(sensor.id), config.mqtt.qos) for sensor in config.sensors]
