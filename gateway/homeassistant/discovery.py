"""Home Assistant MQTT discovery: what the gateway announces, built from the config alone (pure).

One retained config per entity on `<discovery prefix>/<component>/<gateway id>/<object id>/config`, with
full key names, a `unique_id` made of the gateway and entity ids (two gateways never collide), one device
per gateway, an `origin` block, and availability tied to the gateway's Last Will (plus the sensor's own
availability topic for polled sensors). Values come from our JSON readings through `value_template`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from gateway import __version__
from gateway.config import (
    BinaryInput,
    ButtonConfig,
    CounterConfig,
    GatewayConfig,
    HeartbeatFilter,
    OutputConfig,
    PluginSensorBase,
    PolledSensor,
    PwmConfig,
    SensorConfig,
    sensor_unit,
)
from gateway.homeassistant.units import display_precision, sensor_classes
from gateway.topics import Topics

ORIGIN = {
    "name": "pi-mqtt-gateway",
    "sw_version": __version__,
    "support_url": "https://github.com/pi-mqtt-gateway/pi-mqtt-gateway",
}
DIAGNOSTICS = (  # (stats key, name, unit, device_class, state_class)
    ("buffered", "Outbox depth", None, None, "measurement"),
    ("dropped", "Readings dropped", None, None, "total_increasing"),
    ("reconnects", "Reconnects", None, None, "total_increasing"),
    ("uptime", "Uptime", "s", "duration", "measurement"),
)
BINARY_TEMPLATE = "{{ 'ON' if value_json.value else 'OFF' }}"
VALUE_TEMPLATE = "{{ value_json.value }}"


@dataclass(frozen=True)
class Entity:
    """One discovered entity: its component, object id and config payload (without device and origin)."""

    component: str
    object_id: str
    config: dict[str, Any]
    chip: dict[str, Any] | None = None  # the device block of the chip it reads, grouped under the gateway


def entities(config: GatewayConfig) -> list[Entity]:
    """Every entity the gateway announces, in a stable order: sensors, extras, outputs, diagnostics."""
    topics = Topics(config.gateway.topic_prefix, config.gateway.id)
    found: list[Entity] = []
    for sensor in config.sensors:
        found += _sensor_entities(sensor, topics, _chip_device(config, sensor))
    found += [_output_entity(output, topics) for output in config.outputs]
    found += _diagnostics(topics)
    return found


def device(config: GatewayConfig) -> dict[str, Any]:
    """The device block: one per gateway, identified by its id."""
    return {
        "identifiers": [f"pi-mqtt-gateway_{config.gateway.id}"],
        "name": config.homeassistant.device_name or config.gateway.id,
        "manufacturer": "pi-mqtt-gateway",
        "model": "Raspberry Pi GPIO gateway",
        "sw_version": __version__,
    }


def _chip_device(config: GatewayConfig, sensor: SensorConfig) -> dict[str, Any] | None:
    """A chip read by several entries is one device of its own (its entities together), via the gateway."""
    name = sensor.chip_name() if isinstance(sensor, PluginSensorBase) else None
    if name is None:
        return None
    gateway = device(config)
    return {
        "identifiers": [f"{gateway['identifiers'][0]}_{re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')}"],
        "name": f"{gateway['name']} {name}",
        "model": sensor.kind,
        "via_device": gateway["identifiers"][0],
    }


def config_topic(config: GatewayConfig, entity: Entity) -> str:
    """`<discovery prefix>/<component>/<gateway id>/<object id>/config`."""
    prefix = config.homeassistant.discovery_prefix
    return f"{prefix}/{entity.component}/{config.gateway.id}/{entity.object_id}/config"


def entity_payload(config: GatewayConfig, entity: Entity) -> dict[str, Any]:
    """The full per-entity discovery payload: the entity's keys plus device and origin."""
    return {**entity.config, "device": entity.chip or device(config), "origin": ORIGIN}


def device_topic(config: GatewayConfig) -> str:
    """`<discovery prefix>/device/<gateway id>/config` (device-based discovery)."""
    return f"{config.homeassistant.discovery_prefix}/device/{config.gateway.id}/config"


def device_payload(config: GatewayConfig, removed: dict[str, str]) -> dict[str, Any]:
    """One device config with every entity under `components`; `removed` (object id -> component) go away."""
    components = {e.object_id: {"platform": e.component, **e.config} for e in entities(config)}
    components |= {object_id: {"platform": component} for object_id, component in removed.items()}
    return {"device": device(config), "origin": ORIGIN, "components": components}


def _unique(topics: Topics, object_id: str) -> str:
    return f"pi-mqtt-gateway_{topics.gateway_id}_{object_id}"


def _availability(topics: Topics, sensor_topic: str | None = None) -> dict[str, Any]:
    sources: list[dict[str, str]] = [
        {"topic": topics.status, "payload_available": "online", "payload_not_available": "offline"}
    ]
    if sensor_topic is not None:
        sources.append({"topic": f"{sensor_topic}/availability"})
    return {"availability": sources, "availability_mode": "all"}


def _entity_ids(component: str, topics: Topics, object_id: str) -> dict[str, str]:
    """The entity id Home Assistant should give a new entity: `default_entity_id` (2025.10+, which wins) and
    `object_id` (read by older releases, ignored by newer ones); both give `<component>.<gateway>_<object>`."""
    entity_object_id = f"{topics.gateway_id}_{object_id}"
    return {"object_id": entity_object_id, "default_entity_id": f"{component}.{entity_object_id}"}


def _base(
    component: str, topics: Topics, object_id: str, name: str, availability_of: str | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "unique_id": _unique(topics, object_id),
        **_entity_ids(component, topics, object_id),
        **_availability(topics, availability_of),
    }


def _sensor_entities(sensor: SensorConfig, topics: Topics, chip: dict[str, Any] | None = None) -> list[Entity]:
    topic = topics.sensor(sensor.id)
    name = sensor.name or sensor.id
    if isinstance(sensor, BinaryInput):
        binary = _base("binary_sensor", topics, sensor.id, name) | {
            "state_topic": topic,
            "value_template": BINARY_TEMPLATE,
            "payload_on": "ON",
            "payload_off": "OFF",
        }
        found = [Entity("binary_sensor", sensor.id, binary | _classes(sensor, with_unit=False))]
        if isinstance(sensor, ButtonConfig) and sensor.gestures is not None:
            found.append(_event_entity(sensor.id, name, topics))
        return found
    polled = isinstance(sensor, PolledSensor)
    numeric = _base("sensor", topics, sensor.id, name, topic if polled else None) | {
        "state_topic": topic,
        "value_template": VALUE_TEMPLATE,
    }
    numeric |= _classes(sensor, with_unit=True)
    if (expire := _expire_after(sensor)) is not None:
        numeric["expire_after"] = expire
    found = [Entity("sensor", sensor.id, numeric, chip)]
    if isinstance(sensor, CounterConfig):
        rate = _base("sensor", topics, f"{sensor.id}_rate", f"{name} rate", topic) | {
            "state_topic": f"{topic}/rate",
            "value_template": VALUE_TEMPLATE,
            "unit_of_measurement": f"{sensor_unit(sensor) or 'pulses'}/{sensor.rate_per}",
            "state_class": "measurement",
        }
        found.append(Entity("sensor", f"{sensor.id}_rate", rate))
    return found


def _classes(sensor: SensorConfig, *, with_unit: bool) -> dict[str, Any]:
    """device_class, state_class, unit and display precision: the kind's defaults, then the sensor's overrides."""
    overrides = sensor.homeassistant.model_dump() if sensor.homeassistant is not None else None
    if not with_unit:  # a binary sensor: a device class only
        keys = sensor_classes(sensor.kind, None, overrides)
        return {k: keys[k] for k in ("device_class", "icon") if k in keys}
    unit = sensor_unit(sensor)
    measures = sensor.measures() if isinstance(sensor, PolledSensor) else None
    if measures is None:
        precision = display_precision(sensor.kind, unit)
        keys = sensor_classes(sensor.kind, unit, overrides)
    else:
        precision = measures.display_precision
        defaults = {"device_class": measures.device_class, "state_class": measures.state_class}
        chosen = {key: value for key, value in (overrides or {}).items() if value is not None}
        keys = sensor_classes(sensor.kind, unit, defaults | chosen)
    if precision is not None and "suggested_display_precision" not in keys:
        keys["suggested_display_precision"] = precision
    return keys


def _expire_after(sensor: SensorConfig) -> int | None:
    """Three missed intervals: of the heartbeat when there is one, else of the polling, unless filters hold."""
    heartbeats = [f.interval for f in sensor.filters if isinstance(f, HeartbeatFilter)]
    if heartbeats:
        return math.ceil(3 * heartbeats[-1])
    if not isinstance(sensor, PolledSensor) or any(f.type in {"deadband", "throttle"} for f in sensor.filters):
        return None  # a quiet sensor is not a stale one
    return max(math.ceil(3 * sensor.interval), 10)


def _event_entity(sensor_id: str, name: str, topics: Topics) -> Entity:
    event = _base("event", topics, f"{sensor_id}_event", f"{name} press") | {
        "state_topic": f"{topics.sensor(sensor_id)}/event",
        "event_types": ["single", "double", "long"],
        "value_template": "{{ {'event_type': value_json.event} | tojson }}",
    }
    return Entity("event", f"{sensor_id}_event", event)


def _output_entity(output: OutputConfig, topics: Topics) -> Entity:
    state, command = topics.output(output.id), f"{topics.output(output.id)}/set"
    component = "number" if isinstance(output, PwmConfig) else "light" if output.kind == "led" else "switch"
    base = _base(component, topics, output.id, output.name or output.id) | {
        "state_topic": state,
        "command_topic": command,
    }
    if isinstance(output, PwmConfig):
        number = base | {
            "value_template": VALUE_TEMPLATE,
            "command_template": '{"value": {{ value }}}',
            "min": 0,
            "max": 1,
            "step": 0.01,
            "mode": "slider",
        }
        return Entity("number", output.id, number)
    on_off = {"payload_on": "ON", "payload_off": "OFF"}
    if output.kind == "led":
        return Entity("light", output.id, base | on_off | {"state_value_template": BINARY_TEMPLATE})
    switch = base | on_off | {"value_template": BINARY_TEMPLATE, "state_on": "ON", "state_off": "OFF"}
    return Entity("switch", output.id, switch)


def _diagnostics(topics: Topics) -> list[Entity]:
    found = []
    for key, name, unit, device_class, state_class in DIAGNOSTICS:
        entity = {
            "name": name,
            "unique_id": _unique(topics, f"stats_{key}"),
            **_entity_ids("sensor", topics, f"stats_{key}"),
            "state_topic": topics.stats,
            "value_template": f"{{{{ value_json.{key} }}}}",
            "entity_category": "diagnostic",
            "state_class": state_class,
            **{k: v for k, v in (("unit_of_measurement", unit), ("device_class", device_class)) if v},
            **_availability(topics),
        }
        found.append(Entity("sensor", f"stats_{key}", entity))
    return found
