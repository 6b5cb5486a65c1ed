"""The gateway's lifecycle, after uvicorn's Server: start-up, a TaskGroup until stop, graceful shutdown."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from pathlib import Path
from typing import Any, Literal

import structlog

from gateway import __version__
from gateway.broker_settings import connection_settings, insecure_tls_warning
from gateway.config import GatewayConfig
from gateway.config_loader import ConfigSource, LoadedConfig
from gateway.devices.pins import close_pin_factory, open_pin_factory
from gateway.errors import GatewayError, StateError
from gateway.homeassistant.announcer import HomeAssistant, LastStates
from gateway.inbound import Receivers
from gateway.inputs import Inputs
from gateway.lanes import ControlLane, Lanes
from gateway.mqtt import MqttTransport
from gateway.outbox import DurableOutbox
from gateway.output_bank import OutputBank
from gateway.pipeline import Pipeline
from gateway.publisher import Backoff, Publisher
from gateway.reload import ReloadPlan, plan_reload
from gateway.sampler import Sensor
from gateway.statedir import StateDirLock, resolve_state_dir
from gateway.stats import Stats
from gateway.systemd_notify import SystemdNotifier, keep_watchdog_fed, status_line
from gateway.topics import Topics, portability_warning

log = structlog.get_logger(component="server")
STOP_COUNTS = ("accepted", "published", "rejected", "dropped", "buffered")  # logged at the end of a run


class Gateway:
    """One running gateway. `serve()` runs until `request_stop()` (signal handlers call it)."""

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        pin_factory: Any | None = None,
        notifier: SystemdNotifier | None = None,
        config_source: ConfigSource | None = None,
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
        self._inputs = Inputs(self.state_dir, self.stats, self._pin_factory)
        self._outputs = OutputBank(
            self.stats, self._pin_factory, lambda: self._inputs.hardware, lambda: self._inputs.counters
        )
        self._outbox: DurableOutbox | None = None
        self._lanes: Lanes | None = None
        self._states: LastStates
        self._control_states: LastStates
        self._homeassistant: HomeAssistant
        self._notifier = notifier or SystemdNotifier()
        self._config_source = config_source
        self._reload_requested = asyncio.Event()
        self._reloading = False
        self._publishing: asyncio.Task[None]
        self._stop_publishing: asyncio.Event

    @property
    def buffered(self) -> int:
        """How many messages wait in the outbox and the control lane now."""
        if self._lanes is not None:
            return len(self._lanes)
        return len(self._outbox) if self._outbox is not None else 0

    def request_stop(self) -> None:
        """Ask for a graceful shutdown (safe to call from a signal handler, more than once)."""
        self._stop.set()

    def request_reload(self) -> None:
        """Ask to re-read the config (SIGHUP); requests that arrive during a reload are merged into one more."""
        self._reload_requested.set()

    async def serve(self) -> None:
        """Start, run until stopped, then shut down: flush, `offline`, close the pins."""
        lock = StateDirLock(self.state_dir)
        try:
            sensors = self._start_up(lock)
            outbox = self._outbox = DurableOutbox(
                self.state_dir, self.stats, self.config.outbox, max_payload_bytes=self.config.mqtt.max_payload_bytes
            )
            await outbox.open()
            await self._run(sensors, outbox)
        finally:
            self._close()
            if self._outbox is not None:
                await self._outbox.close()
            lock.release()
        counts = self.stats.snapshot(self.buffered)
        log.info("stopped", **{key: counts[key] for key in STOP_COUNTS})

    def _start_up(self, lock: StateDirLock) -> list[Sensor]:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"cannot create the state directory {self.state_dir}: {exc.strerror}") from exc
        lock.acquire()  # before any device or the outbox is touched
        sensors = self._inputs.open(self.config)
        log.info(
            "starting",
            version=__version__,
            gateway=self.config.gateway.id,
            sensors=len(sensors),
            pin_factory=self.config.gpio.pin_factory,
            simulated=self._inputs.simulated,
            broker=", ".join(f"{host}:{port}" for host, port in self.config.mqtt.nodes),
        )
        for warning in (insecure_tls_warning(self.config), portability_warning(self.config.gateway.topic_prefix)):
            if warning:
                log.warning(warning)
        return sensors

    async def _run(self, sensors: list[Sensor], outbox: DurableOutbox) -> None:
        control = ControlLane(
            outbox,
            self.stats,
            max_payload_bytes=self.config.mqtt.max_payload_bytes,
            max_attempts=self.config.outbox.max_attempts,
        )
        lanes = self._lanes = Lanes(control, outbox)
        self._states = LastStates(outbox)  # Home Assistant's re-announce replays the last states
        self._control_states = self._states.view(control)  # output states, availability, discovery configs
        pipeline = Pipeline(self._states, self.stats, control=control)
        self._homeassistant = HomeAssistant(self.config, self._control_states, self.state_dir)
        outputs = self._outputs.open(self.config, self._control_states)
        async with asyncio.TaskGroup() as group:
            storing = group.create_task(outbox.run(), name="outbox")
            publisher = self._start_publisher(group, lanes)
            self._inputs.start(group, sensors, pipeline)
            await self._until_ready(publisher)
            supervising = group.create_task(self._supervise(storing), name="supervisor")
            while await self._next_request() == "reload":
                await self._reload(group, lanes, pipeline)
            log.info("stopping", buffered=len(lanes))
            self._notifier.notify("STOPPING=1", f"STATUS=stopping, flushing {len(lanes)} messages")
            supervising.cancel()
            await self._inputs.stop()  # no more edges once we flush
            outputs.shut_down()  # failsafe states, published with the flush
            await self._stop_publisher()
            outbox.stop()  # close() writes what is left

    def _start_publisher(self, group: asyncio.TaskGroup, outbox: Lanes) -> Publisher:
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
            receiver=Receivers(*(r for r in (self._outputs.current, self._homeassistant) if r is not None)),
        )
        self._stop_publishing = asyncio.Event()
        self._publishing = group.create_task(publisher.run(self._stop_publishing), name="publisher")
        return publisher

    async def _stop_publisher(self) -> None:
        """Flush (within the shutdown timeout), publish `offline` and disconnect."""
        self._stop_publishing.set()
        await self._publishing

    def _pin_factory(self, config: GatewayConfig) -> Any:
        if self._factory is None:
            self._factory = self._injected_factory or open_pin_factory(config.gpio.pin_factory)
        return self._factory

    async def _next_request(self) -> Literal["stop", "reload"]:
        """Wait for a stop or a reload request; a stop wins when both are pending."""
        await _first_set(self._stop, self._reload_requested)
        if self._stop.is_set():
            return "stop"
        self._reload_requested.clear()
        return "reload"

    async def _reload(self, group: asyncio.TaskGroup, outbox: Lanes, pipeline: Pipeline) -> None:
        """Apply a new config file: swap the inputs, swap the outputs, restart the publisher, each only if changed."""
        plan = await self._plan_reload()
        if plan is None:
            return
        self._reloading = True
        try:
            if plan.sensors_changed and not await self._swap_inputs(group, pipeline, plan.config):
                return
            config = plan.config
            if plan.outputs_changed and not self._outputs.swap(config, self.config, self._control_states):
                config = config.model_copy(update={"outputs": self.config.outputs})
            self.config, self._password = config, plan.password
            self.topics = Topics(self.config.gateway.topic_prefix, self.config.gateway.id)
            self._homeassistant.update(self.config)
            self._states.forget_all_but(self.config)  # a removed sensor's last state is never replayed
            await self._reconnect_or_announce(group, outbox, reconnect=plan.connection_changed)
        finally:
            self._reloading = False
        log.info(
            "reloaded",
            sensors=len(self.config.sensors),
            sensors_rebuilt=plan.sensors_changed,
            outputs_rebuilt=plan.outputs_changed,
            reconnected=plan.connection_changed,
            buffered=len(outbox),
        )

    async def _plan_reload(self) -> ReloadPlan | None:
        """Read the config file again and plan what changes; None (logged) when there is nothing to apply."""
        if self._config_source is None:
            log.warning("reload ignored: the gateway was not started from a config file")
            return None
        try:
            loaded = await asyncio.to_thread(self._config_source)
            plan = plan_reload(self.config, self._password, loaded.config, loaded.password)
        except GatewayError as exc:
            log.error("reload refused, the running configuration is kept", error=str(exc))
            return None
        if plan.needs_restart:
            log.warning("reload: these settings take effect at the next restart", settings=list(plan.needs_restart))
        return plan

    async def _reconnect_or_announce(self, group: asyncio.TaskGroup, outbox: Lanes, *, reconnect: bool) -> None:
        if reconnect:
            if warning := insecure_tls_warning(self.config):
                log.warning(warning)
            await self._stop_publisher()
            self._start_publisher(group, outbox)  # it announces again once connected
        elif self.config.homeassistant.enabled:
            self._homeassistant.announce()

    async def _swap_inputs(self, group: asyncio.TaskGroup, pipeline: Pipeline, config: GatewayConfig) -> bool:
        """The new config's sensors, or (when one cannot open) the running ones again."""
        try:
            return await self._inputs.swap(group, pipeline, config, self.config)
        except GatewayError as exc:
            log.error("reload refused, the running configuration is kept", error=str(exc))
            return False

    def _status_line(self) -> str:
        return status_line(self.stats, self.config.mqtt.nodes[0], self.buffered)

    async def _supervise(self, storing: asyncio.Task[None]) -> None:
        """Ping systemd's watchdog only while the loop runs this task and every vital task is alive."""

        def alive() -> bool:
            return self._reloading or all(not task.done() for task in self._vital(storing))

        await keep_watchdog_fed(self._notifier, self._status_line, alive)
        if self._notifier.enabled:
            ended = [task.get_name() for task in self._vital(storing) if task.done()]
            log.error("a vital task ended: no more watchdog pings", tasks=ended)

    def _vital(self, storing: asyncio.Task[None]) -> tuple[asyncio.Task[None], ...]:
        """The tasks whose end means the gateway no longer works: storage, publishing, sampling."""
        sampling = (self._inputs.task,) if self._inputs.task is not None else ()
        return (storing, self._publishing, *sampling)

    async def _until_ready(self, publisher: Publisher) -> None:
        # Ready once devices are up and the first connection was attempted; never wait for the broker itself.
        await _first_set(publisher.first_attempt_done, self._stop)
        self.ready.set()
        self._notifier.notify("READY=1", self._status_line())
        log.info("ready", connected=publisher.connected.is_set())

    def _close(self) -> None:
        self._inputs.close()
        self._outputs.close()
        if self._factory is not None and self._injected_factory is None:
            with suppress(Exception):
                close_pin_factory(self._factory)


async def _first_set(*events: asyncio.Event) -> None:
    """Return as soon as one of `events` is set."""
    waits = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
