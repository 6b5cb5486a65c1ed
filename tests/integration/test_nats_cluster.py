"""A 3-node NATS 2.9 cluster as the gateway's broker: what works across nodes, and where it differs from mosquitto.

Raw aiomqtt clients (MQTT 3.1.1) and raw MQTT packets, no gateway: these tests pin down the broker's behaviour
the gateway must cope with. docs/brokers.md summarises what they observed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.reasoncodes import ReasonCode

from tests.integration.conftest import Received, subscribe, wait_until
from tests.integration.nats import (
    HOST,
    NatsCluster,
    NatsClusterError,
    connect_packet,
    find_nats_server,
    publish_packet,
)

pytestmark = pytest.mark.integration

V311 = aiomqtt.ProtocolVersion.V311
NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
EVENT_TIMEOUT = 60.0  # generous: JetStream elections on a loaded 2-core machine
TOPIC_ERROR = "characters ' ' and '.' not supported for MQTT topics"


def require_nats_server() -> None:
    """Fail when nats-server is missing and CI is set; otherwise skip with the reason."""
    if find_nats_server() is not None:
        return
    if os.environ.get("CI"):
        pytest.fail("nats-server is not installed and CI is set: install it (apt-get install nats-server)")
    pytest.skip("nats-server is not installed (apt-get install nats-server); with CI set this test fails")


def started_cluster(workdir: Path) -> NatsCluster:
    """A started 3-node cluster in `workdir`; fail the test with the nodes' logs if it does not come up."""
    require_nats_server()
    try:
        cluster = NatsCluster(workdir)
    except NatsClusterError as error:
        pytest.fail(str(error))
    try:
        cluster.start()
    except NatsClusterError as error:
        cluster.stop()
        pytest.fail(str(error))
    return cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """One cluster shared by the tests that leave every node running."""
    instance = started_cluster(tmp_path_factory.mktemp("nats"))
    yield instance
    instance.stop()


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """A cluster of this test's own, free to kill nodes in."""
    instance = started_cluster(tmp_path)
    yield instance
    instance.stop()


def unique_topic(name: str) -> str:
    """A topic no other test uses."""
    return f"pmg-nats/{name}/{uuid.uuid4().hex[:8]}"


def client(port: int, client_id: str | None = None) -> aiomqtt.Client:
    """A plain MQTT 3.1.1 client on 127.0.0.1:`port`."""
    return aiomqtt.Client(HOST, port, identifier=client_id, protocol=V311, socket_options=NODELAY)


@asynccontextmanager
async def connected(port: int) -> AsyncIterator[aiomqtt.Client]:
    """`client(port)`, connected; for connections the broker may close under us: on exit the error aiomqtt stored
    for the unexpected disconnection is retrieved (aiomqtt 2.5 leaves it to "Future exception was never
    retrieved" at garbage collection, as gateway/mqtt.py's `_abort` notes)."""
    mqtt = client(port)
    try:
        async with mqtt:
            yield mqtt
    finally:
        disconnected = mqtt._disconnected  # noqa: SLF001 (aiomqtt < 3 exposes no other way)
        if disconnected.done() and not disconnected.cancelled():
            disconnected.exception()


@dataclass(frozen=True)
class Node:
    """One node's MQTT listener."""

    host: str
    port: int


def listen(port: int, topic: str, qos: int = 1) -> AbstractAsyncContextManager[Received]:
    """Subscribe to `topic` on the node at `port` and record every message until the block ends."""
    return subscribe(Node(HOST, port), topic, qos=qos)


async def raw_connection(
    port: int, client_id: str, will: tuple[str, bytes, int, bool] | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw MQTT 3.1.1 connection, CONNACK "accepted" checked."""
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(connect_packet(client_id, will=will))
    await writer.drain()
    connack = await asyncio.wait_for(reader.readexactly(4), EVENT_TIMEOUT)
    assert connack == b"\x20\x02\x00\x00", connack
    return reader, writer


async def raw_connection_retrying(
    port: int, client_id: str, will: tuple[str, bytes, int, bool] | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int]:
    """`raw_connection`, retried while the node closes the connection before its CONNACK (right after a node
    death, until JetStream elects new stream leaders); also returns how many attempts were refused."""
    refused = 0
    deadline = asyncio.get_running_loop().time() + EVENT_TIMEOUT
    while True:
        try:
            reader, writer = await raw_connection(port, client_id, will)
        except (asyncio.IncompleteReadError, ConnectionError):
            refused += 1
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)  # polling interval between attempts
        else:
            return reader, writer, refused


async def closed_by_broker(reader: asyncio.StreamReader) -> bytes:
    """What the broker sends until it closes the connection (EOF); fails if it stays open."""
    try:
        return await asyncio.wait_for(reader.read(), EVENT_TIMEOUT)
    except TimeoutError:
        pytest.fail(f"the broker kept the connection open for {EVENT_TIMEOUT} s")


async def eventually(received: Received, predicate: Callable[[Received], bool], timeout: float) -> bool:
    """Wait until `predicate(received)` holds; False at the time-out (the caller reports what is missing)."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate(received):
                received.changed.clear()
                await received.changed.wait()
    except TimeoutError:
        return False
    return True


def codes(granted: Iterable[int | ReasonCode]) -> list[int]:
    """SUBACK return codes as numbers (1 = QoS 1 granted, 0x80 = failure)."""
    return [code if isinstance(code, int) else code.value for code in granted]


async def until_disconnected(mqtt: aiomqtt.Client) -> None:
    """Consume messages until aiomqtt reports the connection lost (its MqttError propagates)."""
    async with asyncio.timeout(EVENT_TIMEOUT):
        async for _message in mqtt.messages:
            pass


async def log_says(cluster: NatsCluster, node: int, text: str) -> None:
    """Wait until node `node`'s log contains `text` (the log is written asynchronously)."""
    await wait_until(lambda: text in cluster.log(node), EVENT_TIMEOUT, f"log line {text!r} on node {node}")


async def test_qos1_publish_crosses_nodes(cluster: NatsCluster) -> None:
    """(a) A QoS 1 publish acknowledged by node 0 reaches a QoS 1 subscriber on node 1."""
    topic = unique_topic("cross")
    async with listen(cluster.mqtt_ports[1], topic) as received, client(cluster.mqtt_ports[0]) as publisher:
        await publisher.publish(topic, b"hello", qos=1)
        await received.wait_for(lambda r: r.payloads(topic) == [b"hello"], EVENT_TIMEOUT)


async def test_retained_message_reaches_new_subscriber_on_another_node(cluster: NatsCluster) -> None:
    """(b) A retained message acknowledged by node 0 is delivered, flagged retained, to a new subscriber on node 2."""
    topic = unique_topic("retained")
    async with client(cluster.mqtt_ports[0]) as publisher:
        await publisher.publish(topic, b"state", qos=1, retain=True)
    async with listen(cluster.mqtt_ports[2], topic) as received:
        await received.wait_for(lambda r: bool(r.messages), EVENT_TIMEOUT)
    assert received.messages == [(topic, b"state", True)]


async def test_will_published_when_connection_drops(cluster: NatsCluster) -> None:
    """(c) A will registered on node 0 reaches a subscriber on node 1 when the client's socket closes without
    DISCONNECT."""
    topic = unique_topic("will")
    async with listen(cluster.mqtt_ports[1], topic) as received:
        _reader, writer = await raw_connection(cluster.mqtt_ports[0], "will-drop", (topic, b"offline", 1, False))
        writer.transport.abort()
        await received.wait_for(lambda r: r.payloads(topic) == [b"offline"], EVENT_TIMEOUT)


@pytest.mark.slow
async def test_no_will_when_the_node_dies(own_cluster: NatsCluster) -> None:
    """(c) When the node holding a client is killed -9, its will is never published: a subscriber on a surviving
    node sees nothing on the will topic, before or after the node comes back (markers prove the path works)."""
    topic = unique_topic("will-node-death")
    ports = own_cluster.mqtt_ports
    # QoS 0: delivered by NATS core, not by a JetStream consumer, whose leader may have died with node 0 (a QoS 1
    # subscription on a survivor then stalls until node 0 is back: seen once in a loaded run).
    async with listen(ports[1], topic, qos=0) as received:
        _reader, writer = await raw_connection(ports[0], "will-victim", (topic, b"victim-offline", 1, False))
        own_cluster.kill(0)
        await wait_until(lambda: own_cluster.routes(1) == 1, EVENT_TIMEOUT, "node 1 noticing node 0's death")
        # A control client with a will on node 2, dropped abruptly: its will must arrive, node 0's must not.
        _control_reader, control, _refused = await raw_connection_retrying(
            ports[2], "will-control", (topic, b"control", 1, False)
        )
        control.transport.abort()
        await received.wait_for(lambda r: b"control" in r.payloads(topic), EVENT_TIMEOUT)
        await asyncio.to_thread(own_cluster.restart, 0)
        async with client(ports[0]) as publisher:
            await publisher.publish(topic, b"marker-after-restart", qos=1)
        await received.wait_for(lambda r: b"marker-after-restart" in r.payloads(topic), EVENT_TIMEOUT)
        writer.close()
    assert received.payloads(topic) == [b"control", b"marker-after-restart"], own_cluster.logs()


async def test_qos2_publish_closes_the_connection(cluster: NatsCluster) -> None:
    """(d) NATS 2.9 closes the connection, without any reply, on a QoS 2 PUBLISH (log: "publish QoS=2 not
    supported")."""
    reader, writer = await raw_connection(cluster.mqtt_ports[0], "qos2-raw")
    writer.write(publish_packet(unique_topic("qos2"), b"x", qos=2, packet_id=7))
    await writer.drain()
    assert await closed_by_broker(reader) == b""
    writer.close()
    await log_says(cluster, 0, '"qos2-raw" - publish QoS=2 not supported')


async def test_qos2_seen_through_aiomqtt(cluster: NatsCluster) -> None:
    """(d) Through aiomqtt: a QoS 2 subscription is granted QoS 1; a QoS 2 publish is never completed (no PUBREC)
    while the connection is closed under it, so it only ends at its own time-out."""
    async with connected(cluster.mqtt_ports[0]) as mqtt:
        granted = await mqtt.subscribe(unique_topic("qos2-sub"), qos=2)
        assert codes(granted) == [1]
        publish = asyncio.create_task(mqtt.publish(unique_topic("qos2-pub"), b"x", qos=2, timeout=EVENT_TIMEOUT * 2))
        with pytest.raises(aiomqtt.MqttError, match="Disconnected"):
            await until_disconnected(mqtt)
        assert not publish.done(), "the QoS 2 publish should still be waiting for a PUBREC that never comes"
        publish.cancel()
        with suppress(asyncio.CancelledError, aiomqtt.MqttError):
            await publish


@pytest.mark.parametrize("level", ["a.b", "a b"], ids=["dot", "space"])
@pytest.mark.parametrize("qos", [0, 1])
async def test_publish_topic_with_dot_or_space_closes_the_connection(
    cluster: NatsCluster, level: str, qos: int
) -> None:
    """(e) A PUBLISH whose topic holds '.' or ' ' makes NATS close the connection without a PUBACK (QoS 0 and 1)."""
    client_id = f"topic-{uuid.uuid4().hex[:8]}"
    reader, writer = await raw_connection(cluster.mqtt_ports[0], client_id)
    writer.write(publish_packet(f"{unique_topic('chars')}/{level}", b"x", qos=qos))
    await writer.drain()
    assert await closed_by_broker(reader) == b""
    writer.close()
    await log_says(cluster, 0, f'"{client_id}" - {TOPIC_ERROR}')


async def test_subscribe_filter_with_dot_or_space_is_refused(cluster: NatsCluster) -> None:
    """(e) A SUBSCRIBE to a filter holding '.' or ' ' gets SUBACK failure (0x80); the connection stays usable."""
    base = unique_topic("filter")
    async with client(cluster.mqtt_ports[0]) as mqtt:
        for level in ("a.b", "a b"):
            granted = await mqtt.subscribe(f"{base}/{level}", qos=1)
            assert codes(granted) == [0x80]
        assert codes(await mqtt.subscribe(f"{base}/ok", qos=1)) == [1]


async def test_mqtt5_connect_is_refused(cluster: NatsCluster) -> None:
    """(f) An MQTT 5 CONNECT gets a 3.1.1-style CONNACK 0x01 ("unacceptable protocol version") and the connection
    closes; aiomqtt reports MqttConnectError with reason code 132 (Unsupported protocol version)."""
    reader, writer = await asyncio.open_connection(HOST, cluster.mqtt_ports[0])
    writer.write(connect_packet("mqtt5-raw", protocol_level=5))
    await writer.drain()
    assert await closed_by_broker(reader) == b"\x20\x02\x00\x01"
    writer.close()
    with pytest.raises(MqttConnectError) as refused:
        async with aiomqtt.Client(HOST, cluster.mqtt_ports[0], protocol=aiomqtt.ProtocolVersion.V5):
            pass
    rc = refused.value.rc
    assert rc is not None
    assert codes([rc]) == [132]
    await log_says(cluster, 0, "unacceptable protocol version of 5")


class Ledger:
    """Which numbers were sent, and which were acknowledged by which node."""

    def __init__(self) -> None:
        self.acked_by: dict[int, int] = {}  # number -> node whose PUBACK we saw

    def unacked(self, upto: int) -> list[int]:
        """Numbers below `upto` no node acknowledged."""
        return [n for n in range(upto) if n not in self.acked_by]


async def publish_numbers(port: int, node: int, topic: str, numbers: list[int], ledger: Ledger) -> None:
    """Publish each number (QoS 1, awaiting its PUBACK) on the node at `port`; stop at the first error."""
    async with connected(port) as publisher:
        for number in numbers:
            await publisher.publish(topic, str(number).encode(), qos=1, timeout=15)
            ledger.acked_by[number] = node


async def publish_until_acked(port: int, node: int, topic: str, numbers: list[int], ledger: Ledger) -> int:
    """`publish_numbers` on one node, reconnecting until every number is acknowledged (a surviving node closes
    new connections until JetStream re-elects the leaders the dead node held); returns the failed attempts."""
    failures = 0
    deadline = asyncio.get_running_loop().time() + EVENT_TIMEOUT
    while pending := [n for n in numbers if n not in ledger.acked_by]:
        try:
            await publish_numbers(port, node, topic, pending, ledger)
        except aiomqtt.MqttError:
            failures += 1
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)  # polling interval between attempts
    return failures


@pytest.mark.slow
async def test_publisher_fails_over_when_its_node_dies(own_cluster: NatsCluster) -> None:
    """(g) Killing -9 the publisher's node mid-stream, then resending every unacknowledged number through another
    node: a subscriber on a surviving node receives every number at least once."""
    total, kill_after = 400, 150
    topic = unique_topic("failover")
    ports = own_cluster.mqtt_ports
    ledger = Ledger()

    async def kill_node0_midstream() -> None:
        await wait_until(lambda: len(ledger.acked_by) >= kill_after, EVENT_TIMEOUT, "first acknowledgements")
        own_cluster.kill(0)

    async with listen(ports[2], topic) as received:
        killer = asyncio.create_task(kill_node0_midstream())
        with suppress(aiomqtt.MqttError):
            await publish_numbers(ports[0], 0, topic, list(range(total)), ledger)
        await killer
        acked_by_dead_node = set(ledger.acked_by)
        resend = ledger.unacked(total)
        assert resend, "node 0 died after the last PUBACK: the kill came too late to test anything"
        refused = await publish_until_acked(ports[1], 1, topic, resend, ledger)

        def arrived() -> set[int]:
            return {int(payload) for payload in received.payloads(topic)}

        await eventually(received, lambda _r: arrived() >= set(range(total)), EVENT_TIMEOUT)
    missing = sorted(set(range(total)) - arrived())
    lost_after_ack_by_dead = [n for n in missing if n in acked_by_dead_node]
    lost_after_ack_by_survivor = [n for n in missing if n not in acked_by_dead_node]
    assert not missing, (
        f"acked by node 0 then lost: {lost_after_ack_by_dead}; resent, acked by node 1, then lost: "
        f"{lost_after_ack_by_survivor}; {refused} refused attempts on node 1\n{own_cluster.logs()}"
    )
