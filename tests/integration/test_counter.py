"""Pulse counters through a real mosquitto: totals, rate, set/reset commands, and kill -9 survival."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from gateway.cli.config_edit import render_toml
from gateway.counter import counter_path, load_total
from gateway.store import DB_FILE
from tests.conftest import make_config
from tests.integration.broker import Broker, connected_client
from tests.integration.conftest import Received, subscribe, wait_until
from tests.integration.gateway_runner import OutputLines, broker_config, running_gateway, start_process

WATER = "pi-mqtt-gateway/meter/sensor/water"


def pulse(factory: MockFactory, times: int) -> None:
    pin = factory.pin(17)
    for _ in range(times):
        pin.drive_low()
        pin.drive_high()


def totals(received: Received) -> list[float]:
    return [reading["value"] for reading in received.readings(WATER)]


class TestCounterCommands:
    async def test_totals_rate_and_set_and_reset_by_command(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """Pulses raise the total; {"value": 500} and RESET set it; a bad counter command is refused and counted."""
        sensor = {"id": "water", "kind": "counter", "pin": 17, "interval": 0.1, "retain": False, "rate_per": "second"}
        config = make_config(tmp_path, [sensor], gateway={"id": "meter"}, mqtt=broker_config(broker.host, broker.port))
        async with (
            subscribe(broker, f"{WATER}/#") as received,
            running_gateway(config, mock_factory) as gateway,
            connected_client(broker) as commander,
        ):
            await received.wait_for(lambda r: 0.0 in totals(r))
            pulse(mock_factory, 5)
            await received.wait_for(lambda r: 5.0 in totals(r))
            await received.wait_for(lambda r: any(x["value"] > 0 for x in r.readings(f"{WATER}/rate")))
            await commander.publish(f"{WATER}/set", b'{"value": 500}', qos=1)
            await received.wait_for(lambda r: 500.0 in totals(r))
            pulse(mock_factory, 2)
            await received.wait_for(lambda r: 502.0 in totals(r))
            await commander.publish(f"{WATER}/set", b"RESET", qos=1)
            await received.wait_for(lambda r: totals(r)[-1] == 0.0)
            await commander.publish(f"{WATER}/set", b'{"value": -3}', qos=1)
            await wait_until(lambda: gateway.stats.commands_rejected == 1, what="the bad command refused")
            assert gateway.stats.commands == 2
        assert load_total(counter_path(tmp_path, "water")) == 0
        rates = received.readings(f"{WATER}/rate")
        assert {rate["unit"] for rate in rates} == {"pulses/second"}


def stored_totals(state_dir: Path) -> list[float]:
    """Counter totals in the outbox rows of a killed gateway (stored, not yet acknowledged by the broker)."""
    with sqlite3.connect(state_dir / DB_FILE) as db:
        rows = db.execute("SELECT payload FROM outbox WHERE topic = ?", ("pi-mqtt-gateway/killcount/sensor/water",))
        return [json.loads(payload)["value"] for (payload,) in rows]


async def wait_for_more(received: Received, count: int) -> None:
    """Wait until `count` more messages have arrived."""
    target = len(received.messages) + count
    await received.wait_for(lambda r: len(r.messages) >= target, timeout=30)


class TestCounterSurvivesKill:
    @pytest.mark.slow
    async def test_kill_9_loses_no_acknowledged_pulse(self, broker: Broker, tmp_path: Path) -> None:
        """After kill -9 the saved total is >= every total the outbox accepted, and the restart continues from it."""
        state = tmp_path / "state"
        data = {
            "gateway": {"id": "killcount", "state_dir": str(state)},
            "gpio": {"pin_factory": "mock", "simulate": True},  # the simulator pulses the meter
            "mqtt": broker_config(broker.host, broker.port),
            "logging": {"format": "json"},
            "sensors": [{"id": "water", "kind": "counter", "pin": 17, "interval": 0.05, "retain": False}],
        }
        path = tmp_path / "config.toml"
        path.write_text(render_toml(data), encoding="utf-8")
        topic = "pi-mqtt-gateway/killcount/sensor/water"
        async with subscribe(broker, topic) as received:
            for run in range(3):
                process = start_process(path)
                output = OutputLines(process)
                await wait_for_more(received, 10)
                process.send_signal(signal.SIGKILL)
                await asyncio.to_thread(process.wait, 30)
                output.close()
                acknowledged = max([*(r["value"] for r in received.readings(topic)), *stored_totals(state)])
                saved = load_total(counter_path(state, "water"))
                assert saved >= acknowledged, f"run {run}: saved {saved} < acknowledged {acknowledged}"
            process = start_process(path)
            output = OutputLines(process)
            try:
                seen = len(received.messages)
                await received.wait_for(lambda r: len(r.messages) > seen, timeout=30)
                assert received.readings(topic)[seen]["value"] >= saved  # the restart continues from the saved total
            finally:
                process.terminate()
                await asyncio.to_thread(process.wait, 30)
                output.close()
        values = [r["value"] for r in received.readings(topic)]
        assert values == sorted(values)  # a total never went backwards across three kills
