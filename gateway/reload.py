"""What a reload (SIGHUP) changes: which parts of a running gateway must be rebuilt for a new config.

Sensors and the broker connection are rebuilt in place; the outbox, the state directory, the pin factory
and logging stay as they started (the outbox holds buffered readings, the factory holds the pins), and a
change to them is reported as taking effect at the next restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config import CounterConfig, GatewayConfig

RESTART_ONLY = ("outbox", "gpio", "logging")  # sections kept as they started; `gateway.state_dir` too


@dataclass(frozen=True)
class ReloadPlan:
    """The config to apply and what applying it rebuilds."""

    config: GatewayConfig
    password: str | None
    sensors_changed: bool
    outputs_changed: bool  # outputs are rebuilt at their initial state, and the connection with them
    connection_changed: bool
    needs_restart: tuple[str, ...]  # settings whose change waits for the next restart


def plan_reload(
    running: GatewayConfig, running_password: str | None, new: GatewayConfig, new_password: str | None
) -> ReloadPlan:
    """Keep the restart-only settings of `running`, and say which parts `new` changes."""
    needs_restart = [name for name in RESTART_ONLY if getattr(running, name) != getattr(new, name)]
    if running.gateway.state_dir != new.gateway.state_dir:
        needs_restart.append("gateway.state_dir")
    if running.mqtt.max_payload_bytes != new.mqtt.max_payload_bytes:
        needs_restart.append("mqtt.max_payload_bytes")  # the outbox enforces it
    kept = {name: getattr(running, name) for name in RESTART_ONLY}
    gateway = new.gateway.model_copy(update={"state_dir": running.gateway.state_dir})
    mqtt = new.mqtt.model_copy(update={"max_payload_bytes": running.mqtt.max_payload_bytes})
    config = new.model_copy(update={**kept, "gateway": gateway, "mqtt": mqtt})
    connection_changed = (running.mqtt, running.gateway, running_password) != (
        config.mqtt,
        config.gateway,
        new_password,
    )
    hardware_changed = (running.expanders, running.devices) != (config.expanders, config.devices)
    sensors_changed = hardware_changed or _channel_settings(running) != _channel_settings(config)
    outputs_changed = hardware_changed or (
        running.outputs,
        running.gateway.id,
        running.gateway.topic_prefix,
        running.mqtt.qos,
    ) != (config.outputs, config.gateway.id, config.gateway.topic_prefix, config.mqtt.qos)
    # The command subscriptions go with the outputs and the counters.
    connection_changed = (
        connection_changed
        or outputs_changed
        or _counters(running) != _counters(config)
        or running.homeassistant != config.homeassistant  # its status subscription
    )
    return ReloadPlan(config, new_password, sensors_changed, outputs_changed, connection_changed, tuple(needs_restart))


def _counters(config: GatewayConfig) -> list[str]:
    return [sensor.id for sensor in config.sensors if isinstance(sensor, CounterConfig)]


def _channel_settings(config: GatewayConfig) -> tuple[object, ...]:
    # What a sensor's channel is built from: its config, its topic (gateway id, prefix), QoS and limits.
    gateway, mqtt = config.gateway, config.mqtt
    return (config.sensors, gateway.id, gateway.topic_prefix, mqtt.qos, mqtt.max_topic_bytes)
