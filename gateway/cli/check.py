"""`pi-mqtt-gateway check`: the config, the pin factory, every device and the broker, as a checklist."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys

from gateway.broker_settings import connection_settings, insecure_tls_warning
from gateway.cli.pinmap import conflicts, read_buses
from gateway.config import GatewayConfig
from gateway.config_loader import LoadedConfig
from gateway.devices.probe import pin_factory_for, probe_sensors
from gateway.errors import EX_FAILURE, EX_OK, ConnectionClosedError, GatewayError, TransportError
from gateway.mqtt import MqttSession, MqttTransport, connection_error_hint
from gateway.native import native_problems, needed_modules
from gateway.statedir import resolve_state_dir
from gateway.topics import Topics, portability_warning

OK, WARN, FAIL = "ok  ", "warn", "FAIL"


async def run_check(loaded: LoadedConfig, *, timeout: float) -> int:
    """Print one line per check; 0 when all pass, 1 otherwise (an invalid config never gets here: 78)."""
    config = loaded.config
    _line(OK, f"config {loaded.path}: {len(config.sensors)} sensor(s)")
    passed = _check_native(loaded)
    passed = _check_pins(loaded) and passed
    passed = await asyncio.to_thread(_check_devices, loaded) and passed
    for warning in (insecure_tls_warning(config), portability_warning(config.gateway.topic_prefix)):
        if warning:
            _line(WARN, warning)
    passed = await _check_broker(loaded, timeout) and passed
    return EX_OK if passed else EX_FAILURE


def _check_native(loaded: LoadedConfig) -> bool:
    problems = native_problems(loaded.config)
    for problem in problems:
        _line(FAIL if problem.required else WARN, f"native module {problem}")
    if not problems:
        _line(OK, "native modules: " + ", ".join(module.module for module, _ in needed_modules(loaded.config)))
    return not any(problem.required for problem in problems)


def _check_pins(loaded: LoadedConfig) -> bool:
    buses, source = read_buses()
    problems = conflicts(loaded.config, buses)
    for problem in problems:
        _line(FAIL, f"pins: {problem}")
    if not problems:
        checked = f"buses from {source}" if source else "no config.txt here, bus reservations not checked"
        _line(OK, f"pins: no conflicts ({checked})")
    return not problems


def _check_devices(loaded: LoadedConfig) -> bool:
    config = loaded.config
    try:
        with pin_factory_for(config) as factory:
            _line(OK, f"pin factory {config.gpio.pin_factory!r}: {type(factory).__name__}")
            probes = probe_sensors(factory, config, config.sensors, resolve_state_dir(config.gateway.state_dir))
    except GatewayError as exc:
        _line(FAIL, f"pin factory {config.gpio.pin_factory!r}: {exc}")
        return False
    for probe in probes:
        label = f"sensor {probe.sensor.id} ({probe.sensor.kind})"
        if probe.error:
            _line(FAIL, f"{label}: {probe.error}")
        else:
            _line(OK, f"{label}: {probe.value!r}")
    return all(probe.error is None for probe in probes)


async def _check_broker(loaded: LoadedConfig, timeout: float) -> bool:
    """Every broker node in turn (a cluster's nodes each get their line): all must answer."""
    config = loaded.config
    results = [await _check_node(loaded, node, timeout) for node in config.mqtt.nodes]
    return all(results)


async def _check_node(loaded: LoadedConfig, node: tuple[str, int], timeout: float) -> bool:
    config = loaded.config
    host, port = node
    target = f"{host}:{port}"
    settings = dataclasses.replace(
        connection_settings(config, loaded.password, will_topic=None, client_id=f"pi-mqtt-gateway-check-{os.getpid()}"),
        host=host,
        port=port,
        nodes=(),
    )
    qos2 = _uses_qos2(config)
    try:
        # One attempt: a silence is named as a possible MQTT 5 mismatch at once.
        async with asyncio.timeout(timeout), MqttTransport(settings, mqtt5_doubt_after=1).connect() as session:
            _line(OK, f"broker {target}: connected")
            if qos2:
                await _publish_watched(session, Topics(config.gateway.topic_prefix, config.gateway.id).base + "/check")
    except TimeoutError:
        _line(FAIL, f"broker {target}: no answer within {timeout:g} s")
        return False
    except TransportError as exc:
        if qos2 and isinstance(exc, ConnectionClosedError):
            _line(FAIL, f"broker {target}: it closed the connection on a QoS 2 publish; {QOS2_HINT}")
        else:
            _line(FAIL, f"broker {target}: {exc} ({connection_error_hint(exc)})")
        return False
    if qos2:
        _line(OK, f"broker {target}: accepts QoS 2 publishes")
    return True


QOS2_HINT = "the broker does not support QoS 2 (NATS does not): set mqtt.qos = 1 and remove qos = 2 from the config"


def _uses_qos2(config: GatewayConfig) -> bool:
    qos_values = [config.mqtt.qos, *(s.qos for s in config.sensors), *(o.qos for o in config.outputs)]
    return 2 in qos_values


async def _publish_watched(session: MqttSession, topic: str) -> None:
    """One QoS 2 publish (not retained), ended at once by a broker that closes the connection on it."""
    publishing = asyncio.ensure_future(session.publish(topic, b"check", qos=2, retain=False))
    watching = asyncio.ensure_future(session.wait_closed())
    try:
        await asyncio.wait({publishing, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (publishing, watching):
            task.cancel()
        await asyncio.gather(publishing, watching, return_exceptions=True)
    if publishing.cancelled():
        watching.result()
    publishing.result()


def _line(status: str, text: str) -> None:
    print(f"[{status}] {text}", file=sys.stdout, flush=True)  # noqa: T201 - a command-line report
