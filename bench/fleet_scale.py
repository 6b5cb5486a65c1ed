"""A fleet of gateway processes on a 3-node NATS cluster: delivery, cost per gateway, broker load, failover.

    python -m bench.fleet_scale [--gateways N] [--seconds S]      (N = 50, S = 60 by default)

Starts a 3-node NATS 2.9 cluster (JetStream, MQTT listener per node, streams R3; tests/integration/nats.py)
and N real `pi-mqtt-gateway run` processes (`gw00`, `gw01`, ...), each with its own state dir and two
`load_average` sensors polled every second (`retain = false`): 2 readings/s per gateway, MQTT 3.1.1, QoS 1,
stats every 5 s. Gateway i lists the nodes in failover order rotated by i, so they spread over the nodes.
One aiomqtt subscriber (QoS 1, persistent session) on node 2 records every reading (gateway, seq, sample time)
and every stats message. One run measures:

1. Delivery: readings/s at the subscriber over an S-second steady window, and over the whole run the ratio
   delivered / generated. Generated = the sum over gateways of their highest reading `seq` (readings are
   numbered 1, 2, ... per gateway on a fresh state dir, across its sensors; `accepted` in stats also counts
   the gateway's own control messages, so it is not a reading count). It is taken after every gateway was
   stopped with SIGTERM (which flushes the outbox): its final stats must say `buffered` 0, so no tail is
   hidden. Losses: per gateway, every seq from 1 to its highest must have arrived (duplicates allowed).
   (`seq` is per gateway, not per sensor, so this is stricter than checking each sensor's topic.)
2. Cost: CPU (utime + stime from /proc) and RSS of every gateway process over the steady window, as the
   median and max; CPU of each nats-server process over the same window.
3. Failover: the node with the most gateways on it (from their stats' `broker`; never the subscriber's node)
   is killed -9. Per gateway that was on it: the time until its stats name another node, and until a reading
   sampled after the kill arrives (readings flow again); its failover time is the later of the two. Then
   S/2 s more (at least 20), and losses are counted and attributed: a missing seq is the gateway's when its
   stats count drops or quarantines, the broker's when the gateway's outbox was empty at its graceful stop
   (every reading got a PUBACK, so a broker node acknowledged it and the reading never reached us).

Results: bench/results/fleet_scale.json and bench/results/fleet_scale.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import aiomqtt

from bench.process import cpu_seconds, rss_mib
from gateway.cli.config_edit import render_toml
from gateway.plugins import config_model
from tests.integration.nats import HOST, NatsCluster, server_version

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
PREFIX = "bench"
SENSORS = (("load1", 1), ("load5", 5))  # (sensor id, load-average minutes)
INTERVAL = 1.0  # seconds between readings of each sensor
STATS_INTERVAL = 5.0
SUBSCRIBER_NODE = 2  # never killed
READY_TIMEOUT = 300.0  # N Python processes importing on 2 cores, next to three nats-servers
FAILOVER_TIMEOUT = 180.0
SETTLE_QUIET = 5.0  # the subscriber is settled after this long without a new reading
SETTLE_TIMEOUT = 120.0
FLEET_TARGET = 500
V311 = aiomqtt.ProtocolVersion.V311


def parse_ts(text: str) -> float:
    """A reading's `ts` (ISO 8601, UTC, `Z`) as a Unix time."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Arrival:
    """One reading as the subscriber got it."""

    at: float  # time.monotonic() at arrival
    seq: int
    sampled: float  # the reading's `ts`, Unix time


@dataclass
class GatewayRecord:
    """Everything the subscriber saw of one gateway."""

    gateway_id: str
    arrivals: list[Arrival] = field(default_factory=list)
    seqs: set[int] = field(default_factory=set)
    stats: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (arrival, payload)

    @property
    def last_stats(self) -> dict[str, Any] | None:
        return self.stats[-1][1] if self.stats else None

    @property
    def duplicates(self) -> int:
        return len(self.arrivals) - len(self.seqs)


class Subscriber:
    """A QoS 1 subscriber on one node recording readings and stats per gateway, reconnecting if cut off."""

    def __init__(self, port: int, records: dict[str, GatewayRecord]) -> None:
        self.port = port
        self.records = records
        self.readings = 0
        self.last_reading_at = time.monotonic()
        self.reconnects = 0
        self.unparsable = 0
        self.ready = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                client = aiomqtt.Client(
                    HOST, self.port, identifier="fleet-scale-sub", clean_session=False, protocol=V311, keepalive=10
                )
                async with client:
                    await client.subscribe(f"{PREFIX}/+/sensor/+", qos=1)
                    await client.subscribe(f"{PREFIX}/+/stats", qos=1)
                    self.ready.set()
                    async for message in client.messages:
                        payload = message.payload
                        if isinstance(payload, bytes | bytearray):
                            self.on_message(message.topic.value, bytes(payload))
            except aiomqtt.MqttError:
                self.reconnects += 1
                await asyncio.sleep(0.2)

    def on_message(self, topic: str, payload: bytes) -> None:
        now = time.monotonic()
        levels = topic.split("/")
        record = self.records.get(levels[1]) if len(levels) >= 3 else None
        if record is None:
            return
        try:
            data = json.loads(payload)
            if levels[2] == "sensor":
                seq = int(data["seq"])
                record.arrivals.append(Arrival(now, seq, parse_ts(str(data["ts"]))))
                record.seqs.add(seq)
                self.readings += 1
                self.last_reading_at = now
            elif levels[2] == "stats":
                record.stats.append((now, data))
        except (ValueError, KeyError, TypeError):
            self.unparsable += 1


@dataclass
class Fleet:
    """The gateway processes this bench started (stopped on every exit path)."""

    workdir: Path
    ids: list[str] = field(default_factory=list)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, IO[bytes]] = field(default_factory=dict)

    def start(self, gateway_id: str, config: Path) -> None:
        log = (self.workdir / f"{gateway_id}.log").open("wb")
        self.logs[gateway_id] = log
        self.processes[gateway_id] = subprocess.Popen(
            [sys.executable, "-m", "gateway", "--config", str(config), "run"],
            stdin=subprocess.DEVNULL,
            stdout=log,  # the gateway logs JSON lines to stdout
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    def check_alive(self) -> None:
        for gateway_id, process in self.processes.items():
            if process.poll() is not None:
                tail = (self.workdir / f"{gateway_id}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"gateway {gateway_id} exited ({process.returncode}):\n{tail}")

    def stop(self, timeout: float = 60.0) -> dict[str, int | None]:
        """SIGTERM every gateway still running (a graceful stop flushes), SIGKILL after `timeout`; exit codes."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + timeout
        codes: dict[str, int | None] = {}
        for gateway_id, process in self.processes.items():
            try:
                codes[gateway_id] = process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
                codes[gateway_id] = None  # did not stop in time
        for log in self.logs.values():
            log.close()
        self.logs.clear()
        return codes


def gateway_config(workdir: Path, index: int, gateway_id: str, ports: list[int]) -> Path:
    """Gateway `index`'s config: the nodes rotated by `index` as its failover order; validated before use."""
    order = [ports[(index + k) % len(ports)] for k in range(len(ports))]
    config: dict[str, Any] = {
        "gateway": {
            "id": gateway_id,
            "topic_prefix": PREFIX,
            "state_dir": str(workdir / f"{gateway_id}-state"),
            "stats_interval": STATS_INTERVAL,
        },
        "gpio": {"pin_factory": "mock", "simulate": True},
        "mqtt": {"hosts": [f"{HOST}:{port}" for port in order], "protocol": "3.1.1", "qos": 1},
        "logging": {"level": "warning", "format": "json"},
        "sensors": [
            {"id": sensor, "kind": "load_average", "minutes": minutes, "interval": INTERVAL, "retain": False}
            for sensor, minutes in SENSORS
        ],
    }
    text = render_toml(config)
    config_model().model_validate(tomllib.loads(text))
    path = workdir / f"{gateway_id}.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def wait_until(condition: Callable[[], bool], timeout: float, what: str, fleet: Fleet | None = None) -> None:
    """Poll `condition` every 0.2 s (checking the gateways are alive) until it holds; raise after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if fleet is not None:
            fleet.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.2)


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "max": max(values), "min": min(values)} if values else {}


def node_of(broker: object, ports: list[int]) -> int | None:
    """The node index a stats `broker` (`host:port`) names."""
    if not isinstance(broker, str):
        return None
    port = broker.rpartition(":")[2]
    return ports.index(int(port)) if port.isdigit() and int(port) in ports else None


def cpu_window(pids: dict[str, int], before: dict[str, float], seconds: float) -> dict[str, float]:
    """Percent of one core per process since `before`."""
    return {name: 100 * (cpu_seconds(pid) - before[name]) / seconds for name, pid in pids.items()}


async def steady_window(
    cluster: NatsCluster, fleet: Fleet, subscriber: Subscriber, seconds: float, live_nodes: list[int]
) -> dict[str, Any]:
    """Delivered readings/s, gateway CPU and RSS, nats-server CPU over `seconds`."""
    gw_pids = {gid: p.pid for gid, p in fleet.processes.items()}
    node_pids = {f"n{i}": pid for i in live_nodes if (pid := cluster.pid(i)) is not None}
    gw0 = {gid: cpu_seconds(pid) for gid, pid in gw_pids.items()}
    node0 = {name: cpu_seconds(pid) for name, pid in node_pids.items()}
    self0, readings0, began = time.process_time(), subscriber.readings, time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - began
    gateway_cpu = cpu_window(gw_pids, gw0, elapsed)
    node_cpu = cpu_window(node_pids, node0, elapsed)
    rss = [rss_mib(pid) for pid in gw_pids.values()]
    delivered = subscriber.readings - readings0
    return {
        "seconds": elapsed,
        "readings_delivered": delivered,
        "delivered_per_s": delivered / elapsed,
        "generated_per_s_nominal": len(fleet.processes) * len(SENSORS) / INTERVAL,
        "gateway_cpu_percent": spread(list(gateway_cpu.values())),
        "gateway_cpu_percent_sum": sum(gateway_cpu.values()),
        "gateway_rss_mib": spread(rss),
        "broker_cpu_percent": node_cpu,
        "broker_cpu_percent_sum": sum(node_cpu.values()),
        "bench_process_cpu_percent": 100 * (time.process_time() - self0) / elapsed,
    }


def failover_times(
    records: dict[str, GatewayRecord], moved: list[str], killed_at: float, killed_wall: float, killed: str
) -> dict[str, dict[str, float | None]]:
    """Per gateway that was on the killed node: seconds until its stats name another node, and until a reading
    sampled after the kill arrives."""
    times: dict[str, dict[str, float | None]] = {}
    for gid in moved:
        record = records[gid]
        stats_at = next(
            (
                at - killed_at
                for at, data in record.stats
                if at > killed_at and data.get("broker") not in (None, killed) and data.get("connected")
            ),
            None,
        )
        flow_at = next(
            (a.at - killed_at for a in record.arrivals if a.at > killed_at and a.sampled > killed_wall), None
        )
        both = max(stats_at, flow_at) if stats_at is not None and flow_at is not None else None
        times[gid] = {"stats_s": stats_at, "readings_s": flow_at, "failover_s": both}
    return times


def max_gap(record: GatewayRecord, start: float, end: float) -> float:
    """The longest time between two readings of one gateway arriving within [start, end]."""
    ats = [a.at for a in record.arrivals if start <= a.at <= end]
    return max((b - a for a, b in itertools.pairwise(ats)), default=0.0)


def log_events(workdir: Path, gateway_id: str, killed_wall: float) -> list[dict[str, Any]]:
    """The gateway's own connection warnings (its JSON log at level warning), seconds relative to the kill."""
    events: list[dict[str, Any]] = []
    path = workdir / f"{gateway_id}.log"
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if path.exists() else []:
        text = line[3:] if line.startswith("<") and line[2:3] == ">" else line  # the journald priority, `<4>`
        try:
            entry = json.loads(text)
        except ValueError:
            continue
        if not isinstance(entry, dict) or "broker" not in entry:
            continue
        stamp = entry.get("timestamp")
        at = parse_ts(stamp) - killed_wall if isinstance(stamp, str) else None
        events.append(
            {"t_s": None if at is None else round(at, 3)}
            | {key: entry.get(key) for key in ("event", "broker", "next_broker", "error", "retry_in")}
        )
    return events


def broker_path(record: GatewayRecord) -> list[str | None]:
    """The nodes a gateway's stats named, in order, repeats folded."""
    path: list[str | None] = []
    for _at, data in record.stats:
        broker = data.get("broker")
        if not path or path[-1] != broker:
            path.append(broker)
    return path


def losses(records: dict[str, GatewayRecord], killed_at: float, moved: set[str]) -> dict[str, Any]:
    """Missing seqs per gateway, split at the kill, with who lost them."""
    gaps: list[dict[str, Any]] = []
    by = {"gateway": 0, "broker": 0, "undetermined": 0}
    for gid, record in records.items():
        if not record.seqs:
            gaps.append({"gateway": gid, "missing": "everything", "count": 0, "by": "undetermined"})
            continue
        missing = sorted(set(range(1, max(record.seqs) + 1)) - record.seqs)
        if not missing:
            continue
        before_kill = max((a.seq for a in record.arrivals if a.at <= killed_at), default=0)
        final = record.last_stats or {}
        dropped = int(final.get("dropped", 0)) + int(final.get("quarantined", 0))
        buffered = final.get("buffered")
        if dropped:
            who = "gateway"
            why = f"its stats count {dropped} dropped or quarantined"
        elif buffered == 0:
            who = "broker"
            why = "its outbox was empty at its graceful stop: every reading was acknowledged by a broker node"
        else:
            who = "undetermined"
            why = f"{buffered} still buffered at its stop"
        by[who] += len(missing)
        gaps.append(
            {
                "gateway": gid,
                "on_killed_node": gid in moved,
                "missing": missing[:50],
                "count": len(missing),
                "before_kill": sum(1 for s in missing if s <= before_kill),
                "after_kill": sum(1 for s in missing if s > before_kill),
                "by": who,
                "why": why,
            }
        )
    return {"missing_total": sum(by.values()), "by": by, "gaps": gaps}


async def run_fleet(cluster: NatsCluster, fleet: Fleet, gateways: int, seconds: float) -> dict[str, Any]:
    ports = cluster.mqtt_ports
    width = max(2, len(str(gateways - 1)))
    ids = [f"gw{i:0{width}d}" for i in range(gateways)]
    records = {gid: GatewayRecord(gid) for gid in ids}
    subscriber = Subscriber(ports[SUBSCRIBER_NODE], records)
    listening = asyncio.create_task(subscriber.run())
    marks: dict[str, float] = {"began": time.monotonic()}
    try:
        await wait_until(subscriber.ready.is_set, 60, "subscriber connected")
        configs = [gateway_config(fleet.workdir, i, gid, ports) for i, gid in enumerate(ids)]
        for gid, path in zip(ids, configs, strict=True):
            fleet.start(gid, path)
            await asyncio.sleep(0.1)  # a small stagger: the imports of N processes share 2 cores anyway
        await wait_until(
            lambda: all(r.arrivals and r.stats for r in records.values()),
            READY_TIMEOUT,
            "every gateway connected and publishing",
            fleet,
        )
        marks["all_ready"] = time.monotonic()
        await asyncio.sleep(2 * STATS_INTERVAL)  # start-up CPU out of the window; fresh stats from everyone
        steady = await steady_window(cluster, fleet, subscriber, seconds, list(range(len(ports))))

        # --- failover -------------------------------------------------------------------------------
        placement = {gid: node_of((records[gid].last_stats or {}).get("broker"), ports) for gid in ids}
        per_node = {i: sum(1 for node in placement.values() if node == i) for i in range(len(ports))}
        target = max((i for i in per_node if i != SUBSCRIBER_NODE), key=lambda i: (per_node[i], -i))
        moved = sorted(gid for gid, node in placement.items() if node == target)
        killed = f"{HOST}:{ports[target]}"
        killed_wall, killed_at = time.time(), time.monotonic()
        await asyncio.to_thread(cluster.kill, target)
        await wait_until(
            lambda: all(
                t["failover_s"] is not None
                for t in failover_times(records, moved, killed_at, killed_wall, killed).values()
            ),
            FAILOVER_TIMEOUT,
            f"the {len(moved)} gateways of node n{target} on another node with readings flowing",
            fleet,
        )
        times = failover_times(records, moved, killed_at, killed_wall, killed)
        marks["failed_over"] = time.monotonic()
        survivors = [i for i in range(len(ports)) if i != target]
        post = await steady_window(cluster, fleet, subscriber, max(20.0, seconds / 2), survivors)
        after = {gid: node_of((records[gid].last_stats or {}).get("broker"), ports) for gid in ids}
        unaffected = [gid for gid in ids if gid not in moved]
        others_gap = [max_gap(records[gid], killed_at - 5, marks["failed_over"] + 10) for gid in unaffected]

        # --- graceful stop, settle, count ------------------------------------------------------------
        marks["stopping"] = time.monotonic()
        exit_codes = await asyncio.to_thread(fleet.stop)
        marks["stopped"] = time.monotonic()
        connection_log = {
            gid: events for gid in ids if (events := log_events(fleet.workdir, gid, killed_wall)) and gid in moved
        }
        others_log = {
            gid: events for gid in ids if gid not in moved and (events := log_events(fleet.workdir, gid, killed_wall))
        }
        await wait_until(
            lambda: time.monotonic() - subscriber.last_reading_at > SETTLE_QUIET, SETTLE_TIMEOUT, "subscriber settled"
        )
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)

    generated = sum(max(r.seqs, default=0) for r in records.values())
    delivered = sum(len(r.seqs) for r in records.values())
    finals = [r.last_stats or {} for r in records.values()]
    failover_s = [t["failover_s"] for t in times.values() if t["failover_s"] is not None]
    return {
        "gateways": gateways,
        "readings_per_gateway_per_s": len(SENSORS) / INTERVAL,
        "startup_s": marks["all_ready"] - marks["began"],
        "steady": steady,
        "delivery": {
            "generated": generated,
            "generated_is": "sum over gateways of the highest reading seq (fresh state dirs: seqs 1..max)",
            "delivered_unique": delivered,
            "received_total": sum(len(r.arrivals) for r in records.values()),
            "duplicates": sum(r.duplicates for r in records.values()),
            "ratio": delivered / generated if generated else None,
            "final_stats_buffered_sum": sum(int(f.get("buffered", -1)) for f in finals),
            "final_stats_dropped_sum": sum(int(f.get("dropped", 0)) for f in finals),
            "gateways_without_final_stats_buffered_0": [
                r.gateway_id for r in records.values() if (r.last_stats or {}).get("buffered") != 0
            ],
            "exit_codes_not_0": {gid: code for gid, code in exit_codes.items() if code != 0},
            "subscriber_reconnects": subscriber.reconnects,
            "unparsable": subscriber.unparsable,
        },
        "placement_before_kill": {f"n{i}": count for i, count in per_node.items()},
        "placement_after_failover": {
            f"n{i}": sum(1 for node in after.values() if node == i) for i in range(len(ports))
        },
        "failover": {
            "killed_node": f"n{target}",
            "subscriber_node": f"n{SUBSCRIBER_NODE}",
            "subscriber_node_had_most": per_node[SUBSCRIBER_NODE] > per_node[target],
            "gateways_moved": len(moved),
            "stats_s": spread([t["stats_s"] for t in times.values() if t["stats_s"] is not None]),
            "readings_s": spread([t["readings_s"] for t in times.values() if t["readings_s"] is not None]),
            "failover_s": spread(failover_s),
            "per_gateway": times,
            "other_gateways_longest_reading_gap_s": spread(others_gap),
            "moved_to": {f"n{i}": sum(1 for gid in moved if after[gid] == i) for i in range(len(ports)) if i != target},
            "brokers_named_by_stats": {gid: broker_path(records[gid]) for gid in ids},
            "reconnects_in_final_stats": {gid: (records[gid].last_stats or {}).get("reconnects") for gid in ids},
            "connection_warnings_moved_gateways": connection_log,
            "connection_warnings_other_gateways": others_log,
        },
        "post_failover": post,
        "losses": losses(records, killed_at, set(moved)),
    }


def extrapolate(result: dict[str, Any], target: int = FLEET_TARGET) -> dict[str, Any]:
    """Broker-side figures scaled linearly from N to `target` gateways (the assumption is in `assumption`)."""
    factor = target / result["gateways"]
    steady = result["steady"]
    return {
        "gateways": target,
        "factor": factor,
        "readings_per_s": steady["delivered_per_s"] * factor,
        "broker_cpu_percent_per_node": {n: cpu * factor for n, cpu in steady["broker_cpu_percent"].items()},
        "broker_cpu_percent_sum": steady["broker_cpu_percent_sum"] * factor,
        "assumption": (
            "linear: each node's CPU is proportional to the message rate and the number of connections (every "
            "Pi at the same 2 readings/s and stats every 5 s, R3 streams so every node stores every reading), "
            "with no contention, GC or JetStream batching effects that a linear scale cannot see; the gateways "
            "run on their own Pis, so their CPU does not add to the broker's; one node's failover then moves "
            "~1/3 of the fleet at once, which a linear scale says nothing about"
        ),
    }


def _pair(figures: dict[str, float], unit: str = "") -> str:
    """`median / max` of a spread, or n/a when it is empty."""
    return f"{figures['median']:.2f} / {figures['max']:.2f}{unit}" if figures else "n/a"


def markdown(result: dict[str, Any]) -> str:
    steady, delivery, fo = result["steady"], result["delivery"], result["failover"]
    loss, ext = result["losses"], result["extrapolation_500"]
    cpu, rss = steady["gateway_cpu_percent"], steady["gateway_rss_mib"]
    brokers = ", ".join(f"{n} {v:.1f} %" for n, v in steady["broker_cpu_percent"].items())
    post = ", ".join(f"{n} {v:.1f} %" for n, v in result["post_failover"]["broker_cpu_percent"].items())
    ext_nodes = ", ".join(f"{n} {v:.0f} %" for n, v in ext["broker_cpu_percent_per_node"].items())
    fo_s, st_s, rd_s = fo["failover_s"], fo["stats_s"], fo["readings_s"]
    gap = fo["other_gateways_longest_reading_gap_s"]
    rows = [
        ("gateways (processes on this machine)", f"{result['gateways']}"),
        ("start-up, all connected and publishing", f"{result['startup_s']:.0f} s"),
        (
            f"readings/s at the subscriber ({steady['seconds']:.0f} s window)",
            f"{steady['delivered_per_s']:.1f} (nominal {steady['generated_per_s_nominal']:.0f})",
        ),
        (
            "delivered / generated (whole run, unique seqs / sum of highest seqs)",
            f"{delivery['delivered_unique']} / {delivery['generated']} = {delivery['ratio'] or 0:.4f}",
        ),
        ("duplicates", f"{delivery['duplicates']}"),
        ("gateway CPU, % of one core (median / max)", _pair(cpu)),
        ("gateway RSS, MiB (median / max)", _pair(rss)),
        ("nats-server CPU per node, % of one core", brokers),
        ("bench subscriber process CPU", f"{steady['bench_process_cpu_percent']:.1f} %"),
        (
            "gateways per node before the kill",
            ", ".join(f"{n} {c}" for n, c in result["placement_before_kill"].items()),
        ),
        (f"failover after kill -9 of {fo['killed_node']} ({fo['gateways_moved']} gateways)", ""),
        ("  stats name another node (median / max)", _pair(st_s, " s")),
        ("  a reading sampled after the kill arrives (median / max)", _pair(rd_s, " s")),
        ("  both (median / max)", _pair(fo_s, " s")),
        ("  moved to", ", ".join(f"{n} {c}" for n, c in fo["moved_to"].items())),
        (
            "  other gateways that changed node too",
            f"{sum(1 for g, p in fo['brokers_named_by_stats'].items() if g not in fo['per_gateway'] and len(p) > 1)}",
        ),
        ("  longest reading gap of the other gateways (median / max)", _pair(gap, " s")),
        ("nats-server CPU after the failover (2 nodes)", post),
        (
            "missing seqs (by gateway / broker / undetermined)",
            f"{loss['missing_total']} ({loss['by']['gateway']} / {loss['by']['broker']} / "
            f"{loss['by']['undetermined']})",
        ),
    ]
    lines = ["| fleet_scale | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
    lines += [
        "",
        f"For {ext['gateways']} Pis (x{ext['factor']:.0f}, broker side scaled linearly): "
        f"{ext['readings_per_s']:.0f} readings/s into the cluster, nats-server CPU {ext_nodes} of one core "
        f"(sum {ext['broker_cpu_percent_sum']:.0f} %). Assumption: {ext['assumption']}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateways", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0, help="the steady measurement window")
    args = parser.parse_args()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pmg-fleet-scale-") as tmp:
        workdir = Path(tmp)
        cluster = NatsCluster(workdir / "nats")
        fleet = Fleet(workdir)
        try:
            cluster.start()
            result = asyncio.run(run_fleet(cluster, fleet, args.gateways, args.seconds))
        finally:
            fleet.stop()
            cluster.stop()
    result["extrapolation_500"] = extrapolate(result)
    result["duration_s"] = time.monotonic() - began
    result["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["machine"] = {"platform": platform.platform(), "python": platform.python_version(), **server_version()}
    result["setup"] = {
        "nodes": 3,
        "stream_replicas": 3,
        "sensors_per_gateway": [f"load_average ({m} min) every {INTERVAL} s, retain false" for _, m in SENSORS],
        "mqtt": "3.1.1, QoS 1, hosts rotated per gateway",
        "stats_interval_s": STATS_INTERVAL,
        "subscriber": f"aiomqtt QoS 1, persistent session, node n{SUBSCRIBER_NODE}",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fleet_scale.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "fleet_scale.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    print(f"run took {result['duration_s']:.0f} s")


if __name__ == "__main__":
    main()
