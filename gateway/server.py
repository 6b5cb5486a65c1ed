"""The gateway's lifecycle, after uvicorn's Server: start-up, a TaskGroup until stop, graceful shutdown."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from pathlib import Path
from typing import Any

import structlog

from gateway import __version__
from gateway.broker import connection_settings
from gateway.config import BinaryInput, PolledSensor, SensorConfig, sensor_unit
from gateway.devices.pins import close_pin_factory, open_pin_factory
from gateway.devices.sensors import Driver, open_sensor
from gateway.devices.simulation import Simulator
from gateway.errors import ConfigError, ConfigProblem, StateError
from gateway.mqtt import MqttTransport
from gateway.notify import SystemdNotifier
from gateway.outbox import DurableOutbox
from gateway.pipeline import Channel, Pipeline
from gateway.publisher import Backoff, Publisher
from gateway.reading import ReadingFactory
from gateway.sampler import Sampler, Sensor
from gateway.settings import LoadedConfig
from gateway.statedir import resolve_state_dir
from gateway.stats import Stats
from gateway.topics import Topics, topic_problem

log = structlog.get_logger(component="server")
STOP_COUNTS = ("accepted", "published", "rejected", "dropped", "buffered")  # logged at the end of a run


class Gateway:
    """One running gateway. `serve()` runs until `request_stop()` (signal handlers call it)."""

    def __init__(
        self, loaded: LoadedConfig, *, pin_factory: Any | None = None, notifier: SystemdNotifier | None = None
    ) -> None:
        self.config = loaded.config
        self._password = loaded.password
        self._injected_factory = pin_factory
        self._factory: Any | None = None
        self.topics = Topics(self.config.gateway.topic_prefix, self.config.gateway.id)
        self.state_dir: Path = resolve_state_dir(self.config.gateway.state_dir)
        self.stats = Stats()
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._drivers: list[Driver] = []
        self._simulator: Simulator | None = None
        self._outbox: DurableOutbox | None = None
        self._notifier = notifier or SystemdNotifier()

    @property
    def buffered(self) -> int:
        """How many readings wait in the outbox now."""
        return len(self._outbox) if self._outbox is not None else 0

    def request_stop(self) -> None:
        """Ask for a graceful shutdown (safe to call from a signal handler, more than once)."""
        self._stop.set()

    async def serve(self) -> None:
        """Start, run until stopped, then shut down: flush, `offline`, close the pins."""
        try:
            sensors = self._start_up()
            outbox = self._outbox = DurableOutbox(
                self.state_dir, self.stats, self.config.outbox, max_payload_bytes=self.config.mqtt.max_payload_bytes
            )
            await outbox.open()
            await self._run(sensors, outbox)
        finally:
            self._close()
            if self._outbox is not None:
                await self._outbox.close()
        counts = self.stats.snapshot(self.buffered)
        log.info("stopped", **{key: counts[key] for key in STOP_COUNTS})

    def _start_up(self) -> list[Sensor]:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create the state directory {self.state_dir}: {exc.strerror}") from exc
        sensors = self._open_sensors()
        log.info(
            "starting",
            version=__version__,
            gateway=self.config.gateway.id,
            sensors=len(sensors),
            pin_factory=self.config.gpio.pin_factory,
            simulated=self._simulator is not None,
            broker=f"{self.config.mqtt.host}:{self.config.mqtt.effective_port}",
        )
        return sensors

    def _open_sensors(self) -> list[Sensor]:
        self._factory = self._injected_factory or open_pin_factory(self.config.gpio.pin_factory)
        configs = list(self.config.sensors)
        if self.config.gpio.simulated:
            self._simulator = Simulator(self._factory, self.state_dir)
            configs = self._simulator.prepare(configs)
        sensors = []
        for sensor_config in configs:
            driver = open_sensor(sensor_config, self._factory)
            self._drivers.append(driver)
            sensors.append(
                Sensor(
                    driver,
                    self._channel(sensor_config),
                    sensor_config.interval if isinstance(sensor_config, PolledSensor) else None,
                )
            )
        return sensors

    def _channel(self, sensor: SensorConfig) -> Channel:
        minimum, maximum = (sensor.min, sensor.max) if isinstance(sensor, PolledSensor) else (None, None)
        factory = ReadingFactory(
            sensor.id, sensor_unit(sensor), binary=isinstance(sensor, BinaryInput), minimum=minimum, maximum=maximum
        )
        qos = sensor.qos if sensor.qos is not None else self.config.mqtt.qos
        topic = self.topics.sensor(sensor.id)
        if problem := topic_problem(topic, self.config.mqtt.max_topic_bytes):
            problems = [ConfigProblem(f'sensors "{sensor.id}"', f"cannot publish to {topic!r}: {problem}")]
            raise ConfigError(None, problems)
        return Channel(sensor.id, topic, qos, sensor.retain, factory)

    async def _run(self, sensors: list[Sensor], outbox: DurableOutbox) -> None:
        transport = MqttTransport(connection_settings(self.config, self._password, will_topic=self.topics.status))
        publisher = Publisher(
            transport,
            outbox,
            self.topics,
            self.stats,
            backoff=Backoff(self.config.mqtt.reconnect_min, self.config.mqtt.reconnect_max),
            stats_interval=self.config.gateway.stats_interval,
            flush_timeout=self.config.gateway.shutdown_timeout,
            window=self.config.mqtt.max_inflight,
        )
        stop_publishing = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            storing = group.create_task(outbox.run(), name="outbox")
            publishing = group.create_task(publisher.run(stop_publishing), name="publisher")
            sampling = group.create_task(
                self._sample(Sampler(sensors, Pipeline(outbox, self.stats), self.stats)), name="sampler"
            )
            await self._until_ready(publisher)
            supervising = group.create_task(self._supervise(publishing, sampling, storing), name="supervisor")
            await self._stop.wait()
            log.info("stopping", buffered=len(outbox))
            self._notifier.notify("STOPPING=1", f"STATUS=stopping, flushing {len(outbox)} readings")
            supervising.cancel()
            sampling.cancel()
            self._close_drivers()  # no more edges once we flush
            stop_publishing.set()
            await publishing
            outbox.stop()  # close() writes what is left

    def _status_line(self) -> str:
        mqtt = self.config.mqtt
        link = (
            f"connected to {mqtt.host}:{mqtt.effective_port}"
            if self.stats.connected
            else (f"broker {mqtt.host}:{mqtt.effective_port} unreachable ({self.stats.last_error or 'connecting'})")
        )
        return f"STATUS={link}; {self.buffered} buffered, {self.stats.published} published"

    async def _supervise(self, *vital: asyncio.Task[None]) -> None:
        """Ping systemd's watchdog only while the loop runs this task and every vital task is alive."""
        if not self._notifier.enabled:
            return
        interval = self._notifier.watchdog_interval or 10.0
        while all(not task.done() for task in vital):
            fields = [self._status_line()]
            if self._notifier.watchdog_interval is not None:
                fields.append("WATCHDOG=1")
            self._notifier.notify(*fields)
            await asyncio.sleep(interval)
        log.error("a vital task ended: no more watchdog pings", tasks=[t.get_name() for t in vital if t.done()])

    async def _until_ready(self, publisher: Publisher) -> None:
        # Ready once devices are up and the first connection was attempted; never wait for the broker itself.
        first = asyncio.create_task(publisher.first_attempt_done.wait())
        stop = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({first, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            first.cancel()
            stop.cancel()
        self.ready.set()
        self._notifier.notify("READY=1", self._status_line())
        log.info("ready", connected=publisher.connected.is_set())

    async def _sample(self, sampler: Sampler) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(sampler.run(), name="sensors")
            if self._simulator is not None:
                group.create_task(self._simulator.run(), name="simulation")

    def _close_drivers(self) -> None:
        while self._drivers:
            driver = self._drivers.pop()
            with suppress(Exception):  # closing is best effort; one bad device must not keep pins held
                driver.close()

    def _close(self) -> None:
        self._close_drivers()
        if self._factory is not None and self._injected_factory is None:
            with suppress(Exception):
                close_pin_factory(self._factory)
