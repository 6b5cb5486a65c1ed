"""Broker and process faults against a real mosquitto: kill, restart, SIGTERM, SIGKILL."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from gateway.cli.config_edit import render_toml
from tests.conftest import make_config, toggle
from tests.integration.broker import Broker
from tests.integration.conftest import Received, subscribe, wait_until
from tests.integration.gateway_runner import broker_config, running_gateway, start_process


class TestBrokerRestart:
    async def test_gateway_notices_a_killed_broker_and_delivers_after_restart(
        self, own_broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """kill -9 the broker: the gateway notices, buffers, reconnects and delivers every reading in order."""
        config = make_config(
            tmp_path,
            [{"id": "door", "kind": "digital_input", "pin": 27}],
            gateway={"id": "restart"},
            mqtt=broker_config(own_broker.host, own_broker.port, keepalive=5),
        )
        topic = "pi-mqtt-gateway/restart/sensor/door"
        seqs: list[int] = []
        async with running_gateway(config, mock_factory) as gateway:
            # A persistent QoS 1 session: the broker keeps what arrives while the subscriber is away.
            async with subscribe(own_broker, topic, client_id="restart-sub", clean=False) as received:
                toggle(mock_factory, 27, 10)
                await received.wait_for(lambda r: len(r.payloads(topic)) >= 11)
                seqs += [r["seq"] for r in received.readings(topic)]
            await asyncio.sleep(1.2)  # let mosquitto autosave the subscriber's session (autosave_interval 1)
            own_broker.kill()
            await wait_until(lambda: not gateway.stats.connected, what="noticing the dead broker")
            toggle(mock_factory, 27, 20)
            await wait_until(lambda: gateway.buffered >= 20, timeout=5, what="buffering")
            own_broker.start()
            await wait_until(
                lambda: gateway.stats.connected and gateway.stats.published >= 31, what="reconnect and drain"
            )
            async with subscribe(own_broker, topic, client_id="restart-sub", clean=False) as received:
                await received.wait_for(lambda r: len(r.payloads(topic)) >= 20)
                seqs += [r["seq"] for r in received.readings(topic) if r["seq"] > seqs[-1]]
            assert gateway.stats.reconnects >= 1
        assert seqs == list(range(seqs[0], seqs[0] + 31))


def write_config(tmp_path: Path, broker: Broker, gateway_id: str, extra: list[dict[str, Any]] | None = None) -> Path:
    data: dict[str, Any] = {
        "gateway": {"id": gateway_id, "state_dir": str(tmp_path / "state"), "shutdown_timeout": 5.0},
        "gpio": {"pin_factory": "mock", "simulate": True},
        "mqtt": broker_config(broker.host, broker.port),
        "logging": {"format": "json"},
        "sensors": [
            {"id": "door", "kind": "digital_input", "pin": 27},
            {"id": "load", "kind": "load_average", "interval": 0.2},
            *(extra or []),
        ],
    }
    path = tmp_path / "config.toml"
    path.write_text(render_toml(data), encoding="utf-8")
    return path


@asynccontextmanager
async def online_process(
    broker: Broker, config_path: Path, gateway_id: str, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[subprocess.Popen[bytes], Received]]:
    """The gateway as a process, yielded once it published `online`; killed (if still alive) and closed after."""
    status = f"pi-mqtt-gateway/{gateway_id}/status"
    async with subscribe(broker, status) as received:
        process = start_process(config_path, env)
        try:
            await received.wait_for(lambda r: b"online" in r.payloads(status), timeout=30)
            yield process, received
        finally:
            if process.poll() is None:
                process.kill()
                await asyncio.to_thread(process.wait, 30)
            if process.stdout:
                process.stdout.close()


async def retained_status(broker: Broker, gateway_id: str) -> tuple[str, bytes, bool]:
    """What a new subscriber gets on the gateway's status topic: the retained message."""
    status = f"pi-mqtt-gateway/{gateway_id}/status"
    async with subscribe(broker, status) as retained:
        await retained.wait_for(lambda r: len(r.messages) >= 1)
    return retained.messages[0]


class TestProcessSignals:
    async def test_sigterm_exits_0_and_leaves_a_retained_offline(self, broker: Broker, tmp_path: Path) -> None:
        """SIGTERM: the process flushes, publishes a retained `offline` and exits 0."""
        async with online_process(broker, write_config(tmp_path, broker, "sigterm"), "sigterm") as (process, _):
            await asyncio.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(process.wait, 30)
            output = process.stdout.read().decode() if process.stdout else ""
        assert code == 0, output
        assert await retained_status(broker, "sigterm") == ("pi-mqtt-gateway/sigterm/status", b"offline", True)
        events = [json.loads(line[3:])["event"] for line in output.splitlines() if line.startswith("<")]
        assert "published offline" in events

    async def test_sigterm_right_after_start_with_smoothed_sensors_exits(self, broker: Broker, tmp_path: Path) -> None:
        """A stop while light/distance reads still wait for their first samples exits 0 (no hung thread)."""
        smoothed = [
            {"id": "light", "kind": "light", "pin": 18, "interval": 0.05},
            {"id": "sonar", "kind": "distance", "echo": 24, "trigger": 23, "interval": 0.05},
        ]
        config_path = write_config(tmp_path, broker, "sigterm-early", smoothed)
        async with online_process(broker, config_path, "sigterm-early") as (process, _):
            process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(process.wait, 30)
        assert code == 0

    async def test_sigkill_gives_the_last_will_offline(self, broker: Broker, tmp_path: Path) -> None:
        """SIGKILL: the broker publishes the Last Will `offline`, retained."""
        status = "pi-mqtt-gateway/sigkill/status"
        async with online_process(broker, write_config(tmp_path, broker, "sigkill"), "sigkill") as (process, received):
            process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(process.wait, 30)
            await received.wait_for(lambda r: r.payloads(status)[-1] == b"offline", timeout=30)
        assert await retained_status(broker, "sigkill") == (status, b"offline", True)


class TestSystemdNotify:
    async def test_ready_watchdog_and_stopping_reach_the_notify_socket(self, broker: Broker, tmp_path: Path) -> None:
        """As a Type=notify service: READY=1 with a STATUS, WATCHDOG=1 every half period, STOPPING=1 on SIGTERM."""
        path = str(tmp_path / "notify.sock")
        loop = asyncio.get_running_loop()
        env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"}
        messages: list[str] = []
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.setblocking(False)
            async with online_process(broker, write_config(tmp_path, broker, "notify"), "notify", env) as (process, _):
                while sum("WATCHDOG=1" in m for m in messages) < 3:
                    messages.append((await asyncio.wait_for(loop.sock_recv(sock, 4096), 30)).decode())
                process.send_signal(signal.SIGTERM)
                while not any("STOPPING=1" in m for m in messages):
                    messages.append((await asyncio.wait_for(loop.sock_recv(sock, 4096), 30)).decode())
                code = await asyncio.to_thread(process.wait, 30)
        assert code == 0
        assert messages[0].startswith("READY=1\nSTATUS=")
        assert any("STATUS=connected to 127.0.0.1" in m for m in messages)
