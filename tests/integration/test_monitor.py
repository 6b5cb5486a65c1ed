"""`watch` and `status` against a real mosquitto and a running gateway, and their error paths."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from gateway.cli import main
from gateway.cli.config_edit import render_toml
from tests.conftest import make_config
from tests.integration.broker import Broker, free_port
from tests.integration.conftest import subscribe, wait_until
from tests.integration.gateway_runner import broker_config, running_gateway
from tests.integration.proxy import FaultyProxy

SENSORS: list[dict[str, Any]] = [
    {"id": "door", "kind": "digital_input", "pin": 27},
    {"id": "load", "kind": "load_average"},
]


def write_config(tmp_path: Path, gateway_id: str, mqtt: dict[str, Any]) -> Path:
    path = tmp_path / f"{gateway_id}.toml"
    data = {
        "gateway": {"id": gateway_id, "state_dir": str(tmp_path / "state")},
        "gpio": {"pin_factory": "mock", "simulate": False},
        "mqtt": mqtt,
        "sensors": SENSORS,
    }
    path.write_text(render_toml(data), encoding="utf-8")
    os.chmod(path, 0o600)
    return path


class TestWatchAndStatus:
    async def test_watch_once_shows_the_readings_of_a_running_gateway(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`watch --once` lists every sensor with its latest value and the gateway online (exit 0)."""
        mqtt = broker_config(broker.host, broker.port)
        config = make_config(tmp_path, SENSORS, gateway={"id": "watched"}, mqtt=mqtt)
        path = write_config(tmp_path, "watched", mqtt)
        async with running_gateway(config, mock_factory) as gateway:
            while gateway.stats.published < 2:  # noqa: ASYNC110 - both start-up readings out first
                await asyncio.sleep(0.02)
            code = await asyncio.to_thread(main, ["-c", str(path), "watch", "--once", "--settle", "1"])
        out = capsys.readouterr().out
        assert code == 0, out
        assert "gateway watched: online" in out
        lines = {line.split()[0]: line.split() for line in out.splitlines() if line.split()}
        assert lines["door"][1] == "false"
        assert float(lines["load"][1]) >= 0.0

    async def test_status_online_then_offline(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`status` exits 0 while the gateway is online and 1 once it has stopped (retained offline)."""
        mqtt = broker_config(broker.host, broker.port)
        config = make_config(tmp_path, SENSORS, gateway={"id": "statused"}, mqtt=mqtt)
        path = write_config(tmp_path, "statused", mqtt)
        async with running_gateway(config, mock_factory):
            online = await asyncio.to_thread(main, ["-c", str(path), "status", "--settle", "1"])
        offline = await asyncio.to_thread(main, ["-c", str(path), "status", "--settle", "1"])
        out = capsys.readouterr().out
        assert (online, offline) == (0, 1)
        assert "gateway:    statused is online" in out
        assert "gateway:    statused is offline" in out
        assert "outbox:" in out
        assert f"state dir:  {tmp_path / 'state'}" in out

    async def test_live_watch_refreshes_until_interrupted(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """`watch` (no --once) as a process redraws the table each second and exits 0 on Ctrl-C."""
        mqtt = broker_config(broker.host, broker.port)
        config = make_config(tmp_path, SENSORS, gateway={"id": "live"}, mqtt=mqtt)
        path = write_config(tmp_path, "live", mqtt)
        async with running_gateway(config, mock_factory):
            process = subprocess.Popen(  # noqa: ASYNC220 - started once; waited for off the loop below
                [sys.executable, "-m", "gateway", "-c", str(path), "watch"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            await asyncio.sleep(3.5)
            process.send_signal(signal.SIGINT)
            out, err = await asyncio.to_thread(process.communicate, timeout=30)
        assert process.returncode == 0, err
        assert out.count("gateway live: online") >= 2  # redrawn, not printed once
        assert "door" in out
        assert "Traceback" not in err

    async def test_status_and_check_as_processes(self, broker: Broker, tmp_path: Path) -> None:
        """`status` and `check` through `python -m gateway`: no gateway has ever run, so status exits 1."""
        path = write_config(tmp_path, "never-ran", broker_config(broker.host, broker.port))
        status = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "gateway", "-c", str(path), "status", "--settle", "0.5"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        check = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "gateway", "-c", str(path), "check", "--timeout", "5"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert status.returncode == 1
        assert "unknown (no retained status)" in status.stdout
        assert check.returncode == 0, check.stdout
        assert f"broker {broker.host}:{broker.port}: connected" in check.stdout


class TestErrorsAUserCanCause:
    def test_no_broker(self, tmp_path: Path) -> None:
        """`watch --once` with nothing listening: exit 1, one line, no traceback (as a process)."""
        path = write_config(tmp_path, "nobroker", {"host": "127.0.0.1", "port": free_port()})
        result = subprocess.run(
            [sys.executable, "-m", "gateway", "-c", str(path), "watch", "--once"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 1
        assert "Connection refused" in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) <= 2

    def test_wrong_password(self, password_broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`status` against a broker that refuses the credentials says so (exit 1)."""
        secret = tmp_path / "pw"
        secret.write_text("wrong\n", encoding="utf-8")
        os.chmod(secret, 0o600)
        mqtt = {
            "host": password_broker.host,
            "port": password_broker.port,
            "username": "gw",
            "password_file": str(secret),
        }
        assert main(["-c", str(write_config(tmp_path, "badpw", mqtt)), "status", "--settle", "0.5"]) == 1
        assert "Not authorized" in capsys.readouterr().out

    def test_bad_tls_file(self, broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`check` with a CA file that does not exist reports a TLS set-up failure (exit 1)."""
        path = write_config(
            tmp_path,
            "badtls",
            {"host": broker.host, "port": broker.port, "tls": {"ca_file": str(tmp_path / "missing-ca.pem")}},
        )
        assert main(["-c", str(path), "check", "--timeout", "3"]) == 1
        out = capsys.readouterr().out
        assert "[FAIL] broker" in out
        assert "TLS set-up failed" in out

    async def test_the_retained_stats_tell_the_truth_once_a_backlog_has_drained(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """Connected with a backlog: the retained stats say `buffered 0` once it drains, not an interval later."""
        proxy = FaultyProxy(broker.host, broker.port)
        proxy.refusing = True  # the broker looks down while readings pile up
        await proxy.start()
        mqtt = broker_config(proxy.host, proxy.port, reconnect_min=0.05, reconnect_max=0.2)
        sensors = [{"id": "load", "kind": "load_average", "interval": 0.05, "retain": False}]
        config = make_config(tmp_path, sensors, gateway={"id": "truthful", "stats_interval": 3600.0}, mqtt=mqtt)
        stats_topic = "pi-mqtt-gateway/truthful/stats"
        try:
            async with subscribe(broker, stats_topic) as seen, running_gateway(config, mock_factory) as gateway:
                await wait_until(lambda: gateway.buffered >= 40, what="a backlog")
                proxy.refusing = False
                await seen.wait_for(lambda r: any(json.loads(p)["buffered"] >= 40 for p in r.payloads(stats_topic)))
                await seen.wait_for(lambda r: json.loads(r.payloads(stats_topic)[-1])["buffered"] <= 2)
        finally:
            await proxy.close()
        first, last = (json.loads(p) for p in (seen.payloads(stats_topic)[0], seen.payloads(stats_topic)[-1]))
        assert last["published"] > first["published"]
        assert "ts" in last
