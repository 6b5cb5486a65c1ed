"""`fleet` against a real mosquitto: retained status and stats of fake gateways, published by a raw client."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.broker_settings import connection_settings
from gateway.cli import main
from gateway.cli.config_edit import render_toml
from gateway.cli.fleet import FleetOptions, fleet
from gateway.mqtt import MqttTransport
from tests.conftest import make_config
from tests.integration.broker import Broker, connected_client
from tests.integration.gateway_runner import broker_config


def now_ts() -> str:
    """Now, as the gateway writes `ts`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stats(**fields: Any) -> bytes:
    """A fresh stats payload, overridable field by field."""
    base = {"uptime": 90.0, "published": 5, "buffered": 0, "dropped": 0, "rejected": 0, "last_error": None}
    return json.dumps(base | {"ts": now_ts()} | fields).encode()


async def publish_retained(broker: Broker, messages: dict[str, bytes]) -> None:
    """Publish each topic's payload retained with QoS 1 (acknowledged, so stored); b"" clears a topic."""
    async with connected_client(broker) as client:
        for topic, payload in messages.items():
            await client.publish(topic, payload, qos=1, retain=True)


def three_gateways(prefix: str) -> dict[str, bytes]:
    """`alpha` is fine, `bravo` is offline, `charlie` is online but reports an error."""
    return {
        f"{prefix}/alpha/status": b"online",
        f"{prefix}/alpha/stats": stats(broker="node-1:1883", version="1.2.0"),
        f"{prefix}/bravo/status": b"offline",
        f"{prefix}/bravo/stats": stats(broker="node-2:1883", buffered=7),
        f"{prefix}/charlie/status": b"online",
        f"{prefix}/charlie/stats": stats(broker="node-1:1883", last_error="outbox storage failed"),
    }


@pytest.fixture
def prefix() -> str:
    """A topic prefix of this test's own on the shared broker."""
    return f"fleet-test-{uuid.uuid4().hex[:10]}"


def write_config(tmp_path: Path, broker: Broker, prefix: str) -> Path:
    """A config file for the machine running `fleet`: the broker and the topic prefix."""
    path = tmp_path / "fleet.toml"
    data = {
        "gateway": {"id": "checker", "topic_prefix": prefix, "state_dir": str(tmp_path / "state")},
        "gpio": {"pin_factory": "mock", "simulate": False},
        "mqtt": broker_config(broker.host, broker.port),
    }
    path.write_text(render_toml(data), encoding="utf-8")
    os.chmod(path, 0o600)
    return path


def table_rows(text: str) -> dict[str, list[str]]:
    """Table lines split into cells (two or more spaces apart), by their first cell."""
    return {cells[0]: cells for line in text.splitlines() if (cells := re.split(r"\s{2,}", line.strip())) != [""]}


async def run_fleet(path: Path, *args: str) -> int:
    """`pi-mqtt-gateway -c path fleet --settle 0.5 ...` in this process, off the loop."""
    return await asyncio.to_thread(main, ["-c", str(path), "fleet", "--settle", "0.5", *args])


class TestOneShot:
    async def test_the_table_shows_each_gateway_and_fails_on_the_bad_ones(
        self, broker: Broker, tmp_path: Path, prefix: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Three gateways (fine, offline, erroring): one row each, sorted, with their broker node; exit 1."""
        await publish_retained(broker, three_gateways(prefix))
        code = await run_fleet(write_config(tmp_path, broker, prefix))
        out = capsys.readouterr().out
        assert code == 1, out
        rows = table_rows(out)
        assert [line.split()[0] for line in out.splitlines()[2:5]] == ["alpha", "bravo", "charlie"]
        assert rows["alpha"][:8] == ["alpha", "online", "-", "1.2.0", "90s", "node-1:1883", "0", "0"]
        assert rows["alpha"][-1] == "-"
        assert rows["bravo"][1:7] == ["offline", "-", "?", "90s", "node-2:1883", "7"]
        assert rows["charlie"][-1] == "outbox storage failed"
        assert "PROBLEM bravo: offline" in out
        assert "PROBLEM charlie: error: outbox storage failed" in out
        assert "PROBLEM alpha" not in out

    async def test_json_lists_the_same_gateways(
        self, broker: Broker, tmp_path: Path, prefix: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--json` prints only a JSON list: each gateway's status, broker, error and problems; exit 1."""
        await publish_retained(broker, three_gateways(prefix))
        code = await run_fleet(write_config(tmp_path, broker, prefix), "--json")
        listed = json.loads(capsys.readouterr().out)
        assert code == 1
        by_id = {item["id"]: item for item in listed}
        assert list(by_id) == ["alpha", "bravo", "charlie"]
        assert (by_id["alpha"]["status"], by_id["alpha"]["broker"], by_id["alpha"]["problems"]) == (
            "online",
            "node-1:1883",
            [],
        )
        assert by_id["bravo"]["problems"] == ["offline"]
        assert by_id["charlie"]["last_error"] == "outbox storage failed"
        assert all(item["stale"] is False and item["since"] is None for item in listed)

    async def test_clearing_the_bad_gateways_makes_the_check_pass(
        self, broker: Broker, tmp_path: Path, prefix: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Exit 1 with an offline and an erroring gateway; once their retained topics are cleared, exit 0."""
        path = write_config(tmp_path, broker, prefix)
        await publish_retained(broker, three_gateways(prefix))
        assert await run_fleet(path) == 1
        capsys.readouterr()
        cleared = {f"{prefix}/{gw}/{leaf}": b"" for gw in ("bravo", "charlie") for leaf in ("status", "stats")}
        await publish_retained(broker, cleared)
        code = await run_fleet(path)
        out = capsys.readouterr().out
        assert code == 0, out
        rows = table_rows(out)
        assert "alpha" in rows
        assert "bravo" not in rows
        assert "charlie" not in rows
        assert "PROBLEM" not in out

    async def test_no_gateway_under_the_prefix_fails(
        self, broker: Broker, tmp_path: Path, prefix: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Nothing retained under the prefix: exit 1 and one line naming the prefix and the broker."""
        code = await run_fleet(write_config(tmp_path, broker, prefix))
        err = capsys.readouterr().err
        assert code == 1
        assert err == f"no gateways under {prefix} on {broker.host}:{broker.port}\n"

    async def test_a_gateway_with_only_stats_is_shown(
        self, broker: Broker, tmp_path: Path, prefix: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Stats without a status (and no `broker` key, an older gateway): shown with "?" where unknown."""
        await publish_retained(broker, {f"{prefix}/delta/stats": stats()})
        code = await run_fleet(write_config(tmp_path, broker, prefix))
        out = capsys.readouterr().out
        assert code == 1
        assert table_rows(out)["delta"][:6] == ["delta", "?", "-", "?", "90s", "?"]
        assert "PROBLEM delta: no status" in out


class DrawnOutput(io.StringIO):
    """Stdout for a live view: every redraw kept, and an event for each."""

    def __init__(self) -> None:
        super().__init__()
        self.draws: list[str] = []
        self.changed = asyncio.Event()

    def write(self, text: str) -> int:
        self.draws.append(text)
        self.changed.set()
        return len(text)

    async def wait_for(self, predicate: Callable[[str], bool], timeout: float = 20.0) -> str:
        """The first draw from now on (or the last one) for which `predicate` holds."""
        async with asyncio.timeout(timeout):
            while not (self.draws and predicate(self.draws[-1])):
                self.changed.clear()
                await self.changed.wait()
        return self.draws[-1]


class TestWatch:
    async def test_watch_redraws_and_times_a_status_change(self, broker: Broker, tmp_path: Path, prefix: str) -> None:
        """`--watch` shows the retained state with since "-", then a gateway going offline with the time it did."""
        await publish_retained(broker, {f"{prefix}/alpha/status": b"online", f"{prefix}/alpha/stats": stats()})
        config = make_config(
            tmp_path, gateway={"id": "checker", "topic_prefix": prefix}, mqtt=broker_config(broker.host, broker.port)
        )
        settings = connection_settings(config, None, will_topic=None, client_id=f"fleet-watch-{prefix}")
        out = DrawnOutput()
        options = FleetOptions(prefix, "test broker", settle=0.2, watch=True)
        task = asyncio.create_task(fleet(MqttTransport(settings), options, out=out))
        try:
            first = await out.wait_for(lambda draw: "alpha" in draw)
            assert table_rows(first)["alpha"][1:3] == ["online", "-"]
            await publish_retained(broker, {f"{prefix}/alpha/status": b"offline"})
            changed = await out.wait_for(lambda draw: table_rows(draw).get("alpha", [""])[1:2] == ["offline"])
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        since = table_rows(changed)["alpha"][2]
        assert re.fullmatch(r"\d\d:\d\d:\d\d", since), changed
        assert "PROBLEM alpha: offline" in changed
