"""End to end against a real mosquitto: MockFactory pins -> gateway -> broker -> subscriber."""

from __future__ import annotations

import json
import threading
import tomllib
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from gateway.devices.simulation import VREF, MockMcp3xxx
from gateway.plugins import BUILTIN_KINDS, config_model
from gateway.reading import Reading
from tests.conftest import make_config, toggle
from tests.integration.broker import Broker
from tests.integration.conftest import Received, subscribe, wait_until
from tests.integration.gateway_runner import broker_config, running_gateway

ROOT = Path(__file__).resolve().parents[2]


class TestEdges:
    async def test_1000_edges_at_1khz_arrive_complete_in_order_with_final_state(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """1,001 edges at 1 kHz: the subscriber gets the start state + every edge, in order, ending right."""
        config = make_config(
            tmp_path,
            [{"id": "edge", "kind": "button", "pin": 17}],
            gateway={"id": "edges-1khz"},
            mqtt=broker_config(broker.host, broker.port),
        )
        topic = "pi-mqtt-gateway/edges-1khz/sensor/edge"
        async with subscribe(broker, topic) as received, running_gateway(config, mock_factory) as gateway:
            await received.wait_for(lambda r: len(r.payloads(topic)) >= 1)
            thread = threading.Thread(target=toggle, args=(mock_factory, 17, 1001, 1000.0))
            thread.start()
            thread.join()
            await received.wait_for(lambda r: len(r.payloads(topic)) >= 1002)
            final_pin_pressed = not mock_factory.pin(17).state  # pulled up: low = pressed
        readings = received.readings(topic)
        assert len(readings) == 1002
        seqs = [r["seq"] for r in readings]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == len(seqs)
        values = [r["value"] for r in readings]
        assert values == [i % 2 == 1 for i in range(1002)]  # strictly alternating from "released"
        assert values[-1] is final_pin_pressed is True
        assert gateway.stats.published >= 1002


class TestValidation:
    async def test_a_bad_reading_is_never_published(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """Readings above `max` are rejected and counted; the subscriber only ever sees valid, gap-free seqs."""
        volts = [VREF * 0.3]
        adc = MockMcp3xxx(mock_factory, 0, 0, "mcp3008")
        adc.voltages[0] = lambda _t: volts[0]
        config = make_config(
            tmp_path,
            [
                {
                    "id": "soil",
                    "kind": "mcp3008",
                    "channel": 0,
                    "scale": 100.0,
                    "interval": 0.05,
                    "min": 0.0,
                    "max": 50.0,
                }
            ],
            gateway={"id": "bad-reading"},
            mqtt=broker_config(broker.host, broker.port),
        )
        topic = "pi-mqtt-gateway/bad-reading/sensor/soil"
        async with subscribe(broker, topic) as received, running_gateway(config, mock_factory) as gateway:
            await received.wait_for(lambda r: len(r.payloads(topic)) >= 2)
            volts[0] = VREF * 0.9  # 90 %: above max
            await wait_until(lambda: gateway.stats.rejected >= 5, what="5 rejections")
            volts[0] = VREF * 0.1
            await received.wait_for(lambda r: any(x["value"] < 20 for x in r.readings(topic)))
        readings = received.readings(topic)
        assert all(0.0 <= r["value"] <= 50.0 for r in readings)
        seqs = [r["seq"] for r in readings]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # rejected readings never took a seq
        assert gateway.stats.rejected >= 5


class TestEverySensorKind:
    async def test_simulated_demo_config_publishes_valid_readings_for_every_kind(
        self, broker: Broker, tmp_path: Path
    ) -> None:
        """The demo config (every built-in kind and chips of each route, simulated) yields a valid reading for every
        sensor."""
        raw: dict[str, Any] = tomllib.loads((ROOT / "config" / "demo.toml").read_text(encoding="utf-8"))
        raw["gateway"].update(id="every-kind", state_dir=str(tmp_path))
        raw["mqtt"] = broker_config(broker.host, broker.port)
        config = config_model().model_validate(raw)
        prefix = "pi-mqtt-gateway/every-kind/sensor/"
        ids = {s.id for s in config.sensors}

        def seen(r: Received) -> set[str]:
            return {t.removeprefix(prefix) for t, _p, _r in r.messages if t.startswith(prefix)}

        async with subscribe(broker, prefix + "+") as received, running_gateway(config):
            await received.wait_for(lambda r: seen(r) >= ids)
        kinds = {s.id: s.kind for s in config.sensors}
        assert set(kinds.values()) >= BUILTIN_KINDS  # every built-in kind is in the demo
        assert {"bme280", "dht", "ina219", "sht", "ds18b20", "pms5003", "mhz19"} <= set(kinds.values())
        for topic, payload, _retained in received.messages:
            body = json.loads(payload)
            seq = body.pop("seq")
            assert isinstance(seq, int)
            reading = Reading.model_validate_json(json.dumps(body))
            assert topic == prefix + reading.sensor
            assert isinstance(reading.value, bool) == (
                kinds[reading.sensor] in {"button", "digital_input", "motion", "line"}
            )


class TestSensorAvailability:
    async def test_a_failing_sensor_goes_offline_and_back_while_the_others_publish(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """A sensor whose file vanishes is `offline` after 3 failed reads, `online` again after it returns."""
        sensor_file = tmp_path / "temp"
        sensor_file.write_text("41000\n", encoding="ascii")
        sensors = [
            {"id": "probe", "kind": "cpu_temperature", "sensor_file": str(sensor_file), "interval": 0.05},
            {"id": "load", "kind": "load_average", "interval": 0.05, "retain": False},
        ]
        config = make_config(tmp_path, sensors, gateway={"id": "avail"}, mqtt=broker_config(broker.host, broker.port))
        base = "pi-mqtt-gateway/avail/sensor"
        async with subscribe(broker, f"{base}/#") as received, running_gateway(config, mock_factory):
            await received.wait_for(lambda r: r.payloads(f"{base}/probe/availability") == [b"online"])
            sensor_file.unlink()
            await received.wait_for(lambda r: r.payloads(f"{base}/probe/availability")[-1:] == [b"offline"])
            loads_while_offline = len(received.payloads(f"{base}/load"))
            await received.wait_for(lambda r: len(r.payloads(f"{base}/load")) > loads_while_offline)
            sensor_file.write_text("42000\n", encoding="ascii")
            await received.wait_for(lambda r: r.payloads(f"{base}/probe/availability")[-1:] == [b"online"])
            probes = len(received.readings(f"{base}/probe"))
            await received.wait_for(lambda r: len(r.readings(f"{base}/probe")) > probes)
        assert received.payloads(f"{base}/probe/availability") == [b"online", b"offline", b"online"]
        assert received.readings(f"{base}/probe")[-1]["value"] == 42.0
        async with subscribe(broker, f"{base}/probe/availability") as later:
            await later.wait_for(lambda r: len(r.messages) == 1)
        assert later.messages == [(f"{base}/probe/availability", b"online", True)]  # kept retained
