"""Home Assistant discovery payloads: golden files for every kind, unique ids, and the device-based form."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from gateway.config import GatewayConfig
from gateway.homeassistant.discovery import config_topic, device_payload, entities, entity_payload
from gateway.plugins import config_model

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "discovery"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"  # regenerate: UPDATE_GOLDEN=1 scripts/test -k golden

SENSORS: list[dict[str, Any]] = [
    {"id": "doorbell", "kind": "button", "pin": 17, "gestures": {}},
    {"id": "shed-door", "kind": "digital_input", "pin": 27},
    {"id": "hall", "kind": "motion", "pin": 4},
    {"id": "track", "kind": "line", "pin": 22},
    {"id": "soil", "kind": "mcp3008", "channel": 0, "unit": "%", "interval": 5},
    {"id": "daylight", "kind": "light", "pin": 18},
    {"id": "level", "kind": "distance", "echo": 24, "trigger": 23},
    {"id": "cpu", "kind": "cpu_temperature", "homeassistant": {"icon": "mdi:chip"}},
    {"id": "load", "kind": "load_average", "filters": [{"type": "deadband", "delta": 0.1}]},
    {"id": "disk", "kind": "disk_usage", "filters": [{"type": "heartbeat", "interval": 600}]},
    {"id": "water", "kind": "counter", "pin": 5, "unit": "l"},
    {"id": "tank", "kind": "ds18b20", "device_id": "28-0316a2795aff"},
    {"id": "air-temperature", "kind": "bme280", "quantity": "temperature"},
    {"id": "air-humidity", "kind": "bme280", "quantity": "humidity"},
    {"id": "air-pressure", "kind": "bme280", "quantity": "pressure"},
    {"id": "baro", "kind": "bmp280", "quantity": "pressure", "address": 0x77},
    {"id": "cellar", "kind": "sht", "chip": "sht4x", "quantity": "humidity"},
    {"id": "porch", "kind": "bh1750"},
    {"id": "soil-voltage", "kind": "ads1115", "channel": "0-1"},
    {"id": "tank-sender", "kind": "ads1015", "channel": "2", "address": 0x49},
    {"id": "pump-volts", "kind": "ina219", "quantity": "voltage"},
    {"id": "pump-amps", "kind": "ina219", "quantity": "current"},
    {"id": "pump-watts", "kind": "ina219", "quantity": "power"},
    {"id": "shed-humidity", "kind": "dht", "pin": 26, "quantity": "humidity"},
    {"id": "dust-pm25", "kind": "pms5003", "quantity": "pm25", "device": "/dev/ttyUSB0"},
    {"id": "office-co2", "kind": "mhz19", "device": "/dev/ttyUSB1"},
    {"id": "co2", "kind": "iio", "channel": "concentration_co2", "device_name": "scd41"},
    {"id": "board", "kind": "hwmon", "channel": "temp1", "bus": 1, "address": 0x4C},
]
OUTPUTS: list[dict[str, Any]] = [
    {"id": "pump", "kind": "relay", "pin": 6},
    {"id": "valve", "kind": "digital_output", "pin": 12},
    {"id": "lamp", "kind": "led", "pin": 13},
    {"id": "siren", "kind": "buzzer", "pin": 16},
    {"id": "fan", "kind": "pwm", "pin": 19},
]


def every_kind(gateway_id: str = "shed", **homeassistant: Any) -> GatewayConfig:
    return config_model().model_validate(
        {
            "gateway": {"id": gateway_id},
            "gpio": {"pin_factory": "mock"},
            "homeassistant": {"enabled": True, **homeassistant},
            "sensors": SENSORS,
            "outputs": OUTPUTS,
        }
    )


def by_kind(config: GatewayConfig) -> dict[str, dict[str, Any]]:
    """{kind: {config topic: payload}} for every sensor and output kind, and the gateway's diagnostics."""
    kinds = {device.id: device.kind for device in (*config.sensors, *config.outputs)}
    grouped: dict[str, dict[str, Any]] = {}
    for entity in entities(config):
        owner = entity.object_id.removesuffix("_rate").removesuffix("_event")
        kind = kinds.get(owner, "diagnostics")
        grouped.setdefault(kind, {})[config_topic(config, entity)] = entity_payload(config, entity)
    return grouped


class TestGolden:
    @pytest.mark.parametrize(
        "kind",
        [s["kind"] for s in SENSORS] + [o["kind"] for o in OUTPUTS] + ["diagnostics"],
    )
    def test_golden_payloads(self, kind: str) -> None:
        """Each kind's discovery configs equal the readable golden file (tests/golden/discovery/<kind>.json)."""
        produced = by_kind(every_kind())[kind]
        path = GOLDEN / f"{kind}.json"
        if UPDATE:
            path.write_text(json.dumps(produced, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        assert produced == json.loads(path.read_text(encoding="utf-8"))


class TestIdentity:
    def test_two_gateways_share_no_unique_id_or_device(self) -> None:
        """Different gateway ids give disjoint unique_ids and device identifiers (never one merged device)."""
        shed, barn = every_kind("shed"), every_kind("barn")
        ids = [{entity_payload(c, e)["unique_id"] for e in entities(c)} for c in (shed, barn)]
        devices = [{tuple(entity_payload(c, e)["device"]["identifiers"]) for e in entities(c)} for c in (shed, barn)]
        assert ids[0].isdisjoint(ids[1])
        assert devices[0].isdisjoint(devices[1])
        gateway = ("pi-mqtt-gateway_shed",)
        chips = {entity_payload(shed, e)["device"].get("via_device") for e in entities(shed)} - {None}
        assert gateway in devices[0]
        assert chips == {gateway[0]}  # every entity is on the gateway's device or on a chip's device via it

    def test_a_chip_read_by_several_entries_is_one_device(self) -> None:
        """The BME280's three entities share one device (its chip), named by bus and address, under the gateway."""
        config = every_kind()
        chip = {
            e.object_id: entity_payload(config, e)["device"] for e in entities(config) if e.object_id.startswith("air-")
        }
        assert sorted(chip) == ["air-humidity", "air-pressure", "air-temperature"]
        assert len({json.dumps(device, sort_keys=True) for device in chip.values()}) == 1
        assert chip["air-pressure"]["name"] == "shed bme280 i2c-1 0x76"
        assert chip["air-pressure"]["via_device"] == "pi-mqtt-gateway_shed"

    def test_unique_ids_are_unique_within_a_gateway(self) -> None:
        """No two entities of one gateway share a unique_id or a config topic."""
        config = every_kind()
        found = entities(config)
        assert len({entity_payload(config, e)["unique_id"] for e in found}) == len(found)
        assert len({config_topic(config, e) for e in found}) == len(found)

    def test_every_availability_includes_the_last_will_topic(self) -> None:
        """Each entity is unavailable when the gateway is offline (its Last Will), two-valued."""
        config = every_kind()
        for entity in entities(config):
            sources = entity_payload(config, entity)["availability"]
            assert sources[0] == {
                "topic": "pi-mqtt-gateway/shed/status",
                "payload_available": "online",
                "payload_not_available": "offline",
            }


class TestDeviceDiscovery:
    def test_one_device_config_with_every_component(self) -> None:
        """device_discovery puts every entity under `components`, with its platform; removals keep only it."""
        config = every_kind(device_discovery=True)
        payload = device_payload(config, {"old": "sensor"})
        assert payload["device"]["identifiers"] == ["pi-mqtt-gateway_shed"]
        assert payload["origin"]["name"] == "pi-mqtt-gateway"
        assert payload["components"]["pump"]["platform"] == "switch"
        assert payload["components"]["old"] == {"platform": "sensor"}
        assert len(payload["components"]) == len(entities(config)) + 1
