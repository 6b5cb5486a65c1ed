"""A subscriber process for benchmarks: records the monotonic arrival time of each message on one topic.

Usage: python -m bench.subscriber HOST PORT TOPIC COUNT QOS OUTFILE
Prints "ready" once subscribed; writes {"arrivals": [ns...], "payloads": [str...]} when COUNT arrived
(or after 60 s of silence). CLOCK_MONOTONIC is system-wide, so times compare across processes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiomqtt


async def collect(
    host: str, port: int, topic: str, count: int, qos: int, client_id: str | None = None
) -> tuple[list[int], list[str]]:
    """Subscribe, say `ready`, and collect `count` messages (a persistent session when `client_id` is given)."""
    arrivals: list[int] = []
    payloads: list[str] = []
    client = aiomqtt.Client(
        host, port, identifier=client_id, clean_session=client_id is None, max_queued_incoming_messages=0
    )
    async with client:
        await client.subscribe(topic, qos=qos)
        print("ready", flush=True)
        messages = client.messages
        while len(arrivals) < count:
            try:
                message = await asyncio.wait_for(anext(messages), 60)
            except TimeoutError:
                break
            arrivals.append(time.monotonic_ns())
            payloads.append(bytes(message.payload).decode())
    return arrivals, payloads


def main() -> None:
    host, port, topic, count, qos, outfile = sys.argv[1:7]
    client_id = sys.argv[7] if len(sys.argv) > 7 else None
    arrivals, payloads = asyncio.run(collect(host, int(port), topic, int(count), int(qos), client_id))
    with open(outfile, "w", encoding="utf-8") as handle:
        json.dump({"arrivals": arrivals, "payloads": payloads}, handle)


if __name__ == "__main__":
    main()
