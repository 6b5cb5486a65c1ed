"""Home Assistant discovery against a real mosquitto: a subscriber plays Home Assistant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from gateway.config import GatewayConfig
from gateway.homeassistant.discovery import config_topic, entities
from gateway.topics import topic_matches
from tests.conftest import make_config
from tests.integration.broker import Broker, connected_client
from tests.integration.conftest import Received, subscribe
from tests.integration.gateway_runner import broker_config, running_gateway
from tests.integration.test_reload import reloadable, reloaded, serve

SENSORS: list[dict[str, Any]] = [
    {"id": "door", "kind": "digital_input", "pin": 27},
    {"id": "load", "kind": "load_average", "interval": 0.2},
]
OUTPUTS: list[dict[str, Any]] = [{"id": "pump", "kind": "relay", "pin": 5}]


def ha_config(state_dir: Path, broker: Broker, gateway_id: str, sensors: list[dict[str, Any]]) -> GatewayConfig:
    return make_config(
        state_dir,
        sensors,
        outputs=OUTPUTS,
        gateway={"id": gateway_id, "stats_interval": 3600.0},
        mqtt=broker_config(broker.host, broker.port),
        homeassistant={"enabled": True},
    )


def configs(received: Received, gateway_id: str) -> dict[str, bytes]:
    """The latest payload per discovery config topic of one gateway."""
    found: dict[str, bytes] = {}
    for topic, payload, _retained in received.messages:
        if topic.startswith("homeassistant/") and f"/{gateway_id}/" in topic and topic.endswith("/config"):
            found[topic] = payload
    return found


class TestHomeAssistant:
    async def test_online_brings_every_config_then_every_state(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """After `online` on homeassistant/status: all configs again, then the sensor and output states."""
        config = ha_config(tmp_path, broker, "ha1", SENSORS)
        expected = len(entities(config))  # door, load, pump and 4 diagnostics
        states = {"pi-mqtt-gateway/ha1/sensor/door", "pi-mqtt-gateway/ha1/output/pump"}
        async with running_gateway(config, mock_factory), subscribe(broker, "#") as ha:
            await ha.wait_for(lambda r: len(configs(r, "ha1")) == expected)
            await ha.wait_for(lambda r: all(r.payloads(topic) for topic in states))
            ha.messages.clear()
            async with connected_client(broker) as client:
                await client.publish("homeassistant/status", b"online")
            await ha.wait_for(lambda r: len(configs(r, "ha1")) == expected)
            await ha.wait_for(lambda r: all(r.payloads(topic) for topic in states))
        topics = [topic for topic, _p, _r in ha.messages]
        last_config = max(i for i, t in enumerate(topics) if t.startswith("homeassistant/") and "/ha1/" in t)
        first_state = min(i for i, t in enumerate(topics) if t in states)
        assert last_config < first_state  # configs first, then states
        door = json.loads(configs(ha, "ha1")["homeassistant/binary_sensor/ha1/door/config"])
        assert door["device"]["identifiers"] == ["pi-mqtt-gateway_ha1"]
        assert door["availability"][0]["topic"] == "pi-mqtt-gateway/ha1/status"

    async def test_a_removed_sensor_is_cleared_at_the_next_start(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """Drop a sensor from the config and restart: its config topic gets an empty retained payload."""
        load = "homeassistant/sensor/ha2/load/config"
        with_load, without_load = (
            ha_config(tmp_path, broker, "ha2", SENSORS),
            ha_config(tmp_path, broker, "ha2", SENSORS[:1]),
        )
        async with running_gateway(with_load, mock_factory), subscribe(broker, "homeassistant/#") as first:
            await first.wait_for(lambda r: load in configs(r, "ha2"))
        # Subscribe first: the empty config deletes the retained one, so only a live subscriber sees it.
        async with subscribe(broker, load) as second, running_gateway(without_load, mock_factory):
            await second.wait_for(lambda r: r.payloads(load)[-1:] == [b""])
        async with subscribe(broker, "homeassistant/+/ha2/#") as later:
            await later.wait_for(lambda r: "homeassistant/binary_sensor/ha2/door/config" in configs(r, "ha2"))
        assert load not in configs(later, "ha2")  # nothing retained any more

    async def test_two_gateways_announce_disjoint_entities_and_devices(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """Two gateways on one broker: no unique_id and no device identifier in common."""
        other_pins = MockFactory()
        try:
            async with (
                subscribe(broker, "homeassistant/#") as ha,
                running_gateway(ha_config(tmp_path / "a", broker, "ha3a", SENSORS), mock_factory),
                running_gateway(ha_config(tmp_path / "b", broker, "ha3b", SENSORS), other_pins),
            ):
                await ha.wait_for(lambda r: len(configs(r, "ha3a")) == 7 and len(configs(r, "ha3b")) == 7)
        finally:
            other_pins.close()
        payloads = {gw: [json.loads(p) for p in configs(ha, gw).values()] for gw in ("ha3a", "ha3b")}
        unique = {gw: {p["unique_id"] for p in found} for gw, found in payloads.items()}
        devices = {gw: {tuple(p["device"]["identifiers"]) for p in found} for gw, found in payloads.items()}
        assert unique["ha3a"].isdisjoint(unique["ha3b"])
        assert devices["ha3a"].isdisjoint(devices["ha3b"])
        assert devices == {"ha3a": {("pi-mqtt-gateway_ha3a",)}, "ha3b": {("pi-mqtt-gateway_ha3b",)}}

    async def test_a_non_retained_sensor_config_precedes_its_first_reading(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """On the wire, every sensor's config comes before its first reading, retained or not."""
        sensors = [
            {"id": "door", "kind": "digital_input", "pin": 27, "retain": False},
            {"id": "load", "kind": "load_average", "interval": 0.05, "retain": False},
        ]
        config = ha_config(tmp_path, broker, "ha4", sensors)
        async with subscribe(broker, "#") as wire, running_gateway(config, mock_factory):
            await wire.wait_for(lambda r: all(r.payloads(f"pi-mqtt-gateway/ha4/sensor/{s['id']}") for s in sensors))
        topics = [topic for topic, _p, _r in wire.messages]
        for sensor, component in (("door", "binary_sensor"), ("load", "sensor")):
            config_at = topics.index(f"homeassistant/{component}/ha4/{sensor}/config")
            assert config_at < topics.index(f"pi-mqtt-gateway/ha4/sensor/{sensor}"), sensor

    async def test_a_sensor_removed_by_reload_is_never_replayed(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """After SIGHUP removed a sensor, Home Assistant's next `online` replays only the sensors that remain."""
        with_load = ha_config(tmp_path, broker, "ha5", SENSORS)
        gateway, source = reloadable(with_load, mock_factory)
        load = "pi-mqtt-gateway/ha5/sensor/load"
        async with subscribe(broker, "pi-mqtt-gateway/ha5/#") as received:
            task = await serve(gateway)
            await received.wait_for(lambda r: len(r.payloads(load)) >= 1)
            await reloaded(gateway, source, ha_config(tmp_path, broker, "ha5", SENSORS[:1]))
            received.messages.clear()
            async with connected_client(broker) as client:
                await client.publish("homeassistant/status", b"online")
            await received.wait_for(lambda r: len(r.payloads("pi-mqtt-gateway/ha5/sensor/door")) >= 1)
            await received.wait_for(lambda r: len(r.payloads("pi-mqtt-gateway/ha5/output/pump")) >= 1)
            gateway.request_stop()
            await task
        assert received.payloads(load) == []

    async def test_switching_device_discovery_both_ways_leaves_exactly_the_new_mode(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """Per-entity -> device -> per-entity: each switch migrates, then only the new mode's configs stay retained."""
        per_entity = ha_config(tmp_path, broker, "ha6", SENSORS)
        device = per_entity.model_copy(
            update={"homeassistant": per_entity.homeassistant.model_copy(update={"device_discovery": True})}
        )
        entity_topics = set(configs_of(per_entity))
        device_config = "homeassistant/device/ha6/config"
        async with running_gateway(per_entity, mock_factory), subscribe(broker, "homeassistant/+/ha6/#") as first:
            await first.wait_for(lambda r: set(configs(r, "ha6")) == entity_topics)
        async with subscribe(broker, "homeassistant/+/ha6/#") as switch, running_gateway(device, mock_factory):
            await switch.wait_for(lambda r: all(r.payloads(t)[-1:] == [b""] for t in entity_topics))
        assert await retained_topics(broker, "homeassistant/+/ha6/#") == {device_config}
        for topic in entity_topics:
            assert switch.payloads(topic)[-2:] == [MIGRATE, b""], topic
        async with subscribe(broker, "homeassistant/+/ha6/#") as back, running_gateway(per_entity, mock_factory):
            await back.wait_for(lambda r: r.payloads(device_config)[-1:] == [b""])
        assert await retained_topics(broker, "homeassistant/+/ha6/#") == entity_topics
        assert back.payloads(device_config)[-2:] == [MIGRATE, b""]


MIGRATE = b'{"migrate_discovery":true}'


def configs_of(config: GatewayConfig) -> list[str]:
    """The per-entity config topics a config announces."""
    return [config_topic(config, entity) for entity in entities(config)]


async def retained_topics(broker: Broker, topic_filter: str) -> set[str]:
    """The topics under `topic_filter` with a retained message now (a sentinel marks the end of the replay)."""
    sentinel = "homeassistant/sentinel/ha-test/end"
    async with subscribe(broker, f"{topic_filter.split('/', maxsplit=1)[0]}/#") as received:
        async with connected_client(broker) as client:
            await client.publish(sentinel, b"end")
        await received.wait_for(lambda r: bool(r.payloads(sentinel)))
    return {
        topic
        for topic, payload, retained in received.messages
        if retained and payload and topic_matches(topic_filter, topic)
    }
