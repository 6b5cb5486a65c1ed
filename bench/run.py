"""Benchmarks of the gateway against a raw aiomqtt publish loop, measured in the same run.

    scripts/bench            (or: python -m bench.run [--rounds N] [--quick])

1. Edge -> subscriber latency at 1 kHz (2,000 edges, QoS 0 and 1): p50 / p99 / max, with a raw aiomqtt
   loop publishing at the same pace as the baseline; order and final state are checked in every run.
2. Burst throughput: N edges driven at once through the gateway vs N sequential raw aiomqtt publishes,
   both measured from the first event to the last arrival at a subscriber process (QoS 0 and 1).

Every figure is the median of several rounds; ratios compare rounds of the same run. Results go to
bench/results/latest.json and bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiomqtt
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from gateway.config import GatewayConfig
from gateway.logs import configure_logging
from gateway.server import Gateway
from gateway.settings import loaded_from
from tests.integration.broker import Broker

RESULTS = Path(__file__).resolve().parent / "results"
PIN = 17
RAW_PAYLOAD = b'{"sensor":"edge","value":true,"unit":null,"ts":"2026-11-24T12:00:00.000Z","seq":1234567}'


class Subscriber:
    """A subscriber process collecting `count` messages on `topic`."""

    def __init__(self, broker: Broker, topic: str, count: int, qos: int, workdir: Path) -> None:
        self.outfile = workdir / f"sub-{time.monotonic_ns()}.json"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.subscriber",
                broker.host,
                str(broker.port),
                topic,
                str(count),
                str(qos),
                str(self.outfile),
            ],
            stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[1],
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"ready":
            raise RuntimeError("subscriber did not start")

    def result(self) -> tuple[list[int], list[str]]:
        self.process.wait(timeout=120)
        data = json.loads(self.outfile.read_text(encoding="utf-8"))
        return data["arrivals"], data["payloads"]


def pace(count: int, rate_hz: float, action: Callable[[int], None]) -> list[int]:
    """Call action(i) `count` times at `rate_hz` (sleeping, so the GIL is free); return the call times."""
    times: list[int] = []
    period_ns = int(1e9 / rate_hz)
    next_at = time.monotonic_ns()
    for index in range(count):
        delay = next_at - time.monotonic_ns()
        if delay > 0:
            time.sleep(delay / 1e9)
        times.append(time.monotonic_ns())
        action(index)
        next_at += period_ns
    return times


def percentiles(latencies_ns: list[int]) -> dict[str, float]:
    ordered = sorted(latencies_ns)

    def pick(quantile: float) -> float:
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] / 1e6

    return {"p50_ms": pick(0.50), "p99_ms": pick(0.99), "max_ms": ordered[-1] / 1e6}


def gateway_config(broker: Broker, gateway_id: str, qos: int, state_dir: Path) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "gateway": {
                "id": gateway_id,
                "topic_prefix": "bench",
                "state_dir": str(state_dir),
                "stats_interval": 3600.0,
            },
            "gpio": {"pin_factory": "mock", "simulate": False},
            "mqtt": {"host": broker.host, "port": broker.port, "qos": qos},
            "outbox": {"max_readings": 1_000_000},
            "logging": {"level": "warning"},
            "sensors": [{"id": "edge", "kind": "button", "pin": PIN, "retain": False}],
        }
    )


async def run_gateway_case(
    broker: Broker, workdir: Path, name: str, qos: int, count: int, drive: Callable[[MockFactory], list[int]]
) -> dict[str, Any]:
    """Start a gateway, drive `count` edges with `drive`, and return send and arrival times."""
    factory = MockFactory()
    Device.pin_factory = factory
    config = gateway_config(broker, name, qos, workdir / name)
    topic = f"bench/{name}/sensor/edge"
    subscriber = Subscriber(broker, topic, count + 1, qos, workdir)  # +1: the state published at start
    gateway = Gateway(loaded_from(config), pin_factory=factory)
    serving = asyncio.create_task(gateway.serve())
    await gateway.ready.wait()
    while gateway.stats.published < 1:  # noqa: ASYNC110 - the state published at start-up must go out first
        await asyncio.sleep(0.01)
    sent = await asyncio.to_thread(drive, factory)
    arrivals, payloads = await asyncio.to_thread(subscriber.result)
    final_pressed = not factory.pin(PIN).state
    gateway.request_stop()
    await serving
    factory.close()
    Device.pin_factory = None
    readings = [json.loads(p) for p in payloads[1:]]
    seqs = [r["seq"] for r in readings]
    return {
        "sent": sent,
        "arrivals": arrivals[1:],
        "complete": len(readings) == count,
        "in_order": seqs == sorted(seqs) and all(r["value"] == (i % 2 == 0) for i, r in enumerate(readings)),
        "final_state_ok": bool(readings) and readings[-1]["value"] == final_pressed,
    }


def toggler(factory: MockFactory) -> Callable[[int], None]:
    pin = factory.pin(PIN)
    return lambda _i: pin.drive_low() if pin.state else pin.drive_high()


async def raw_case(
    broker: Broker, workdir: Path, name: str, qos: int, count: int, rate_hz: float | None
) -> dict[str, Any]:
    """A raw aiomqtt loop: `count` sequential publishes, paced at `rate_hz` or as fast as possible."""
    topic = f"bench/raw/{name}"
    subscriber = Subscriber(broker, topic, count, qos, workdir)
    sent: list[int] = []
    # The same TCP_NODELAY the gateway sets: the comparison is about our overhead, not Nagle's algorithm.
    nodelay = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
    async with aiomqtt.Client(broker.host, broker.port, socket_options=nodelay) as client:
        period = 1e9 / rate_hz if rate_hz else 0.0
        start = time.monotonic_ns()
        for index in range(count):
            if period:
                delay = start + index * period - time.monotonic_ns()
                if delay > 0:
                    await asyncio.sleep(delay / 1e9)
            sent.append(time.monotonic_ns())
            await client.publish(topic, RAW_PAYLOAD, qos=qos)
    arrivals, _ = await asyncio.to_thread(subscriber.result)
    return {"sent": sent, "arrivals": arrivals, "complete": len(arrivals) == count}


def throughput(case: dict[str, Any]) -> float:
    arrivals: list[int] = case["arrivals"]
    first_sent: int = case["sent"][0]
    return len(arrivals) / ((arrivals[-1] - first_sent) / 1e9)


async def latency_suite(broker: Broker, workdir: Path, rounds: int, edges: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for qos in (0, 1):
        gateway_runs, raw_runs, checks = [], [], []
        for r in range(rounds):
            case = await run_gateway_case(
                broker,
                workdir,
                f"lat-q{qos}-r{r}",
                qos,
                edges,
                lambda f: pace(edges, 1000.0, toggler(f)),
            )
            checks.append(case["complete"] and case["in_order"] and case["final_state_ok"])
            gateway_runs.append(percentiles([a - s for s, a in zip(case["sent"], case["arrivals"], strict=False)]))
            raw = await raw_case(broker, workdir, f"lat-q{qos}-r{r}", qos, edges, 1000.0)
            raw_runs.append(percentiles([a - s for s, a in zip(raw["sent"], raw["arrivals"], strict=False)]))
        out[f"qos{qos}"] = {
            "gateway": {k: statistics.median(run[k] for run in gateway_runs) for k in gateway_runs[0]},
            "raw_aiomqtt": {k: statistics.median(run[k] for run in raw_runs) for k in raw_runs[0]},
            "gateway_max_of_rounds_ms": max(run["max_ms"] for run in gateway_runs),
            "order_and_final_state_ok_every_round": all(checks),
        }
    return out


async def burst_suite(broker: Broker, workdir: Path, rounds: int, count: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for qos in (0, 1):
        gateway_rates, raw_rates, ratios, checks = [], [], [], []
        for r in range(rounds):

            def burst(factory: MockFactory) -> list[int]:
                action = toggler(factory)
                start = time.monotonic_ns()
                for index in range(count):
                    action(index)
                return [start]

            case = await run_gateway_case(broker, workdir, f"burst-q{qos}-r{r}", qos, count, burst)
            checks.append(case["complete"] and case["in_order"] and case["final_state_ok"])
            raw = await raw_case(broker, workdir, f"burst-q{qos}-r{r}", qos, count, None)
            gateway_rates.append(throughput(case))
            raw_rates.append(throughput(raw))
            ratios.append(gateway_rates[-1] / raw_rates[-1])
        out[f"qos{qos}"] = {
            "gateway_msgs_per_s": statistics.median(gateway_rates),
            "raw_aiomqtt_msgs_per_s": statistics.median(raw_rates),
            "ratio_median": statistics.median(ratios),
            "order_and_final_state_ok_every_round": all(checks),
        }
    return out


TARGETS = {"latency_p99_ms": 3.0, "latency_max_ms": 10.0, "burst_ratio_qos0": 0.60, "burst_ratio_qos1": 0.70}


def markdown(results: dict[str, Any]) -> str:
    lat, burst = results["latency_1khz"], results["burst"]

    def ordered(qos: str) -> bool:
        key = "order_and_final_state_ok_every_round"
        return bool(lat[qos][key] and burst[qos][key])

    lines = [
        f"Measured {results['date']} on {results['machine']} ({results['rounds']} rounds, medians).",
        "",
        "| figure | QoS 0 | QoS 1 | target |",
        "|---|---|---|---|",
    ]
    for key, label in (("p50_ms", "p50"), ("p99_ms", "p99"), ("max_ms", "max (median of rounds)")):
        target = {"p99_ms": "<= 3 ms", "max_ms": "<= 10 ms"}.get(key, "")
        lines.append(
            f"| edge->subscriber latency {label}, gateway | {lat['qos0']['gateway'][key]:.2f} ms | "
            f"{lat['qos1']['gateway'][key]:.2f} ms | {target} |"
        )
        lines.append(
            f"| same, raw aiomqtt loop at 1 kHz | {lat['qos0']['raw_aiomqtt'][key]:.2f} ms | "
            f"{lat['qos1']['raw_aiomqtt'][key]:.2f} ms | |"
        )
    lines.append(
        f"| latency max over all rounds, gateway | {lat['qos0']['gateway_max_of_rounds_ms']:.2f} ms | "
        f"{lat['qos1']['gateway_max_of_rounds_ms']:.2f} ms | |"
    )
    lines += [
        f"| burst throughput, gateway | {burst['qos0']['gateway_msgs_per_s']:.0f}/s | "
        f"{burst['qos1']['gateway_msgs_per_s']:.0f}/s | |",
        f"| burst throughput, raw aiomqtt | {burst['qos0']['raw_aiomqtt_msgs_per_s']:.0f}/s | "
        f"{burst['qos1']['raw_aiomqtt_msgs_per_s']:.0f}/s | |",
        f"| gateway / raw (median of per-round ratios) | {burst['qos0']['ratio_median']:.2f} | "
        f"{burst['qos1']['ratio_median']:.2f} | >= 0.60 / >= 0.70 |",
        f"| order and final state right in every round | {ordered('qos0')} | {ordered('qos1')} | yes |",
    ]
    return "\n".join(lines) + "\n"


async def main_async(rounds: int, edges: int, burst: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pmg-bench-") as tmp:
        workdir = Path(tmp)
        broker = Broker(workdir)
        broker.start()
        try:
            latency = await latency_suite(broker, workdir, rounds, edges)
            bursts = await burst_suite(broker, workdir, rounds, burst)
        finally:
            broker.stop()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        "loopback mosquitto (set_tcp_nodelay true); raw aiomqtt with TCP_NODELAY like the gateway",
        "rounds": rounds,
        "edges_at_1khz": edges,
        "burst_size": burst,
        "latency_1khz": latency,
        "burst": bursts,
        "targets": TARGETS,
    }


def main() -> None:
    configure_logging("warning", "console")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 round, smaller counts (a smoke run)")
    args = parser.parse_args()
    rounds, edges, burst = (1, 300, 1000) if args.quick else (args.rounds, 2000, 5000)
    results = asyncio.run(main_async(rounds, edges, burst))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "latest.md").write_text(markdown(results), encoding="utf-8")
    if not args.quick:
        quote_in_readme(markdown(results))
    print(markdown(results))


def quote_in_readme(table: str) -> None:
    """Replace the README's benchmark block (between its markers) with the latest table."""
    readme = RESULTS.parents[1] / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- bench:start -->\n", "<!-- bench:end -->"
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    if rest:
        readme.write_text(head + start + table + end + tail, encoding="utf-8")


if __name__ == "__main__":
    main()
