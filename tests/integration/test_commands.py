"""Commands through a real mosquitto: a subscriber drives outputs, malformed payloads and a flood change nothing."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin
from structlog.testing import capture_logs

from gateway.cli.config_edit import render_toml
from gateway.config import GatewayConfig
from tests.conftest import make_config, report_measurement, toggle
from tests.integration.broker import Broker, Endpoint, connected_client
from tests.integration.conftest import subscribe, wait_until
from tests.integration.gateway_runner import OutputLines, broker_config, running_gateway, start_process
from tests.unit.test_commands import MALFORMED

OUTPUTS: list[dict[str, Any]] = [
    {"id": "relay", "kind": "relay", "pin": 5},
    {"id": "dimmer", "kind": "pwm", "pin": 12},
]
SENSORS = [{"id": "door", "kind": "digital_input", "pin": 27, "retain": False}]


async def send(broker: Endpoint, topic: str, payloads: list[bytes], qos: int = 1) -> None:
    """Publish each payload to `topic` from a client of our own."""
    async with connected_client(broker) as client:
        for payload in payloads:
            await client.publish(topic, payload, qos=qos)


def commanded_config(tmp_path: Path, broker: Broker, gateway_id: str) -> GatewayConfig:
    """The sensors and outputs the command tests drive, on a gateway of the test's own (retained states of another
    test's gateway on the shared broker must not reach this test's subscriptions)."""
    return make_config(
        tmp_path, SENSORS, outputs=OUTPUTS, gateway={"id": gateway_id}, mqtt=broker_config(broker.host, broker.port)
    )


class TestDrivingOutputs:
    async def test_a_subscriber_drives_a_relay_and_a_pwm_output(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """ON and {"value": 0.3} move the MockPins; the actual state comes back retained on the output topic."""
        config = commanded_config(tmp_path, broker, "cmd-drive")
        base = f"pi-mqtt-gateway/{config.gateway.id}"
        async with subscribe(broker, f"{base}/output/+") as states, running_gateway(config, mock_factory) as gateway:
            await states.wait_for(lambda r: len(r.messages) >= 2)  # the initial states
            await send(broker, f"{base}/output/relay/set", [b"ON"])
            await send(broker, f"{base}/output/dimmer/set", [b'{"value": 0.3}'])
            await states.wait_for(lambda r: len(r.readings(f"{base}/output/dimmer")) >= 2)
            await states.wait_for(lambda r: len(r.readings(f"{base}/output/relay")) >= 2)
            assert mock_factory.pin(5).state is True
            assert abs(mock_factory.pin(12, pin_class=MockPWMPin).state - 0.3) < 1e-9
            assert gateway.stats.commands == 2
        assert [r["value"] for r in states.readings(f"{base}/output/relay")] == [False, True, False]  # off at stop
        assert [r["value"] for r in states.readings(f"{base}/output/dimmer")] == [0.0, 0.3, 0.0]

    async def test_malformed_commands_change_nothing_and_are_each_counted(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """The malformed corpus, an unknown output and a command to an input: no pin moves, no traceback."""
        config = commanded_config(tmp_path, broker, "cmd-malformed")
        base = f"pi-mqtt-gateway/{config.gateway.id}"
        relay, dimmer = mock_factory.pin(5), mock_factory.pin(12, pin_class=MockPWMPin)
        with capture_logs() as logs:
            async with (
                subscribe(broker, f"{base}/sensor/door") as readings,
                running_gateway(config, mock_factory) as gateway,
            ):
                relay_states, dimmer_states = list(relay.states), list(dimmer.states)
                corpus = [MALFORMED[name] for name in sorted(MALFORMED)]
                await send(broker, f"{base}/output/relay/set", corpus)
                await send(broker, f"{base}/output/dimmer/set", [b'{"value": "half"}', b'{"value": NaN}'])
                await send(broker, f"{base}/output/pump/set", [b"ON"])
                await send(broker, f"{base}/output/door/set", [b"ON"])
                expected = len(corpus) + 4
                await wait_until(lambda: gateway.stats.commands_rejected == expected, what="every refusal counted")
                assert (list(relay.states), list(dimmer.states)) == (relay_states, dimmer_states)
                toggle(mock_factory, 27)  # the gateway still works
                await readings.wait_for(lambda r: len(r.messages) >= 2)
                assert gateway.stats.commands == 0
        assert not [line for line in logs if "exc_info" in line or line["log_level"] in {"error", "critical"}]
        assert 1 <= len([line for line in logs if line["event"] == "command refused"]) <= 4  # rate-limited lines


class TestSubscription:
    async def test_only_its_own_subtree_reaches_the_gateway(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """Commands for another gateway, or under a sensor, never arrive: not applied, not even counted."""
        config = commanded_config(tmp_path, broker, "cmd-subtree")
        base = f"pi-mqtt-gateway/{config.gateway.id}"
        async with running_gateway(config, mock_factory) as gateway:
            await send(broker, "pi-mqtt-gateway/other/output/relay/set", [b"ON"])
            await send(broker, f"{base}/sensor/door/set", [b"ON"])
            await send(broker, f"{base}/output/relay/set/extra", [b"ON"])
            await send(broker, f"{base}/output/relay/set", [b"garbage"])  # a marker that does arrive
            await wait_until(lambda: gateway.stats.commands_rejected == 1, what="the marker refused")
            assert gateway.stats.commands == 0
            assert mock_factory.pin(5).state is False


class TestFlood:
    @pytest.mark.slow
    async def test_1000_commands_per_second_for_5_s_leave_memory_bounded(self, broker: Broker, tmp_path: Path) -> None:
        """A gateway process under 5,000 commands in 5 s counts each one, keeps publishing and grows RSS < 10 MB."""
        path = tmp_path / "config.toml"
        data = {
            "gateway": {"id": "flood", "state_dir": str(tmp_path / "state"), "stats_interval": 0.5},
            "gpio": {"pin_factory": "mock", "simulate": True},
            "mqtt": broker_config(broker.host, broker.port),
            "logging": {"format": "json"},
            "sensors": [{"id": "load", "kind": "load_average", "interval": 0.2, "retain": False}],
            "outputs": OUTPUTS,
        }
        path.write_text(render_toml(data), encoding="utf-8")
        process = start_process(path)
        output = OutputLines(process)
        try:
            await output.wait_for('"event": "ready"')
            before = rss_kib(process.pid)
            payloads = [b"TOGGLE", b'{"value": 0.5}', b"garbage", b"\xff" * 100, b'{"state": "ON", "for": 0.01}']
            async with connected_client(broker) as client:
                start = time.monotonic()
                for n in range(5000):
                    target = "dimmer" if n % 2 else "relay"
                    await client.publish(f"pi-mqtt-gateway/flood/output/{target}/set", payloads[n % 5], qos=1)
                    if n % 50 == 49:  # pace to ~1,000/s
                        await asyncio.sleep(max(0.0, start + (n + 1) / 1000 - time.monotonic()))
            async with subscribe(broker, "pi-mqtt-gateway/flood/#") as after:
                await after.wait_for(lambda r: counted(r.payloads("pi-mqtt-gateway/flood/stats")) == 5000, timeout=30)
                readings_now = len(after.payloads("pi-mqtt-gateway/flood/sensor/load"))
                await after.wait_for(lambda r: len(r.payloads("pi-mqtt-gateway/flood/sensor/load")) > readings_now)
            grown = rss_kib(process.pid) - before
            assert process.poll() is None
        finally:
            process.terminate()
            await asyncio.to_thread(process.wait, 30)
            output.close()
        report_measurement(f"flood: 5,000 commands in 5 s, RSS grew by {grown} KiB")  # reported in the README
        assert grown < 10 * 1024, f"RSS grew by {grown} KiB"
        assert not [line for line in output.lines if "Traceback" in line or '"level": "error"' in line]


def counted(stats_payloads: list[bytes]) -> int:
    """commands + commands_rejected in the latest stats message."""
    if not stats_payloads:
        return 0
    stats = json.loads(stats_payloads[-1])
    return int(stats["commands"]) + int(stats["commands_rejected"])


def rss_kib(pid: int) -> int:
    """The resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")
