"""RSS of a gateway process after a burst of edges: a child that runs the gateway in-process on MockPins.

Usage: python -m bench.burst_rss HOST PORT STATE_DIR EDGES
Prints one JSON line: {"rss_mib_before": ..., "rss_mib_after": ..., "edges": ...} once the outbox is empty.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from gateway.config import GatewayConfig
from gateway.config_loader import loaded_from
from gateway.logs import configure_logging
from gateway.server import Gateway

PIN = 17


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def burst(host: str, port: int, state_dir: str, edges: int) -> dict[str, float]:
    factory = MockFactory()
    Device.pin_factory = factory
    config = GatewayConfig.model_validate(
        {
            "gateway": {"id": "burst-rss", "topic_prefix": "bench", "state_dir": state_dir, "stats_interval": 3600.0},
            "gpio": {"pin_factory": "mock", "simulate": False},
            "mqtt": {"host": host, "port": port, "qos": 1},
            "logging": {"level": "warning"},
            "sensors": [{"id": "edge", "kind": "button", "pin": PIN, "retain": False}],
        }
    )
    gateway = Gateway(loaded_from(config), pin_factory=factory)
    task = asyncio.create_task(gateway.serve())
    await gateway.ready.wait()
    await asyncio.sleep(1.0)
    before = rss_mib()
    pin = factory.pin(PIN)
    for n in range(edges):
        if n % 2 == 0:
            pin.drive_low()
        else:
            pin.drive_high()
        if n % 500 == 499:
            await asyncio.sleep(0)  # let the loop take the edges in, as gpiozero's thread would
    while gateway.buffered or gateway.stats.published < edges:  # noqa: ASYNC110 - polling our own counters
        await asyncio.sleep(0.05)
    after = rss_mib()
    gateway.request_stop()
    await task
    return {"rss_mib_before": before, "rss_mib_after": after, "edges": edges}


def main() -> None:
    configure_logging("warning", "json")
    host, port, state_dir, edges = sys.argv[1:5]
    print(json.dumps(asyncio.run(burst(host, int(port), state_dir, int(edges)))), flush=True)


if __name__ == "__main__":
    main()
