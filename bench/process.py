"""Process-level benchmarks: CPU per reading, idle CPU, RSS and start-up time of `pi-mqtt-gateway run`.

Each figure runs the real console entry point (`python -m gateway --config ... run`) and reads its CPU time
and resident set from /proc; baselines in the same run are a raw aiomqtt publisher at the same rate
(`python -m bench.raw_rate`) and a raw "connect and publish once" script.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiomqtt

from gateway.cli.config_edit import render_toml
from tests.integration.broker import Broker

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    """The resident set of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def write_config(workdir: Path, broker: Broker, name: str, sensors: list[dict[str, Any]]) -> Path:
    config = {
        "gateway": {"id": name, "topic_prefix": "bench", "state_dir": str(workdir / f"{name}-state")},
        "gpio": {"pin_factory": "mock", "simulate": False},
        "mqtt": {"host": broker.host, "port": broker.port, "qos": 1},
        "logging": {"level": "warning", "format": "json"},
        "sensors": sensors,
    }
    path = workdir / f"{name}.toml"
    path.write_text(render_toml(config), encoding="utf-8")
    return path


def start(path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", str(path), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=60)


class Counter:
    """Counts messages on a topic filter from a subscriber of our own, in the bench's loop."""

    def __init__(self, broker: Broker, topic: str) -> None:
        self._broker, self._topic = broker, topic
        self.count = 0
        self.first_at: int | None = None
        self.ready = asyncio.Event()

    async def run(self) -> None:
        async with aiomqtt.Client(self._broker.host, self._broker.port) as client:
            await client.subscribe(self._topic, qos=1)
            self.ready.set()
            async for _message in client.messages:
                if self.first_at is None:
                    self.first_at = time.monotonic_ns()
                self.count += 1


async def measured(
    process: subprocess.Popen[bytes], counter: Counter, warmup: float, seconds: float
) -> dict[str, float]:
    """CPU seconds and messages counted over `seconds`, after `warmup`."""
    await asyncio.sleep(warmup)
    cpu0, count0 = cpu_seconds(process.pid), counter.count
    await asyncio.sleep(seconds)
    return {
        "cpu_s": cpu_seconds(process.pid) - cpu0,
        "messages": counter.count - count0,
        "rss_mib": rss_mib(process.pid),
    }


async def gateway_rate(broker: Broker, workdir: Path, rate: int, seconds: float, warmup: float) -> dict[str, float]:
    """A gateway process polling load averages at `rate` readings/s: CPU microseconds per reading."""
    sensors_count = max(1, round(rate * 0.05)) if rate >= 20 else 1
    interval = sensors_count / rate
    name = f"rate{rate}"
    sensors = [
        {"id": f"s{n}", "kind": "load_average", "interval": interval, "retain": False} for n in range(sensors_count)
    ]
    counter = Counter(broker, f"bench/{name}/sensor/+")
    task = asyncio.create_task(counter.run())
    await counter.ready.wait()
    process = start(write_config(workdir, broker, name, sensors))
    try:
        window = await measured(process, counter, warmup, seconds)
    finally:
        stop(process)
        task.cancel()
    return {**window, "us_per_reading": 1e6 * window["cpu_s"] / max(1, window["messages"])}


async def raw_rate(broker: Broker, rate: int, seconds: float, warmup: float) -> dict[str, float]:
    """The same rate from a raw aiomqtt QoS 1 publisher process: CPU microseconds per message."""
    counter = Counter(broker, "bench/raw-rate/#")
    task = asyncio.create_task(counter.run())
    await counter.ready.wait()
    argv = [sys.executable, "-m", "bench.raw_rate", broker.host, str(broker.port), str(rate), str(warmup + seconds + 5)]
    process = subprocess.Popen(argv, cwd=ROOT)  # noqa: ASYNC220 - a child we measure, started once
    try:
        window = await measured(process, counter, warmup, seconds)
    finally:
        process.terminate()
        process.wait(timeout=30)
        task.cancel()
    return {**window, "us_per_message": 1e6 * window["cpu_s"] / max(1, window["messages"])}


async def cpu_suite(broker: Broker, workdir: Path, seconds: float) -> dict[str, Any]:
    """CPU per reading at 10, 100 and 1,000 readings/s, each against a raw aiomqtt publisher at that rate."""
    results: dict[str, Any] = {}
    for rate in (10, 100, 1000):
        gateway = await gateway_rate(broker, workdir, rate, seconds, warmup=3.0)
        raw = await raw_rate(broker, rate, seconds, warmup=2.0)
        results[str(rate)] = {
            "gateway_us_per_reading": gateway["us_per_reading"],
            "raw_aiomqtt_us_per_message": raw["us_per_message"],
            "ratio": gateway["us_per_reading"] / raw["us_per_message"] if raw["us_per_message"] else None,
            "readings": gateway["messages"],
        }
    return results


async def idle_and_rss(broker: Broker, workdir: Path, seconds: float) -> dict[str, Any]:
    """20 edge inputs and no edges: CPU % of one core over `seconds`; RSS of that small config after 60 s."""
    sensors = [{"id": f"in{n}", "kind": "digital_input", "pin": 4 + n, "retain": False} for n in range(20)]
    process = start(write_config(workdir, broker, "idle", sensors))
    try:
        await asyncio.sleep(5.0)
        cpu0 = cpu_seconds(process.pid)
        await asyncio.sleep(seconds)
        idle_percent = 100 * (cpu_seconds(process.pid) - cpu0) / seconds
        await asyncio.sleep(max(0.0, 60.0 - 5.0 - seconds))
        rss = rss_mib(process.pid)
    finally:
        stop(process)
    return {"idle_cpu_percent_20_edge_inputs": idle_percent, "rss_mib_after_60_s_small": rss}


async def startup_once(broker: Broker, workdir: Path, name: str, sensors: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds from process start to the first reading at a subscriber, and RSS 5 s later."""
    counter = Counter(broker, f"bench/{name}/sensor/+")
    task = asyncio.create_task(counter.run())
    await counter.ready.wait()
    path = write_config(workdir, broker, name, sensors)
    began = time.monotonic_ns()
    process = start(path)
    try:
        while counter.first_at is None:
            await asyncio.sleep(0.001)
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited at start-up")
        first = (counter.first_at - began) / 1e9
        await asyncio.sleep(5.0)
        rss = rss_mib(process.pid)
    finally:
        stop(process)
        task.cancel()
    return {"first_reading_s": first, "rss_mib": rss}


async def raw_startup(broker: Broker) -> float:
    """Seconds for `python -c` to import aiomqtt, connect and publish one QoS 1 message (the floor)."""
    code = (
        "import asyncio, aiomqtt\n"
        "async def main():\n"
        f"    async with aiomqtt.Client({broker.host!r}, {broker.port}) as c:\n"
        "        await c.publish('bench/raw-start/x', b'1', qos=1)\n"
        "asyncio.run(main())\n"
    )
    began = time.monotonic()
    await asyncio.to_thread(subprocess.run, [sys.executable, "-c", code], check=True, cwd=ROOT)
    return time.monotonic() - began


def many_sensors(count: int) -> list[dict[str, Any]]:
    """`count` polled sensors of three internal kinds (the header has only 28 pins)."""
    kinds = ("load_average", "disk_usage", "load_average")
    return [{"id": f"s{n}", "kind": kinds[n % 3], "interval": 60.0, "retain": False} for n in range(count)]


async def startup_suite(broker: Broker, workdir: Path, rounds: int) -> dict[str, Any]:
    """Start-up to first reading and RSS, small (1 sensor) and 200 sensors, against a raw aiomqtt script."""
    small = [await startup_once(broker, workdir, f"start1-{r}", many_sensors(1)) for r in range(rounds)]
    large = [await startup_once(broker, workdir, f"start200-{r}", many_sensors(200)) for r in range(rounds)]
    raw = [await raw_startup(broker) for _ in range(rounds)]
    return {
        "first_reading_s_small": statistics.median(r["first_reading_s"] for r in small),
        "first_reading_s_200": statistics.median(r["first_reading_s"] for r in large),
        "raw_aiomqtt_connect_publish_s": statistics.median(raw),
        "rss_mib_200": statistics.median(r["rss_mib"] for r in large),
    }
