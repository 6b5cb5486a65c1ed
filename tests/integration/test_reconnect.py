"""Connections that never lie: every connection judged by its own CONNACK, causes named, one resend, one process."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from structlog.testing import capture_logs

from tests.conftest import make_config, report_measurement, toggle
from tests.integration.broker import Broker, connected_client
from tests.integration.conftest import subscribe, wait_until
from tests.integration.gateway_runner import OutputLines, broker_config, running_gateway, start_process
from tests.integration.ledger import Ledger
from tests.integration.proxy import SUBSCRIBE, FaultyProxy, MisbehavingServer

DOOR = [{"id": "door", "kind": "digital_input", "pin": 27}]
RELAY = [{"id": "pump", "kind": "relay", "pin": 6}]


def events(logs: list[MutableMapping[str, Any]], text: str) -> list[MutableMapping[str, Any]]:
    """Captured log entries whose event contains `text`."""
    return [line for line in logs if text in str(line["event"])]


async def wait_for_log(logs: list[MutableMapping[str, Any]], text: str, count: int = 1, timeout: float = 60.0) -> None:
    """Wait until `count` captured log entries contain `text` (an event, not a duration)."""
    await wait_until(lambda: len(events(logs, text)) >= count, timeout=timeout, what=f"{count} x {text!r} logged")


class TestEveryConnectionHasItsOwnConnack:
    async def test_a_broker_restarted_refusing_anonymous_is_a_refusal_with_a_growing_backoff(
        self, own_broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """Restarted refusing anonymous clients: "Not authorized", a backoff up to its cap, no "connected"."""
        mqtt = broker_config(own_broker.host, own_broker.port, reconnect_min=0.05, reconnect_max=0.4)
        config = make_config(tmp_path, DOOR, gateway={"id": "anon-refused"}, mqtt=mqtt)
        with capture_logs() as logs:
            async with running_gateway(config, mock_factory) as gateway:
                await wait_until(lambda: gateway.stats.connected, what="the first connection")
                own_broker.stop()
                own_broker.configure(["allow_anonymous false"])
                own_broker.start()
                await wait_for_log(logs, "cannot connect to broker", count=8)
                connected_after = len(events(logs, "connected to broker"))
                assert not gateway.stats.connected
        failures = events(logs, "cannot connect to broker")
        refusals = [line for line in failures if "not authori" in line["error"].lower()]
        assert refusals, [line["error"] for line in failures]
        assert refusals[0] is failures[0] or "closed the connection" not in failures[0]["error"]
        assert all(line["log_level"] == "error" and "username" in line["hint"] for line in refusals)
        assert connected_after == 1, "only the first, real connection was reported"
        ceilings = [line["backoff"] for line in failures]
        assert ceilings == sorted(ceilings), "the backoff never reset"
        assert ceilings[-1] == pytest.approx(0.4)

    async def test_a_relay_that_accepts_and_closes_is_never_called_connected(
        self, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """A load balancer with a dead backend (accept, close): each attempt fails by name, none is "connected"."""
        async with MisbehavingServer("close") as relay:
            mqtt = broker_config(relay.host, relay.port, reconnect_min=0.05, reconnect_max=0.2)
            config = make_config(tmp_path, DOOR, gateway={"id": "accept-close"}, mqtt=mqtt)
            with capture_logs() as logs:
                async with running_gateway(config, mock_factory) as gateway:
                    await wait_for_log(logs, "cannot connect to broker", count=6)
                    assert not gateway.stats.connected
                    assert gateway.stats.reconnects == 0
        assert not events(logs, "connected to broker")
        failures = events(logs, "cannot connect to broker")
        assert all("before answering CONNECT" in line["error"] for line in failures), failures[0]
        assert relay.connections >= 6

    async def test_a_refusal_and_the_close_arriving_together_is_still_a_refusal(
        self, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """A CONNACK "not authorised" followed at once by the close (as mosquitto does): always named the refusal."""
        async with MisbehavingServer("refuse") as refusing:
            mqtt = broker_config(refusing.host, refusing.port, reconnect_min=0.01, reconnect_max=0.02)
            config = make_config(tmp_path, DOOR, gateway={"id": "refused-and-closed"}, mqtt=mqtt)
            with capture_logs() as logs:
                async with running_gateway(config, mock_factory):
                    await wait_for_log(logs, "cannot connect to broker", count=50)
        errors = [line["error"] for line in events(logs, "cannot connect to broker")]
        assert all("Not authori" in error for error in errors), errors

    async def test_a_broker_that_never_answers_mqtt5_is_named_after_a_few_attempts(
        self, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """protocol = "5" against a silent server: from the third timeout on, the hint names MQTT 3.1.1."""
        async with MisbehavingServer("silent") as silent:
            mqtt = broker_config(silent.host, silent.port, protocol="5", publish_timeout=0.3, reconnect_max=0.1)
            config = make_config(tmp_path, DOOR, gateway={"id": "silent-v5"}, mqtt=mqtt)
            with capture_logs() as logs:
                async with running_gateway(config, mock_factory):
                    await wait_for_log(logs, "cannot connect to broker", count=4)
        hints = [line["hint"] for line in events(logs, "cannot connect to broker")]
        assert all("MQTT 5" not in hint for hint in hints[:2]), hints
        assert all('mqtt.protocol = "3.1.1"' in hint for hint in hints[2:]), hints

    async def test_a_reset_at_connect_is_one_line_without_a_traceback(
        self, tmp_path: Path, mock_factory: MockFactory, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A server that resets every new connection: failures are logged by the publisher, asyncio logs no error."""
        caplog.set_level(logging.DEBUG)
        async with MisbehavingServer("reset") as resetting:
            mqtt = broker_config(resetting.host, resetting.port, reconnect_min=0.01, reconnect_max=0.02)
            config = make_config(tmp_path, DOOR, gateway={"id": "reset-at-connect"}, mqtt=mqtt)
            with capture_logs() as logs:
                async with running_gateway(config, mock_factory):
                    await wait_for_log(logs, "cannot connect to broker", count=30)
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name in ("asyncio", "mqtt")]
        assert not errors, errors[0].getMessage()
        assert all(line["log_level"] == "warning" for line in events(logs, "cannot connect to broker"))
        assert resetting.connections >= 30


class TestCausesAreNamed:
    async def test_a_disconnect_during_subscribe_is_a_lost_connection_noticed_at_once(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """Cut while subscribing: "connection lost" (warning), not a password problem, long before any timeout."""
        proxy = FaultyProxy(broker.host, broker.port, cut_on_packet=SUBSCRIBE)
        await proxy.start()
        mqtt = broker_config(proxy.host, proxy.port, publish_timeout=120.0, keepalive=120)
        config = make_config(tmp_path, gateway={"id": "cut-subscribe"}, mqtt=mqtt, outputs=RELAY)
        try:
            with capture_logs() as logs:
                async with running_gateway(config, mock_factory):
                    # The subscribe would time out after 120 s; the watch sees the cut at once.
                    await wait_for_log(logs, "connection lost", count=2, timeout=60.0)
        finally:
            await proxy.close()
        lost = events(logs, "connection lost")
        assert all(line["log_level"] == "warning" for line in lost)
        assert all("subscribe" in line["error"] or "connection" in line["error"] for line in lost), lost
        assert not [line for line in logs if "password" in str(line.get("hint", ""))]
        assert not events(logs, "refused")

    async def test_a_broker_without_qos2_is_named_and_readings_still_flow(
        self, qos1_broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """mosquitto with max_qos 1 closes on every QoS 2 publish: one clear line, then readings arrive at QoS 1."""
        mqtt = broker_config(qos1_broker.host, qos1_broker.port, qos=2)
        config = make_config(tmp_path, DOOR, gateway={"id": "no-qos2"}, mqtt=mqtt)
        topic = "pi-mqtt-gateway/no-qos2/sensor/door"
        with capture_logs() as logs:
            async with subscribe(qos1_broker, topic) as received, running_gateway(config, mock_factory) as gateway:
                await received.wait_for(lambda r: len(r.payloads(topic)) >= 1, timeout=60)
                toggle(mock_factory, 27)
                await received.wait_for(lambda r: any(m["value"] for m in r.readings(topic)), timeout=60)
                assert gateway.stats.quarantined == 0
        named = events(logs, "does not support QoS 2")
        assert len(named) == 1
        assert named[0]["log_level"] == "error"
        assert "mqtt.qos = 1" in named[0]["hint"]


class TestOneResend:
    async def test_duplicates_after_resets_come_only_from_the_outbox_window(
        self, own_broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """Three connection resets while readings flow: nothing lost, no reordering, duplicates <= resets x window."""
        proxy = FaultyProxy(own_broker.host, own_broker.port)
        await proxy.start()
        window = 4
        sensors = [{"id": f"load{n}", "kind": "load_average", "interval": 0.05, "retain": False} for n in range(5)]
        mqtt = broker_config(proxy.host, proxy.port, max_inflight=window)
        config = make_config(tmp_path, sensors, gateway={"id": "one-resend"}, mqtt=mqtt)
        resets = 3
        try:
            async with (
                Ledger(own_broker, "pi-mqtt-gateway/one-resend/sensor/+", "one-resend-ledger") as ledger,
                running_gateway(config, mock_factory) as gateway,
            ):
                for done in range(1, resets + 1):
                    flowing = 100 * done
                    await wait_until(lambda: len(ledger.seqs) >= flowing, what="readings flowing")  # noqa: B023
                    await wait_until(lambda: gateway.stats.connected, what="a connection")
                    proxy.reset()
                    await wait_until(lambda: gateway.stats.reconnects >= done, what="the reconnect")  # noqa: B023
                await wait_until(lambda: len(ledger.seqs) >= 100 * (resets + 1), what="readings after the resets")
                expected = set(range(1, max(ledger.seqs) + 1))
                await ledger.wait_for_seqs(expected)
        finally:
            await proxy.close()
        verdict = ledger.verdict(expected)
        report_measurement(f"one resend, {resets} resets, window {window}: {verdict}")
        assert verdict.lost == []
        assert verdict.out_of_order == 0
        assert verdict.duplicates <= resets * window


class TestOneProcessPerStateDirectory:
    async def test_a_second_run_is_refused_and_starts_after_the_first_is_killed(
        self, broker: Broker, tmp_path: Path
    ) -> None:
        """Two `run`s on one state directory: the second exits 1 naming the first; after kill -9 it starts."""
        path = tmp_path / "config.toml"
        state = tmp_path / "state"
        path.write_text(
            f'[gateway]\nid = "one-process"\nstate_dir = "{state}"\n[gpio]\npin_factory = "mock"\n'
            f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\n'
            '[[sensors]]\nid = "door"\nkind = "digital_input"\npin = 27\n',
            encoding="utf-8",
        )
        first_process = start_process(path)
        first = OutputLines(first_process)
        second = third = None
        try:
            await first.wait_for('"ready"', timeout=60)
            second_process = start_process(path)
            second = OutputLines(second_process)
            await wait_until(lambda: second_process.poll() is not None, timeout=60, what="the second run exiting")
            assert second_process.returncode == 1
            refusal = await second.wait_for("another gateway")
            assert f"PID {first_process.pid}" in refusal
            first_process.kill()
            first_process.wait(30)
            third_process = start_process(path)
            third = OutputLines(third_process)
            await third.wait_for('"ready"', timeout=60)
            assert third_process.poll() is None
        finally:
            for lines in (first, second, third):
                if lines is not None:
                    lines.close()


class TestControlLane:
    @pytest.mark.slow
    async def test_a_relay_state_overtakes_a_backlog_of_10000_readings_and_no_topic_reorders(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """10,000 readings buffered and draining over a slow link: the relay's state report goes first."""
        proxy = FaultyProxy(broker.host, broker.port, upstream_bytes_per_s=150_000)
        proxy.refusing = True  # the broker looks down while the backlog builds up
        await proxy.start()
        sensors = [{"id": f"load{n}", "kind": "load_average", "interval": 0.05, "retain": False} for n in range(40)]
        mqtt = broker_config(proxy.host, proxy.port, reconnect_min=0.05, reconnect_max=0.2)
        config = make_config(tmp_path, sensors, gateway={"id": "lanes"}, mqtt=mqtt, outputs=RELAY)
        base = "pi-mqtt-gateway/lanes"
        try:
            async with (
                subscribe(broker, f"{base}/#") as received,
                running_gateway(config, mock_factory) as gateway,
            ):
                await wait_until(lambda: gateway.buffered >= 10_000, timeout=120, what="a backlog of 10,000")
                proxy.refusing = False
                await wait_until(lambda: gateway.stats.connected, timeout=60, what="the connection")
                await received.wait_for(lambda r: len(r.payloads(f"{base}/output/pump")) >= 1)
                sent_at = asyncio.get_running_loop().time()
                await publish(broker, f"{base}/output/pump/set", b"ON")
                await received.wait_for(
                    lambda r: any(json.loads(p)["value"] for p in r.payloads(f"{base}/output/pump")), timeout=60
                )
                latency = asyncio.get_running_loop().time() - sent_at
                readings_before = sum(1 for t, _p, _r in received.messages if "/sensor/load" in t)
                still_buffered = gateway.buffered
        finally:
            await proxy.close()
        report_measurement(
            f"relay state after {latency:.3f} s, {readings_before} readings delivered, {still_buffered} buffered"
        )
        assert still_buffered >= 5_000, "the state report did not wait for the backlog"
        assert readings_before < 5_000
        for sensor in (f"load{n}" for n in range(40)):
            seqs = [m["seq"] for m in received.readings(f"{base}/sensor/{sensor}")]
            assert seqs == sorted(seqs), f"{sensor} reordered"
        states = [json.loads(p)["seq"] for p in received.payloads(f"{base}/output/pump")]
        assert states == sorted(states)


async def publish(broker: Broker, topic: str, payload: bytes) -> None:
    """One QoS 1 publish from a separate client."""
    async with connected_client(broker) as client:
        await client.publish(topic, payload, qos=1)


class TestFailoverAcrossHosts:
    async def test_a_dead_first_node_is_passed_over_for_the_next_one(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """`hosts = [dead, live]`: the gateway names the dead node it tried, connects to the live one, says which in
        its log and its stats, and its readings arrive there."""
        from tests.integration.broker import free_port

        dead = f"127.0.0.1:{free_port()}"  # nothing listens: refused at once
        live = f"{broker.host}:{broker.port}"
        config = make_config(
            tmp_path,
            [{"id": "door", "kind": "digital_input", "pin": 17, "retain": False}],
            gateway={"id": "failover", "stats_interval": 0.5},
            mqtt={"hosts": [dead, live], "reconnect_min": 0.05, "reconnect_max": 0.2},
        )
        base = "pi-mqtt-gateway/failover"
        with capture_logs() as logs:
            async with subscribe(broker, f"{base}/#") as received, running_gateway(config, mock_factory) as gateway:
                await wait_until(lambda: gateway.stats.connected, what="connected to the live node")
                toggle(mock_factory, 17, 2, 1000)
                await received.wait_for(lambda r: len(r.readings(f"{base}/sensor/door")) >= 2)
                await received.wait_for(
                    lambda r: any(json.loads(p).get("broker") == live for p in r.payloads(f"{base}/stats"))
                )
                assert gateway.stats.broker == live
        failed = events(logs, "cannot connect to broker")
        assert failed[0]["broker"] == dead
        assert failed[0]["next_broker"] == live
        assert events(logs, "connected to broker")[0]["broker"] == live
