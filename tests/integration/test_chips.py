"""Chip kinds in a running gateway against a real broker: a BME280 through the kernel's files and through our
own driver (real smbus2 over a register-map simulator), its readings, units, precision and Home Assistant device."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from gateway.devices.i2c.simulators import SimulatedBme280, SimulatedI2c, attached
from gateway.devices.kernel import faketree
from gateway.plugins import config_model
from tests.integration.broker import Broker
from tests.integration.conftest import subscribe
from tests.integration.gateway_runner import broker_config, running_gateway

BASE = "pi-mqtt-gateway/chips/sensor"  # both tests are gateway `chips`: readings not retained, so never seen twice
QUANTITIES = ("temperature", "humidity", "pressure")


def chip_config(broker: Broker, tmp_path: Path) -> dict[str, Any]:
    """A gateway with a BME280's three quantities, its trees under `tmp_path`, readings not retained."""
    return {
        "gateway": {"id": "chips", "state_dir": str(tmp_path / "state"), "stats_interval": 3600.0},
        "gpio": {"pin_factory": "mock", "simulate": False},
        "mqtt": broker_config(broker.host, broker.port),
        "devices": {"sysfs_root": str(tmp_path / "sys"), "dev_root": str(tmp_path / "dev")},
        "homeassistant": {"enabled": True},
        "sensors": [
            {"id": f"air-{q}", "kind": "bme280", "quantity": q, "interval": 1, "offline_after": 1, "retain": False}
            for q in QUANTITIES
        ],
    }


def latest(received: Any, quantity: str) -> dict[str, Any] | None:
    readings = received.readings(f"{BASE}/air-{quantity}")
    return readings[-1] if readings else None


class TestBme280:
    async def test_the_kernel_route_publishes_each_quantity_in_our_units(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """bmp280.c's m°C, kPa and m%RH arrive as °C, hPa and % with their precision; a vanished device is offline."""
        tree = faketree.bme280(tmp_path / "sys", bus=1, address=0x76)
        # As the driver prints them: in_temp_input 21375 (m°C), in_pressure_input 101.3254 (kPa), 45678 (m%RH).
        (tree.path / "in_temp_input").write_text("21375\n", encoding="ascii")
        (tree.path / "in_pressure_input").write_text("101.325400000\n", encoding="ascii")
        (tree.path / "in_humidityrelative_input").write_text("45678\n", encoding="ascii")
        config = config_model().model_validate(chip_config(broker, tmp_path))
        async with subscribe(broker, "#") as received, running_gateway(config, mock_factory):
            await received.wait_for(lambda r: all(latest(r, q) for q in QUANTITIES))
            shutil.rmtree(tmp_path / "sys" / "devices")  # the driver unbound: the files are gone
            await received.wait_for(
                lambda r: r.payloads(f"{BASE}/air-pressure/availability")[-1:] == [b"offline"], timeout=30
            )
        values = {q: (latest(received, q) or {}) for q in QUANTITIES}
        assert (values["temperature"]["value"], values["temperature"]["unit"]) == (21.375, "°C")  # m°C kept
        assert (values["pressure"]["value"], values["pressure"]["unit"]) == (1013.25, "hPa")
        assert (values["humidity"]["value"], values["humidity"]["unit"]) == (45.7, "%")
        configs = [
            json.loads(payload)
            for topic, payload, _ in received.messages
            if topic.startswith("homeassistant/sensor/chips/air-") and payload
        ]
        assert {c["device"]["name"] for c in configs} == {"chips bme280 i2c-1 0x76"}
        assert {c["device_class"] for c in configs} == {"temperature", "humidity", "atmospheric_pressure"}

    async def test_our_driver_reads_the_chip_over_smbus2(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """With no kernel driver bound, `auto` measures the chip itself; new physical values arrive as readings."""
        chip = SimulatedBme280(temperature=18.5, humidity=60.0, pressure=990.0)
        (tmp_path / "dev").mkdir()
        config = config_model().model_validate(chip_config(broker, tmp_path))
        with attached(SimulatedI2c({0x76: chip}), tmp_path / "dev", 1):
            async with subscribe(broker, f"{BASE}/#") as received, running_gateway(config, mock_factory):
                await received.wait_for(lambda r: all(latest(r, q) for q in QUANTITIES))
                chip.temperature = 25.0
                await received.wait_for(lambda r: abs((latest(r, "temperature") or {})["value"] - 25.0) < 0.02)
        first = {q: received.readings(f"{BASE}/air-{q}")[0]["value"] for q in QUANTITIES}
        assert abs(first["temperature"] - 18.5) < 0.02
        assert abs(first["humidity"] - 60.0) < 0.1
        assert abs(first["pressure"] - 990.0) < 0.02
