"""The gateway on a real distributed broker: a 3-node NATS cluster (JetStream, MQTT on every node), reached
through `mqtt.hosts`. Its core promises hold there, and when the node it is on is killed -9 it moves on and
loses nothing (a loss the killed node acknowledged is reported apart, as the broker's)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from gpiozero.pins.mock import MockFactory

from gateway.config import GatewayConfig
from gateway.plugins import config_model
from tests.conftest import toggle
from tests.integration.broker import connected_client
from tests.integration.conftest import subscribe, wait_until
from tests.integration.gateway_runner import running_gateway
from tests.integration.ledger import Ledger
from tests.integration.nats import HOST, NatsCluster
from tests.integration.proxy import FaultyProxy
from tests.integration.test_commands import send
from tests.integration.test_durability import judge, settle
from tests.integration.test_nats_cluster import Node, started_cluster

pytestmark = pytest.mark.integration
PIN = 17


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[NatsCluster]:
    """A started cluster whose every node has served one subscribe: the first MQTT session on a fresh cluster
    makes JetStream create its streams (replicated three ways), which takes seconds on a loaded machine."""
    started = started_cluster(tmp_path / "nats")
    try:
        for port in started.mqtt_ports:
            async with connected_client(Node(HOST, port), protocol=aiomqtt.ProtocolVersion.V311) as client:
                await client.subscribe("warm-up/#", qos=1)
        yield started
    finally:
        started.stop()


def cluster_config(tmp_path: Path, gateway_id: str, nodes: list[str], **extra: Any) -> GatewayConfig:
    """A gateway on the cluster: `hosts` in failover order, MQTT 3.1.1 and QoS 1 (what NATS speaks)."""
    return config_model().model_validate(
        {
            "gateway": {"id": gateway_id, "state_dir": str(tmp_path / gateway_id), "stats_interval": 3600.0},
            "gpio": {"pin_factory": "mock", "simulate": False},
            "mqtt": {"hosts": nodes, "keepalive": 4, "qos": 1, "reconnect_min": 0.1, "reconnect_max": 2.0},
            **extra,
        }
    )


class TestOnACluster:
    @pytest.mark.slow
    async def test_readings_status_commands_and_discovery_work_across_nodes(
        self, cluster: NatsCluster, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """Connected to node 0: readings (seq in order) and Home Assistant configs reach node 2, the retained
        `online` a new subscriber on node 1, a command sent on node 1 moves the relay; `offline` at the end."""
        ports = cluster.mqtt_ports
        config = cluster_config(
            tmp_path,
            "cl",
            [f"{HOST}:{port}" for port in ports],
            homeassistant={"enabled": True},
            sensors=[{"id": "door", "kind": "digital_input", "pin": PIN, "retain": False}],
            outputs=[{"id": "lamp", "kind": "relay", "pin": 6}],
        )
        base = "pi-mqtt-gateway/cl"
        node1, node2 = Node(HOST, ports[1]), Node(HOST, ports[2])
        async with subscribe(node2, "#") as seen, running_gateway(config, mock_factory) as gateway:
            assert gateway.stats.broker == f"{HOST}:{ports[0]}"
            for _ in range(5):
                toggle(mock_factory, PIN, 2, 1000)
            await seen.wait_for(lambda r: len(r.readings(f"{base}/sensor/door")) >= 5, timeout=60)
            async with subscribe(node1, f"{base}/status") as late:
                await late.wait_for(lambda r: r.payloads(f"{base}/status") == [b"online"], timeout=60)
            await send(node1, f"{base}/output/lamp/set", [b"ON"])
            await seen.wait_for(lambda r: any(x["value"] is True for x in r.readings(f"{base}/output/lamp")), 60)
            configs = [t for t, p, _ in seen.messages if t.startswith("homeassistant/") and p]
            assert any(t.endswith("/door/config") for t in configs)
        await seen_offline(node2, base)
        seqs = [reading["seq"] for reading in seen.readings(f"{base}/sensor/door")]
        assert seqs == sorted(seqs)

    @pytest.mark.slow
    async def test_killing_the_node_it_is_on_moves_it_to_the_next_and_loses_nothing(
        self, cluster: NatsCluster, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """600 readings at 100/s; the gateway's node is killed -9 after the first second: it moves to node 1,
        and every reading reaches a subscriber on node 2 in order (duplicates allowed, losses attributed)."""
        ports = cluster.mqtt_ports
        proxies = [FaultyProxy(HOST, port, record_pubacks=True) for port in ports]  # a record of every PUBACK
        for proxy in proxies:
            await proxy.start()
        config = cluster_config(
            tmp_path,
            "fo",
            [f"{proxy.host}:{proxy.port}" for proxy in proxies],
            sensors=[{"id": "pulse", "kind": "digital_input", "pin": PIN, "retain": False}],
        )
        try:
            async with (
                Ledger(Node(HOST, ports[2]), "pi-mqtt-gateway/fo/sensor/+", "fo-ledger") as ledger,
                running_gateway(config, mock_factory) as gateway,
            ):
                first = gateway.stats.broker
                source = asyncio.create_task(asyncio.to_thread(toggle, mock_factory, PIN, 600, 100))
                await wait_until(lambda: gateway.stats.accepted >= 100, timeout=60, what="readings flowing")
                cluster.kill(0)
                await wait_until(
                    lambda: gateway.stats.connected and gateway.stats.broker != first,
                    timeout=120,
                    what="the gateway on another node",
                )
                await source
                # The operator brings the dead node back: a QoS 1 subscription whose JetStream consumer was led by
                # it (the ledger's, on a survivor) can otherwise stall until then.
                await asyncio.to_thread(cluster.restart, 0)
                verdict = await settle(gateway, ledger)
        finally:
            for proxy in proxies:
                await proxy.close()
        assert first == f"{proxies[0].host}:{proxies[0].port}"
        judge("NATS node kill -9", verdict, proxies[0].acked_seqs)


async def seen_offline(node: Node, base: str) -> None:
    """The retained status on another node says `offline` once the gateway has stopped."""
    async with subscribe(node, f"{base}/status") as status:
        await status.wait_for(lambda r: r.payloads(f"{base}/status")[-1:] == [b"offline"], timeout=60)
