"""Acknowledged QoS 1 publish rate on a 3-node NATS 2.9 cluster: retain=true vs retain=false.

    python -m bench.nats_retain [--rounds N] [--messages N]

One aiomqtt publisher (MQTT 3.1.1, TCP_NODELAY) on node 0, no subscribers, 50 topics in turn (as a gateway's
sensors). Two modes: awaiting each PUBACK before the next publish, and a window of 10 publishes in flight.
Every round runs the four variants in turn, so they share the machine's load; the figures are medians over the
rounds. Results go to bench/results/nats_retain.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt

from tests.integration.nats import HOST, NatsCluster, server_version

RESULTS = Path(__file__).resolve().parent / "results"
PAYLOAD = b'{"sensor":"s0","value":0.42,"unit":null,"ts":"2026-11-24T12:00:00.000Z","seq":1234567}'
NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
TOPICS = 50
WINDOW = 10
VARIANTS = [(False, 1), (True, 1), (False, WINDOW), (True, WINDOW)]  # (retain, publishes in flight)


def topics(count: int, retain: bool) -> Iterator[str]:
    """`count` topics cycling over TOPICS sensors (retained and plain runs never share a topic)."""
    kind = "retained" if retain else "plain"
    return (f"bench/nats-retain/{kind}/s{n % TOPICS}" for n in range(count))


async def publish_all(client: aiomqtt.Client, count: int, retain: bool, in_flight: int) -> float:
    """Publish `count` QoS 1 messages with at most `in_flight` awaiting their PUBACK; acknowledged per second."""
    pending = topics(count, retain)

    async def worker() -> None:
        for topic in pending:  # the workers share one iterator: each topic is published once
            await client.publish(topic, PAYLOAD, qos=1, retain=retain, timeout=30)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return count / (time.perf_counter() - started)


def label(retain: bool, in_flight: int) -> str:
    """A variant's name in the table and the JSON."""
    return f"retain={'true' if retain else 'false'}, in_flight={in_flight}"


async def measure(port: int, rounds: int, messages: int) -> dict[str, list[float]]:
    """Rates per variant, one entry per round (after one warm-up pass of each variant)."""
    rates: dict[str, list[float]] = {label(r, w): [] for r, w in VARIANTS}
    async with aiomqtt.Client(HOST, port, protocol=aiomqtt.ProtocolVersion.V311, socket_options=NODELAY) as client:
        for retain, in_flight in VARIANTS:  # warm-up: the first retained publish per topic
            await publish_all(client, TOPICS, retain, in_flight)
        for _ in range(rounds):
            for retain, in_flight in VARIANTS:
                rates[label(retain, in_flight)].append(await publish_all(client, messages, retain, in_flight))
    return rates


def table(medians: dict[str, float]) -> str:
    """A small Markdown table of the medians, with retained / plain ratios."""
    lines = ["| variant | acked msg/s (median) |", "|---|---|"]
    lines += [f"| {name} | {rate:,.0f} |" for name, rate in medians.items()]
    for in_flight in (1, WINDOW):
        ratio = medians[label(True, in_flight)] / medians[label(False, in_flight)]
        lines.append(f"| retained / plain, in_flight={in_flight} | {ratio:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=500, help="publishes per variant per round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nats-bench-") as workdir, NatsCluster(Path(workdir)) as cluster:
        rates = asyncio.run(measure(cluster.mqtt_ports[0], args.rounds, args.messages))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print(table(medians))
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), **server_version()},
        "setup": {
            "nodes": 3,
            "stream_replicas": 3,
            "publisher_node": 0,
            "subscribers": 0,
            "topics": TOPICS,
            "payload_bytes": len(PAYLOAD),
            "rounds": args.rounds,
            "messages_per_round": args.messages,
        },
        "rates_per_round": rates,
        "median_msgs_per_s": medians,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "nats_retain.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
