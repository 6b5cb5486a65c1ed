"""The baseline publisher for CPU per message: raw aiomqtt, QoS 1, at a fixed rate, for a while.

Usage: python -m bench.raw_rate HOST PORT RATE SECONDS
It publishes RATE messages per second (paced in batches of 10, as a polling loop would) until SECONDS end.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time

import aiomqtt

PAYLOAD = b'{"sensor":"s0","value":0.42,"unit":null,"ts":"2026-11-24T12:00:00.000Z","seq":1234567}'


async def publish(host: str, port: int, rate: float, seconds: float) -> None:
    """Publish at `rate` per second for `seconds`, each awaiting its PUBACK."""
    nodelay = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
    async with aiomqtt.Client(host, port, socket_options=nodelay) as client:
        started = time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed * rate) + 1
            while sent < due:
                await client.publish(f"bench/raw-rate/s{sent % 50}", PAYLOAD, qos=1)
                sent += 1
            await asyncio.sleep(min(0.05, 10 / rate))


def main() -> None:
    host, port, rate, seconds = sys.argv[1:5]
    asyncio.run(publish(host, int(port), float(rate), float(seconds)))


if __name__ == "__main__":
    main()
