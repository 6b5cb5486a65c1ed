"""A plugin sensor kind in a running gateway: a DS18B20 on a fake sysfs tree publishes to a real broker."""

from __future__ import annotations

from pathlib import Path

from gpiozero.pins.mock import MockFactory

from gateway.plugins import config_model
from tests.integration.broker import Broker
from tests.integration.conftest import subscribe
from tests.integration.gateway_runner import broker_config, running_gateway
from tests.unit.test_plugins import DEVICE, fake_w1

BASE = "pi-mqtt-gateway/plug/sensor/tank"


class TestPluginSensor:
    async def test_a_ds18b20_reading_arrives_and_failed_crcs_make_it_offline(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """23.125 °C arrives with its unit; after three failed CRC checks the sensor is `offline`."""
        root = fake_w1(tmp_path / "w1")
        tank = {"id": "tank", "kind": "ds18b20", "device_id": DEVICE, "sysfs_root": str(root), "interval": 1}
        data = {
            "gateway": {"id": "plug", "state_dir": str(tmp_path / "state"), "stats_interval": 3600.0},
            "gpio": {"pin_factory": "mock", "simulate": False},
            "mqtt": broker_config(broker.host, broker.port),
            "sensors": [{**tank, "offline_after": 2}],
        }
        config = config_model().model_validate(data)
        async with subscribe(broker, f"{BASE}/#") as received, running_gateway(config, mock_factory) as gateway:
            await received.wait_for(lambda r: len(r.readings(BASE)) >= 1)
            (root / DEVICE / "w1_slave").write_text("00 : crc=00 NO\n00 t=1\n", encoding="ascii")
            await received.wait_for(lambda r: r.payloads(f"{BASE}/availability")[-1:] == [b"offline"], timeout=30)
            assert gateway.stats.read_errors >= 2
        first = received.readings(BASE)[0]
        assert (first["value"], first["unit"]) == (23.125, "°C")
        assert received.payloads(f"{BASE}/availability") == [b"online", b"offline"]
