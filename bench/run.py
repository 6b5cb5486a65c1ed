"""Benchmarks of the gateway against a raw aiomqtt publish loop, measured in the same run.

    scripts/bench            (or: python -m bench.run [--rounds N] [--quick])

1. Edge -> subscriber latency at 1 kHz (2,000 edges, QoS 0 and 1): p50 / p99 / max, with a raw aiomqtt
   loop publishing at the same pace as the baseline; order and final state are checked in every run.
2. Burst throughput: N edges driven at once through the gateway vs N sequential raw aiomqtt publishes,
   both measured from the first event to the last arrival at a subscriber process (QoS 0 and 1).
3. ... the durable outbox, the SD card, the real process (bench/process.py) and the chip kinds (bench/chips.py).

Every figure is the median of several rounds; ratios compare rounds of the same run. Results go to
bench/results/latest.json and bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
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

from bench.chips import chip_suite
from bench.chips import markdown as chip_markdown
from bench.process import ROOT, cpu_suite, idle_and_rss, startup_suite
from gateway.cli.config_edit import render_toml
from gateway.config import GatewayConfig
from gateway.config_loader import loaded_from
from gateway.logs import configure_logging
from gateway.server import Gateway
from tests.integration.broker import Broker, free_port

RESULTS = Path(__file__).resolve().parent / "results"
PIN = 17
RAW_PAYLOAD = b'{"sensor":"edge","value":true,"unit":null,"ts":"2026-11-24T12:00:00.000Z","seq":1234567}'


class Subscriber:
    """A subscriber process collecting `count` messages on `topic`."""

    def __init__(
        self, broker: Broker, topic: str, count: int, qos: int, workdir: Path, client_id: str | None = None
    ) -> None:
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
                *([client_id] if client_id else []),
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


def gateway_config(
    broker: Broker, gateway_id: str, qos: int, state_dir: Path, reconnect: tuple[float, float] = (0.5, 30.0)
) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "gateway": {
                "id": gateway_id,
                "topic_prefix": "bench",
                "state_dir": str(state_dir),
                "stats_interval": 3600.0,
            },
            "gpio": {"pin_factory": "mock", "simulate": False},
            "mqtt": {
                "host": broker.host,
                "port": broker.port,
                "qos": qos,
                "reconnect_min": reconnect[0],
                "reconnect_max": reconnect[1],
            },
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
    broker: Broker, workdir: Path, name: str, qos: int, count: int, rate_hz: float | None, *, acknowledged: bool = False
) -> dict[str, Any]:
    """A raw aiomqtt loop: `count` sequential publishes, paced at `rate_hz` or as fast as possible.

    `acknowledged`: time it to the last PUBACK, with no subscriber (the drain comparison).
    """
    topic = f"bench/raw/{name}"
    subscriber = None if acknowledged else Subscriber(broker, topic, count, qos, workdir)
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
        done = time.monotonic_ns()
    if subscriber is None:
        return {"acknowledged_per_s": count / ((done - sent[0]) / 1e9)}
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


async def poll(condition: Callable[[], bool], step: float = 0.002) -> int:
    """Wait until `condition()` holds, checking every `step` seconds; the monotonic time it was seen."""
    while not condition():  # noqa: ASYNC110 - our own counters, no event to wait on
        await asyncio.sleep(step)
    return time.monotonic_ns()


async def drain_round(workdir: Path, name: str, backlog: int) -> dict[str, Any]:
    """A durable backlog of `backlog` edges built with the broker away, then drained: acknowledged msgs/s.

    Both sides are measured to the last PUBACK, on the same stock broker with no subscriber (the fault
    battery proves completeness and order; this measures speed).
    """
    (workdir / name).mkdir()
    broker = Broker(workdir / name)
    factory = MockFactory()
    Device.pin_factory = factory
    config = gateway_config(broker, name, 1, workdir / f"{name}-state", reconnect=(0.2, 0.5))
    gateway = Gateway(loaded_from(config), pin_factory=factory)
    serving = asyncio.create_task(gateway.serve())
    await gateway.ready.wait()
    await asyncio.to_thread(lambda: [toggler(factory)(i) for i in range(backlog)])
    await poll(lambda: gateway.stats.accepted == backlog + 1)
    await asyncio.sleep(1.5)  # past the group-commit interval: the backlog is on disk
    on_disk = gateway.buffered
    broker.start()
    connected = await poll(lambda: gateway.stats.connected)
    emptied = await poll(lambda: gateway.buffered == 0)
    published = gateway.stats.published
    gateway.request_stop()
    await serving
    factory.close()
    Device.pin_factory = None
    raw = await raw_case(broker, workdir, name, 1, backlog, None, acknowledged=True)
    broker.stop()
    return {
        "gateway_msgs_per_s": (backlog + 1) / ((emptied - connected) / 1e9),
        "raw_aiomqtt_msgs_per_s": raw["acknowledged_per_s"],
        "complete": on_disk == backlog + 1 and published == backlog + 1,
    }


async def drain_suite(workdir: Path, rounds: int, backlog: int) -> dict[str, Any]:
    runs = [await drain_round(workdir, f"drain-r{r}", backlog) for r in range(rounds)]
    return {
        "backlog": backlog,
        "gateway_msgs_per_s": statistics.median(r["gateway_msgs_per_s"] for r in runs),
        "raw_aiomqtt_msgs_per_s": statistics.median(r["raw_aiomqtt_msgs_per_s"] for r in runs),
        "ratio_median": statistics.median(r["gateway_msgs_per_s"] / r["raw_aiomqtt_msgs_per_s"] for r in runs),
        "complete_every_round": all(r["complete"] for r in runs),
    }


def disk_cost(workdir: Path, broker: Broker | None, name: str, seconds: float) -> dict[str, Any]:
    """A gateway process at 10 readings/s under strace: fsyncs and bytes written to files, per reading."""
    state = workdir / f"{name}-state"
    config = {
        "gateway": {"id": name, "topic_prefix": "bench", "state_dir": str(state), "stats_interval": 3600.0},
        "gpio": {"pin_factory": "mock", "simulate": True},
        # No broker: a port nothing listens on, so every reading waits in the outbox.
        "mqtt": {"host": "127.0.0.1", "port": broker.port if broker else free_port(), "reconnect_max": 5.0},
        "logging": {"level": "info", "format": "json"},
        "sensors": [{"id": "load", "kind": "load_average", "interval": 0.1}],
    }
    config_path = workdir / f"{name}.toml"
    config_path.write_text(render_toml(config), encoding="utf-8")
    trace = workdir / f"{name}.strace"
    process = subprocess.Popen(
        [
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=pwrite64,pwritev,fsync,fdatasync",
            "-o",
            str(trace),
            sys.executable,
            "-m",
            "gateway",
            "--config",
            str(config_path),
            "run",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[1],
    )
    time.sleep(seconds)
    # SIGTERM goes to the traced gateway (strace's child), not to strace, which would just detach.
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text(encoding="ascii").split()
    for child in children:
        os.kill(int(child), signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    stopped = [json.loads(line[3:]) for line in output.decode().splitlines() if '"stopped"' in line]
    readings = int(stopped[-1]["accepted"]) if stopped else 0
    syncs = written = 0
    for line in trace.read_text(encoding="utf-8").splitlines():
        call, _, result = line.partition("(")[0].split()[-1], None, line.rpartition("= ")[2].split()[0]
        if call in ("fsync", "fdatasync"):
            syncs += 1
        elif call in ("pwrite64", "pwritev") and result.isdigit():
            written += int(result)
    return {
        "readings": readings,
        "fsyncs_per_reading": syncs / readings if readings else None,
        "bytes_written_per_reading": written / readings if readings else None,
    }


def disk_suite(broker: Broker, workdir: Path, seconds: float) -> dict[str, Any]:
    return {
        "broker_up": disk_cost(workdir, broker, "disk-up", seconds),
        "broker_away": disk_cost(workdir, None, "disk-away", seconds),
        "seconds": seconds,
    }


TARGETS = {  # issue 8
    "latency_p50_ms": 1.0,
    "latency_p99_ms": 2.0,
    "latency_max_ms": 10.0,
    "burst_ratio_qos0": 0.80,
    "burst_ratio_qos1": 0.90,
    "drain_ratio": 1.5,
    "cpu_us_per_reading_at_1000": 150,
    "idle_cpu_percent": 0.5,
    "rss_mib_small": 45,
    "first_reading_s_small": 0.3,
    "first_reading_s_200": 1.0,
    "fsync_per_reading": 0.3,
}


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
        target = {"p50_ms": "<= 1 ms", "p99_ms": "<= 2 ms", "max_ms": "<= 10 ms"}.get(key, "")
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
        f"{burst['qos1']['ratio_median']:.2f} | >= 0.80 / >= 0.90 |",
        f"| order and final state right in every round | {ordered('qos0')} | {ordered('qos1')} | yes |",
    ]
    drain, disk = results["drain"], results["disk_at_10_per_s"]
    up, away = disk["broker_up"], disk["broker_away"]
    lines += [
        "",
        "| durable outbox | gateway | raw aiomqtt QoS 1 loop | ratio | target |",
        "|---|---|---|---|---|",
        f"| drain of a {drain['backlog']:,}-reading backlog from disk, acknowledged msgs/s | "
        f"{drain['gateway_msgs_per_s']:.0f}/s | {drain['raw_aiomqtt_msgs_per_s']:.0f}/s | "
        f"{drain['ratio_median']:.2f} | >= 1.5 |",
        f"| every stored reading acknowledged, every round | {drain['complete_every_round']} | | | yes |",
        "",
        f"| SD-card cost at 10 readings/s ({disk['seconds']:.0f} s, strace) | broker up | broker away | target |",
        "|---|---|---|---|",
        f"| fsync per reading | {_num(up['fsyncs_per_reading'], 3)} | {_num(away['fsyncs_per_reading'], 3)} | <= 0.3 |",
        f"| bytes written per reading | {_num(up['bytes_written_per_reading'], 0)} | "
        f"{_num(away['bytes_written_per_reading'], 0)} | |",
    ]
    chips = ["", chip_markdown(results["chips"]).rstrip("\n")] if "chips" in results else []
    return "\n".join(lines + process_lines(results) + chips) + "\n"


def process_lines(results: dict[str, Any]) -> list[str]:
    """The process-level table: CPU, RSS, start-up, and the stock-broker burst."""
    proc, stock = results["process"], results["burst_stock_broker"]
    lines = [
        "",
        "| the real process (`pi-mqtt-gateway run`) | gateway | raw aiomqtt | ratio | target |",
        "|---|---|---|---|---|",
    ]
    for rate, cpu in proc["cpu"].items():
        target = "<= 150 us" if rate == "1000" else ""
        lines.append(
            f"| CPU per reading at {int(rate):,}/s (QoS 1, polled) | {cpu['gateway_us_per_reading']:.0f} us | "
            f"{cpu['raw_aiomqtt_us_per_message']:.0f} us | {_num(cpu['ratio'], 2)} | {target} |"
        )
    burst = proc["burst_rss"]
    lines += [
        f"| idle CPU with 20 edge inputs | {proc['idle_cpu_percent_20_edge_inputs']:.2f} % of a core | | | < 0.5 % |",
        f"| RSS after 60 s, small config | {proc['rss_mib_after_60_s_small']:.1f} MiB | | | <= 45 MB |",
        f"| RSS before / after a {burst['edges']:,}-edge burst | {burst['rss_mib_before']:.1f} / "
        f"{burst['rss_mib_after']:.1f} MiB | | | |",
        f"| RSS with 200 sensors | {proc['rss_mib_200']:.1f} MiB | | | |",
        f"| process start to first reading at a subscriber, 1 sensor | {1000 * proc['first_reading_s_small']:.0f} ms"
        f" | {1000 * proc['raw_aiomqtt_connect_publish_s']:.0f} ms (import, connect, publish) | | <= 300 ms |",
        f"| same, 200 sensors | {1000 * proc['first_reading_s_200']:.0f} ms | | | <= 1 s |",
        "",
        "| burst on a stock broker (no `set_tcp_nodelay`) | QoS 0 | QoS 1 |",
        "|---|---|---|",
        f"| gateway | {stock['qos0']['gateway_msgs_per_s']:.0f}/s | {stock['qos1']['gateway_msgs_per_s']:.0f}/s |",
        f"| raw aiomqtt | {stock['qos0']['raw_aiomqtt_msgs_per_s']:.0f}/s | "
        f"{stock['qos1']['raw_aiomqtt_msgs_per_s']:.0f}/s |",
        f"| gateway / raw | {stock['qos0']['ratio_median']:.2f} | {stock['qos1']['ratio_median']:.2f} |",
    ]
    return lines


async def process_suite(broker: Broker, workdir: Path, rounds: int, edges: int, quick: bool) -> dict[str, Any]:
    """CPU per reading, idle CPU, RSS and start-up time of the real process (bench/process.py)."""
    seconds = 3.0 if quick else 10.0
    cpu = await cpu_suite(broker, workdir, seconds)
    idle = await idle_and_rss(broker, workdir, seconds)
    startup = await startup_suite(broker, workdir, rounds)
    child = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bench.burst_rss", broker.host, str(broker.port), str(workdir / "rss"), str(edges)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return {"cpu": cpu, **idle, **startup, "burst_rss": json.loads(child.stdout.strip().splitlines()[-1])}


async def main_async(
    rounds: int, edges: int, burst: int, backlog: int, disk_seconds: float, quick: bool = False
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pmg-bench-") as tmp:
        workdir = Path(tmp)
        broker = Broker(workdir)
        broker.start()
        try:
            latency = await latency_suite(broker, workdir, rounds, edges)
            bursts = await burst_suite(broker, workdir, rounds, burst)
            drain = await drain_suite(workdir, max(1, rounds // 2 + 1), backlog)
            disk = await asyncio.to_thread(disk_suite, broker, workdir, disk_seconds)
            processes = await process_suite(broker, workdir, rounds, burst * 4, quick)
            chips = await chip_suite(broker, workdir, max(1, rounds // 2 + 1), 3.0 if quick else 10.0)
        finally:
            broker.stop()
        (workdir / "stock").mkdir()
        stock = Broker(workdir / "stock", nodelay=False)  # mosquitto's default: the tip measured
        stock.start()
        try:
            stock_burst = await burst_suite(stock, workdir, max(1, rounds // 2 + 1), burst)
        finally:
            stock.stop()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        "loopback mosquitto (set_tcp_nodelay true); raw aiomqtt with TCP_NODELAY like the gateway",
        "rounds": rounds,
        "edges_at_1khz": edges,
        "burst_size": burst,
        "latency_1khz": latency,
        "burst": bursts,
        "drain": drain,
        "disk_at_10_per_s": disk,
        "process": processes,
        "burst_stock_broker": stock_burst,
        "chips": chips,
        "targets": TARGETS,
    }


def main() -> None:
    configure_logging("warning", "console")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 round, smaller counts (a smoke run)")
    args = parser.parse_args()
    rounds, edges, burst, backlog, seconds = (
        (1, 300, 1000, 2000, 5.0) if args.quick else (args.rounds, 2000, 5000, 20_000, 30.0)
    )
    results = asyncio.run(main_async(rounds, edges, burst, backlog, seconds, args.quick))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "latest.md").write_text(markdown(results), encoding="utf-8")
    if not args.quick:
        quote_in_readme(markdown(results))
    print(markdown(results))


def _num(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


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
