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


async def collect(host: str, port: int, topic: str, count: int, qos: int) -> tuple[list[int], list[str]]:
    arrivals: list[int] = []
    payloads: list[str] = []
    async with aiomqtt.Client(host, port, max_queued_incoming_messages=0) as client:
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
    arrivals, payloads = asyncio.run(collect(host, int(port), topic, int(count), int(qos)))
    with open(outfile, "w", encoding="utf-8") as handle:
        json.dump({"arrivals": arrivals, "payloads": payloads}, handle)


if __name__ == "__main__":
    main()
