"""Reloading the config (SIGHUP) against a real mosquitto: sensors swapped, buffered readings kept."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from gpiozero import LED
from gpiozero.pins.mock import MockFactory
from structlog.testing import capture_logs

from gateway.cli.config_edit import render_toml
from gateway.config import GatewayConfig
from gateway.config_loader import LoadedConfig, load_config, loaded_from
from gateway.errors import ConfigError, ConfigProblem
from gateway.server import Gateway
from tests.conftest import make_config, toggle
from tests.integration.broker import Broker, free_port
from tests.integration.conftest import subscribe, wait_until
from tests.integration.gateway_runner import OutputLines, broker_config, start_process
from tests.integration.ledger import Ledger

PIN_A, PIN_B = 27, 22
REFUSED = "reload refused, the running configuration is kept"


def two_sensor_config(
    tmp_path: Path, port: int, sensors: list[str], gateway_id: str = "reload", **mqtt: Any
) -> GatewayConfig:
    """Edge inputs `a` (pin 27) and/or `b` (pin 22), not retained, on gateway `reload` unless told."""
    pins = {"a": PIN_A, "b": PIN_B}
    specs = [{"id": name, "kind": "digital_input", "pin": pins[name], "retain": False} for name in sensors]
    return make_config(tmp_path, specs, gateway={"id": gateway_id}, mqtt=broker_config("127.0.0.1", port, **mqtt))


class Source:
    """A config source for the gateway: returns the next config, or raises what it was given."""

    def __init__(self) -> None:
        self.next: GatewayConfig | ConfigError | None = None

    def __call__(self) -> LoadedConfig:
        if isinstance(self.next, ConfigError):
            raise self.next
        assert self.next is not None
        return loaded_from(self.next)


def reloadable(config: GatewayConfig, factory: MockFactory) -> tuple[Gateway, Source]:
    """A gateway on `factory` whose reloads read from the returned Source."""
    source = Source()
    return Gateway(loaded_from(config), pin_factory=factory, config_source=source), source


async def serve(gateway: Gateway) -> asyncio.Task[None]:
    """Start `gateway` and wait until it is ready."""
    task = asyncio.create_task(gateway.serve())
    await wait_until(lambda: gateway.ready.is_set() or task.done(), what="the gateway ready")
    return task


async def reloaded(
    gateway: Gateway, source: Source, config: GatewayConfig | ConfigError
) -> list[MutableMapping[str, Any]]:
    """Ask for a reload to `config` and return the log lines it produced."""
    source.next = config
    with capture_logs() as logs:
        gateway.request_reload()
        await wait_until(
            lambda: any(line["event"] in {"reloaded", REFUSED} for line in logs),
            what="the reload finishing",
        )
    return logs


class TestReload:
    async def test_added_and_removed_sensors_apply_without_a_reconnect(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """A sensor added and one removed take effect; the connection stays up (no `offline` on the status topic)."""
        # A gateway id of its own: the shared broker keeps the retained `offline` of the other tests' `reload`.
        gateway, source = reloadable(two_sensor_config(tmp_path, broker.port, ["a"], "reload-swap"), mock_factory)
        async with subscribe(broker, "pi-mqtt-gateway/reload-swap/#") as received:
            task = await serve(gateway)
            await received.wait_for(lambda r: len(r.readings("pi-mqtt-gateway/reload-swap/sensor/a")) == 1)
            logs = await reloaded(gateway, source, two_sensor_config(tmp_path, broker.port, ["b"], "reload-swap"))
            assert next(line for line in logs if line["event"] == "reloaded")["reconnected"] is False
            toggle(mock_factory, PIN_A, 3)  # no longer a sensor: nothing published
            toggle(mock_factory, PIN_B, 3)
            await received.wait_for(lambda r: len(r.readings("pi-mqtt-gateway/reload-swap/sensor/b")) == 4)
            gateway.request_stop()
            await task
        assert len(received.readings("pi-mqtt-gateway/reload-swap/sensor/a")) == 1
        assert received.payloads("pi-mqtt-gateway/reload-swap/status") == [b"online", b"offline"]  # one session
        assert gateway.stats.reconnects == 0
        seqs = [r["seq"] for r in received.readings("pi-mqtt-gateway/reload-swap/sensor/b")]
        assert seqs == sorted(seqs)

    async def test_buffered_readings_survive_a_reload_that_changes_sensors_and_broker(
        self, own_broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """Readings buffered while the broker is unreachable are all delivered, in order, after a reload to it."""
        nowhere = free_port()
        gateway, source = reloadable(two_sensor_config(tmp_path, nowhere, ["a"]), mock_factory)
        async with Ledger(own_broker, "pi-mqtt-gateway/reload/sensor/+", "reload-ledger") as ledger:
            task = await serve(gateway)
            toggle(mock_factory, PIN_A, 40)
            await wait_until(lambda: gateway.buffered == 41, what="41 readings buffered")
            logs = await reloaded(gateway, source, two_sensor_config(tmp_path, own_broker.port, ["a", "b"]))
            assert next(line for line in logs if line["event"] == "reloaded")["reconnected"] is True
            toggle(mock_factory, PIN_B, 5)
            await wait_until(lambda: gateway.buffered == 0 and gateway.stats.published == 48, what="all delivered")
            gateway.request_stop()
            await task
            expected = set(range(1, 49))  # 41 buffered, a's new start-up reading, b's start-up reading + 5 edges
            await ledger.wait_for_seqs(expected)
        verdict = ledger.verdict(expected)
        assert verdict.lost == [], str(verdict)
        assert verdict.out_of_order == 0, str(verdict)

    async def test_an_invalid_new_config_is_refused_and_the_old_one_keeps_running(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """A reload to an invalid config logs every problem once and changes nothing: the old sensors still publish."""
        gateway, source = reloadable(two_sensor_config(tmp_path, broker.port, ["a"]), mock_factory)
        async with subscribe(broker, "pi-mqtt-gateway/reload/sensor/a") as received:
            task = await serve(gateway)
            problem = ConfigError("config.toml", [ConfigProblem("sensors[0].pin", "Input should be an integer")])
            logs = await reloaded(gateway, source, problem)
            refusals = [line for line in logs if line["event"] == REFUSED]
            assert len(refusals) == 1
            assert "sensors[0].pin" in refusals[0]["error"]
            toggle(mock_factory, PIN_A, 2)
            await received.wait_for(lambda r: len(r.readings("pi-mqtt-gateway/reload/sensor/a")) == 3)
            gateway.request_stop()
            await task

    async def test_a_device_that_cannot_open_refuses_the_reload_and_reopens_the_old_sensors(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """A new sensor on a pin something else holds is refused; the old sensor is back and publishing."""
        gateway, source = reloadable(two_sensor_config(tmp_path, broker.port, ["a"]), mock_factory)
        holder = LED(PIN_B, pin_factory=mock_factory)  # another program's device on pin 22
        async with subscribe(broker, "pi-mqtt-gateway/reload/sensor/+") as received:
            task = await serve(gateway)
            logs = await reloaded(gateway, source, two_sensor_config(tmp_path, broker.port, ["a", "b"]))
            refusals = [line for line in logs if line["event"] == REFUSED]
            assert len(refusals) == 1
            assert "22" in refusals[0]["error"]
            toggle(mock_factory, PIN_A, 2)
            await received.wait_for(lambda r: len(r.readings("pi-mqtt-gateway/reload/sensor/a")) >= 4)
            gateway.request_stop()
            await task
        holder.close()
        assert received.readings("pi-mqtt-gateway/reload/sensor/b") == []
        assert [sensor.id for sensor in gateway.config.sensors] == ["a"]
        readings = received.readings("pi-mqtt-gateway/reload/sensor/a")
        assert [r["value"] for r in readings[-2:]] == [True, False]  # the reopened input follows the pin


class TestSighup:
    async def test_sighup_rereads_the_file_and_refuses_a_broken_one(self, broker: Broker, tmp_path: Path) -> None:
        """A real process: SIGHUP after an edit applies it; SIGHUP after breaking the file keeps it running."""
        config = make_config(
            tmp_path,
            [{"id": "load", "kind": "load_average", "interval": 0.2}],
            gateway={"id": "hup", "stats_interval": 3600.0},
            mqtt=broker_config(broker.host, broker.port),
            logging={"format": "json"},
        )
        path = tmp_path / "config.toml"
        path.write_text(render_toml(config.model_dump(mode="json", exclude_none=True)), encoding="utf-8")
        load_config(path)  # the file we wrote is valid
        async with subscribe(broker, "pi-mqtt-gateway/hup/sensor/+") as received:
            process = start_process(path)
            output = OutputLines(process)
            try:
                await output.wait_for('"event": "ready"')
                edited = path.read_text(encoding="utf-8").replace('id = "load"', 'id = "load2"')
                path.write_text(edited, encoding="utf-8")
                os.kill(process.pid, signal.SIGHUP)
                await output.wait_for('"event": "reloaded"')
                await received.wait_for(lambda r: len(r.readings("pi-mqtt-gateway/hup/sensor/load2")) >= 1)
                path.write_text(edited.replace("interval = 0.2", 'interval = "often"'), encoding="utf-8")
                os.kill(process.pid, signal.SIGHUP)
                refusal = await output.wait_for("reload refused")
                before = len(received.readings("pi-mqtt-gateway/hup/sensor/load2"))
                await received.wait_for(lambda r: len(r.readings("pi-mqtt-gateway/hup/sensor/load2")) > before)
                process.send_signal(signal.SIGTERM)
                code = await asyncio.to_thread(process.wait, 30)
            finally:
                output.close()
        assert "interval" in refusal
        assert str(path) in refusal
        assert code == 0
