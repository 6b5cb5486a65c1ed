"""An MCP23017 in a running gateway against a real broker: a button on an expander pin (INT wired to a Pi pin)
and a relay on another, the chip a register-level simulator behind the real smbus2."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from gateway.devices.expanders.simulators import SimulatedMcp23x, wire_interrupt
from gateway.devices.i2c.simulators import SimulatedI2c, attached
from gateway.plugins import config_model
from tests.integration.broker import Broker
from tests.integration.conftest import subscribe
from tests.integration.gateway_runner import broker_config, running_gateway
from tests.integration.test_commands import send

BASE = "pi-mqtt-gateway/expand"
INT_PIN = 25


@pytest.fixture
def chip(tmp_path: Path, mock_factory: MockFactory) -> Iterator[SimulatedMcp23x]:
    simulated = SimulatedMcp23x("mcp23017")
    (tmp_path / "dev").mkdir()
    with attached(SimulatedI2c({0x20: simulated}), tmp_path / "dev", 1):
        wire_interrupt(simulated, mock_factory, INT_PIN)
        yield simulated


def expander_config(broker: Broker, tmp_path: Path) -> Any:
    return config_model().model_validate(
        {
            "gateway": {"id": "expand", "state_dir": str(tmp_path / "state"), "stats_interval": 3600.0},
            "gpio": {"pin_factory": "mock", "simulate": False},
            "mqtt": broker_config(broker.host, broker.port),
            "devices": {"dev_root": str(tmp_path / "dev")},
            "expanders": [{"id": "porch", "chip": "mcp23017", "address": 0x20, "interrupt_pin": INT_PIN}],
            "sensors": [{"id": "gate", "kind": "button", "expander": "porch", "pin": "A3", "retain": False}],
            "outputs": [
                {"id": "lamp", "kind": "relay", "expander": "porch", "pin": "B0", "initial": "ON"},
                {"id": "fan", "kind": "relay", "expander": "porch", "pin": "B1", "active_high": False},
            ],
        }
    )


class TestExpander:
    async def test_the_last_state_after_1000_toggles_is_the_pins_final_state(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory, chip: SimulatedMcp23x
    ) -> None:
        """1,001 toggles of a button on A3 (INT on GPIO25): the readings alternate in order and the last one is
        the pin's final state (pressed: low), as for a Pi pin."""
        config = expander_config(broker, tmp_path)
        topic = f"{BASE}/sensor/gate"
        async with subscribe(broker, f"{BASE}/#") as received:
            async with running_gateway(config, mock_factory):
                await received.wait_for(lambda r: len(r.readings(topic)) >= 1)
                assert received.readings(topic)[0]["value"] is False  # released: pulled up, high

                def toggle() -> None:
                    for n in range(1001):
                        chip.set_input("A3", n % 2 == 1)  # ends low: pressed

                worker = threading.Thread(target=toggle)
                worker.start()
                await asyncio.to_thread(worker.join)
                await received.wait_for(lambda r: r.readings(topic)[-1]["value"] is True, timeout=60)
            # `offline` is published after every accepted reading (same connection, QoS 1, in order).
            await received.wait_for(lambda r: r.payloads(f"{BASE}/status")[-1:] == [b"offline"])
        values = [reading["value"] for reading in received.readings(topic)]
        assert all(a != b for a, b in itertools.pairwise(values))  # every reading is a change
        assert values[-1] is True  # the pin's final state

    async def test_relays_start_without_a_glitch_and_follow_commands(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory, chip: SimulatedMcp23x
    ) -> None:
        """B0 (initial ON) is never driven low and B1 (active low, off) never low at start; commands set each
        relay's latch bit without touching the other's; the failsafe at shutdown reaches the expander too."""
        config = expander_config(broker, tmp_path)
        lamp, fan = f"{BASE}/output/lamp", f"{BASE}/output/fan"
        async with subscribe(broker, f"{BASE}/output/+") as received, running_gateway(config, mock_factory):
            await received.wait_for(lambda r: bool(r.readings(lamp) and r.readings(fan)))
            assert chip.driven("B0")
            assert all(chip.driven("B0"))  # only ever high
            assert chip.driven("B1")
            assert all(chip.driven("B1"))  # active low and off: high
            await send(broker, f"{fan}/set", [b"ON"])
            await received.wait_for(lambda r: r.readings(fan)[-1]["value"] is True)
            await send(broker, f"{lamp}/set", [b"OFF"])
            await received.wait_for(lambda r: r.readings(lamp)[-1]["value"] is False)
            # A state is reported after its write: lamp off (active high: low), fan on (active low: low).
            assert chip.register_value("OLAT", 1) & 0b11 == 0b00
        assert chip.register_value("OLAT", 1) & 0b10 == 0b10  # the fan's failsafe at shutdown: off (high)
