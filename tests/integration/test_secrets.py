"""A sentinel password through a whole life (start, failed auth, reload, reconnect, shutdown) leaks nowhere."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.cli.config_edit import render_toml
from tests.integration.broker import Broker
from tests.integration.conftest import subscribe
from tests.integration.gateway_runner import OutputLines, start_process

SENTINEL = "Sentinel-7f3a9c-PW"


@pytest.fixture
def sentinel_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker that admits user `gw` with the sentinel password only; anonymous clients may read."""
    workdir = tmp_path / "sentinel-broker"
    workdir.mkdir()
    passwords = workdir / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "gw", SENTINEL], check=True)
    acl = workdir / "acl"
    acl.write_text("topic read #\nuser gw\ntopic readwrite #\n", encoding="utf-8")
    broker = Broker(workdir, options=["allow_anonymous true", f"password_file {passwords}", f"acl_file {acl}"])
    broker.start()
    yield broker
    broker.stop()


def write_config(tmp_path: Path, broker: Broker, username: str) -> Path:
    password_file = tmp_path / "mqtt_password"
    password_file.write_text(SENTINEL + "\n", encoding="utf-8")
    os.chmod(password_file, 0o600)
    data = {
        "gateway": {"id": "sentinel", "state_dir": str(tmp_path / "state"), "stats_interval": 0.5},
        "gpio": {"pin_factory": "mock", "simulate": True},
        "mqtt": {
            "host": broker.host,
            "port": broker.port,
            "username": username,
            "password_file": str(password_file),
            "reconnect_min": 0.1,
            "reconnect_max": 0.5,
        },
        "logging": {"level": "debug", "format": "json"},
        "sensors": [{"id": "load", "kind": "load_average", "interval": 0.2}],
    }
    path = tmp_path / "config.toml"
    path.write_text(render_toml(data), encoding="utf-8")
    return path


class TestSentinelPassword:
    async def test_the_password_appears_in_no_output(
        self, sentinel_broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Debug logs, `config show`, every MQTT message and the outbox file contain the sentinel 0 times."""
        path = write_config(tmp_path, sentinel_broker, username="wrong-user")
        stats = "pi-mqtt-gateway/sentinel/stats"
        process = start_process(path)
        output = OutputLines(process)
        try:
            async with subscribe(sentinel_broker, "#") as before_kill:
                await output.wait_for("Not authorized")  # start, then failed authentication
                path.write_text(path.read_text(encoding="utf-8").replace("wrong-user", "gw"), encoding="utf-8")
                os.kill(process.pid, signal.SIGHUP)
                await output.wait_for('"event": "reloaded"')
                await before_kill.wait_for(lambda r: len(r.payloads("pi-mqtt-gateway/sentinel/sensor/load")) >= 1)
            sentinel_broker.kill()  # a reconnect, with the password sent again
            sentinel_broker.start()
            async with subscribe(sentinel_broker, "#") as after_restart:
                await output.wait_for('"reconnects": 1')
                await after_restart.wait_for(lambda r: any(b'"reconnects":1' in p for p in r.payloads(stats)))
                process.send_signal(signal.SIGTERM)
                code = await asyncio.to_thread(process.wait, 30)
        finally:
            output.close()
        received = before_kill.messages + after_restart.messages
        assert code == 0
        assert main(["--config", str(path), "config", "show"]) == 0
        shown = capsys.readouterr()
        outbox = b"".join(p.read_bytes() for p in (tmp_path / "state").glob("outbox.db*"))
        mqtt = b"\n".join(payload for _topic, payload, _retained in received)
        logs = "\n".join(output.lines)
        assert "password_file" in shown.out
        assert any(line.startswith("<7>") for line in output.lines)  # debug lines were written
        found = {
            "gateway output": logs.count(SENTINEL),
            "config show": (shown.out + shown.err).count(SENTINEL),
            "MQTT messages and stats": mqtt.count(SENTINEL.encode()),
            "outbox file": outbox.count(SENTINEL.encode()),
        }
        assert found == dict.fromkeys(found, 0)
