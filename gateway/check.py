"""`pi-mqtt-gateway check`: the config, the pin factory, every device and the broker, as a checklist."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from gateway.devices.pins import close_pin_factory, open_pin_factory
from gateway.devices.sensors import open_sensor
from gateway.devices.simulation import Simulator
from gateway.errors import EX_FAILURE, EX_OK, GatewayError, TransportError
from gateway.mqtt import MqttTransport, connection_error_hint
from gateway.settings import LoadedConfig
from gateway.statedir import resolve_state_dir
from gateway.topics import Topics

OK, FAIL = "ok  ", "FAIL"


async def run_check(loaded: LoadedConfig, *, timeout: float) -> int:
    """Print one line per check; 0 when all pass, 1 otherwise (an invalid config never gets here: 78)."""
    config = loaded.config
    _line(OK, f"config {loaded.path}: {len(config.sensors)} sensor(s)")
    passed = await asyncio.to_thread(_check_devices, loaded)
    passed = await _check_broker(loaded, timeout) and passed
    return EX_OK if passed else EX_FAILURE


def _check_devices(loaded: LoadedConfig) -> bool:
    config = loaded.config
    try:
        factory: Any = open_pin_factory(config.gpio.pin_factory)
    except GatewayError as exc:
        _line(FAIL, f"pin factory {config.gpio.pin_factory!r}: {exc}")
        return False
    _line(OK, f"pin factory {config.gpio.pin_factory!r}: {type(factory).__name__}")
    passed = True
    try:
        sensors = list(config.sensors)
        if config.gpio.simulated:
            sensors = Simulator(factory, resolve_state_dir(config.gateway.state_dir)).prepare(sensors)
        for sensor in sensors:
            try:
                driver = open_sensor(sensor, factory)
                try:
                    _line(OK, f"sensor {sensor.id} ({sensor.kind}): {driver.read()!r}")
                finally:
                    driver.close()
            except GatewayError as exc:
                passed = False
                _line(FAIL, f"sensor {sensor.id} ({sensor.kind}): {exc}")
    finally:
        close_pin_factory(factory)
    return passed


async def _check_broker(loaded: LoadedConfig, timeout: float) -> bool:
    from gateway.server import connection_settings  # noqa: PLC0415 - avoids an import cycle at module load

    config = loaded.config
    target = f"{config.mqtt.host}:{config.mqtt.effective_port}"
    settings = connection_settings(config, loaded.password, Topics(config.gateway.topic_prefix, config.gateway.id))
    try:
        async with asyncio.timeout(timeout), MqttTransport(settings).connect():
            pass
    except TimeoutError:
        _line(FAIL, f"broker {target}: no answer within {timeout:g} s")
        return False
    except TransportError as exc:
        _line(FAIL, f"broker {target}: {exc} ({connection_error_hint(exc)})")
        return False
    _line(OK, f"broker {target}: connected")
    return True


def _line(status: str, text: str) -> None:
    print(f"[{status}] {text}", file=sys.stdout, flush=True)  # noqa: T201 - a command-line report
