"""Chip kinds: CPU per reading of a three-quantity chip through each backend, and whether reads stay off the loop.

    python -m bench.chips [--rounds N] [--seconds S]      (also part of scripts/bench)

1. CPU per reading: a real `pi-mqtt-gateway run` with a BME280 (temperature, humidity, pressure: three entries,
   one chip) at 60 readings/s, simulated at its lowest seam: the kernel route reads a fake sysfs tree laid out
   like bmp280.c's, the user-space route runs our driver over the real smbus2 whose ioctls reach a register-map
   simulator. Baselines in the same run: the gateway polling `load_average` at the same rate (an inline /proc
   read), and a raw aiomqtt QoS 1 publisher at the same rate. Medians of rounds; ratios per round.
2. Loop stalls: in-process, the sampler reads a BH1750 (a 180 ms measurement) and a BME280 through our drivers
   while a 5 ms ticker measures how late the loop wakes it. As configured (reads on the sensor's thread) and,
   for contrast, with the same reads forced onto the loop.
3. Expander inputs (in-process, simulated chip behind the real smbus2, gpiozero's MockFactory): the CPU per edge
   of a button on an MCP23017 with INT wired against a button on a Pi pin, both at 100 edges/s, and an idle
   expander's I2C transactions and CPU (target: no polling at all).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from bench.process import Counter, measured, raw_rate, start, stop, write_config
from gateway.config import GatewayConfig
from gateway.devices.chip import ChipPool
from gateway.devices.hardware import Hardware
from gateway.devices.i2c.simulators import SimulatedBh1750, SimulatedBme280, SimulatedI2c, attached
from gateway.devices.sensors import PolledInput, open_sensor
from gateway.pipeline import Pipeline, build_channel
from gateway.plugins import config_model
from gateway.sampler import Sampler, Sensor
from gateway.stats import Stats
from tests.integration.broker import Broker

RESULTS = Path(__file__).resolve().parent / "results"
RATE = 60  # readings/s: three entries at the shortest interval, 50 ms


def bme280_entries(backend: str) -> list[dict[str, Any]]:
    interval = 3 / RATE
    return [
        {"id": q, "kind": "bme280", "quantity": q, "backend": backend, "interval": interval, "retain": False}
        for q in ("temperature", "humidity", "pressure")
    ]


async def gateway_cpu(broker: Broker, workdir: Path, name: str, sensors: list[dict[str, Any]], seconds: float) -> float:
    """CPU microseconds per reading of a gateway process running `sensors` in simulation."""
    path = write_config(workdir, broker, name, sensors)
    path.write_text(path.read_text(encoding="utf-8").replace("simulate = false", "simulate = true"), encoding="utf-8")
    counter = Counter(broker, f"bench/{name}/sensor/+")
    task = asyncio.create_task(counter.run())
    await counter.ready.wait()
    process = start(path)
    try:
        window = await measured(process, counter, 3.0, seconds)
    finally:
        stop(process)
        task.cancel()
    return 1e6 * window["cpu_s"] / max(1, window["messages"])


async def cpu_round(broker: Broker, workdir: Path, round_: int, seconds: float) -> dict[str, float]:
    """One round of every variant, back to back (so their ratios share the machine's state)."""
    load = [{"id": f"s{n}", "kind": "load_average", "interval": 3 / RATE, "retain": False} for n in range(3)]
    return {
        "kernel": await gateway_cpu(broker, workdir, f"kernel{round_}", bme280_entries("auto"), seconds),
        "i2c": await gateway_cpu(broker, workdir, f"i2c{round_}", bme280_entries("i2c"), seconds),
        "load_average": await gateway_cpu(broker, workdir, f"load{round_}", load, seconds),
        "raw_aiomqtt": (await raw_rate(broker, RATE, seconds, warmup=2.0))["us_per_message"],
    }


async def loop_stalls(seconds: float, *, on_loop: bool) -> dict[str, float]:
    """Max and p99 lateness of a 5 ms ticker while the sampler reads a BH1750 and a BME280 every 0.2 s."""
    config = config_model().model_validate(
        {
            "gpio": {"pin_factory": "mock"},
            "sensors": [
                {"id": "lux", "kind": "bh1750", "backend": "i2c", "interval": 0.2},
                {"id": "air", "kind": "bme280", "quantity": "temperature", "backend": "i2c", "interval": 0.2},
            ],
        }
    )
    with tempfile.TemporaryDirectory(prefix="pmg-chips-") as tmp:
        dev = Path(tmp)
        sim = SimulatedI2c({0x23: SimulatedBh1750(), 0x76: SimulatedBme280()})
        with attached(sim, dev, 1):
            return await _sample_while_ticking(
                config, Hardware(MockFactory(), dev_root=dev, chips=ChipPool()), seconds, on_loop
            )


async def _sample_while_ticking(
    config: GatewayConfig, hardware: Hardware, seconds: float, on_loop: bool
) -> dict[str, float]:
    drivers = [open_sensor(sensor, hardware) for sensor in config.sensors]
    sensors = []
    for sensor, driver in zip(config.sensors, drivers, strict=True):
        assert isinstance(driver, PolledInput)
        driver.blocking = not on_loop
        sensors.append(Sensor(driver, build_channel(sensor, f"bench/{sensor.id}", 0), 0.2))
    pipeline = Pipeline(_Discard(), Stats())
    sampling = asyncio.create_task(Sampler(sensors, pipeline, Stats()).run())
    late = []
    deadline = time.monotonic() + seconds
    while (now := time.monotonic()) < deadline:
        await asyncio.sleep(0.005)
        late.append(time.monotonic() - now - 0.005)
    sampling.cancel()
    await asyncio.gather(sampling, return_exceptions=True)
    for driver in drivers:
        driver.close()
    late.sort()
    return {"max_ms": 1000 * late[-1], "p99_ms": 1000 * late[int(0.99 * (len(late) - 1))]}


class _Discard:
    """An outbox that keeps nothing (the loop-stall bench measures reads, not storage)."""

    def put(self, topic: str, reading: object, qos: int, retain: bool) -> None:
        """Drop it."""

    def put_raw(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        """Drop it."""


async def chip_suite(broker: Broker, workdir: Path, rounds: int, seconds: float) -> dict[str, Any]:
    """Both parts: CPU per reading by backend (medians, ratios to raw aiomqtt) and the loop's stalls."""
    per_round = [await cpu_round(broker, workdir, n, seconds) for n in range(rounds)]
    medians = {key: statistics.median(r[key] for r in per_round) for key in per_round[0]}
    ratios = {
        key: statistics.median(r[key] / r["raw_aiomqtt"] for r in per_round)
        for key in ("kernel", "i2c", "load_average")
    }
    return {
        "rate_per_s": RATE,
        "rounds": rounds,
        "cpu_us_per_reading": medians,
        "ratio_to_raw_aiomqtt": ratios,
        "loop_stalls_reads_on_their_thread": await loop_stalls(seconds, on_loop=False),
        "loop_stalls_reads_forced_on_loop": await loop_stalls(seconds, on_loop=True),
        "expander": await asyncio.to_thread(expander_suite, seconds),
    }


def markdown(result: dict[str, Any]) -> str:
    """The chip table quoted in the README."""
    cpu, ratio = result["cpu_us_per_reading"], result["ratio_to_raw_aiomqtt"]
    off, on = result["loop_stalls_reads_on_their_thread"], result["loop_stalls_reads_forced_on_loop"]
    return (
        "\n".join(
            [
                f"| BME280, 3 quantities, {result['rate_per_s']} readings/s ({result['rounds']} rounds, medians) "
                "| CPU per reading | / raw aiomqtt |",
                "|---|---|---|",
                f"| kernel route (bmp280.c's sysfs files) | {cpu['kernel']:.0f} us | {ratio['kernel']:.2f} |",
                f"| user space (our driver, real smbus2) | {cpu['i2c']:.0f} us | {ratio['i2c']:.2f} |",
                f"| `load_average` at the same rate | {cpu['load_average']:.0f} us | {ratio['load_average']:.2f} |",
                f"| raw aiomqtt QoS 1 publisher | {cpu['raw_aiomqtt']:.0f} us | 1.00 |",
                "",
                "| 5 ms ticker lateness, BH1750 (180 ms reads) + BME280 | max | p99 |",
                "|---|---|---|",
                f"| reads on their own thread (as shipped) | {off['max_ms']:.1f} ms | {off['p99_ms']:.1f} ms |",
                f"| same reads forced onto the loop | {on['max_ms']:.1f} ms | {on['p99_ms']:.1f} ms |",
                *_expander_lines(result.get("expander")),
            ]
        )
        + "\n"
    )


def _expander_lines(expander: dict[str, float] | None) -> list[str]:
    if expander is None:
        return []
    return [
        "",
        "| button at 100 edges/s (the process's CPU per edge reported) | CPU per edge | / Pi pin |",
        "|---|---|---|",
        f"| on a Pi pin (gpiozero) | {expander['pi_pin_us_per_edge']:.0f} us | 1.00 |",
        f"| on an MCP23017, INT on a Pi pin (one port read per edge, the chip simulated in Python) | "
        f"{expander['expander_us_per_edge']:.0f} us | {expander['ratio']:.2f} |",
        f"| idle expander with INT wired, over the window | {expander['idle_transactions']:.0f} I2C transactions, "
        f"{expander['idle_cpu_percent']:.3f} % CPU | |",
    ]


async def main_async(rounds: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pmg-bench-chips-") as tmp:
        broker = Broker(Path(tmp))
        broker.start()
        try:
            return await chip_suite(broker, Path(tmp), rounds, seconds)
        finally:
            broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    result = asyncio.run(main_async(args.rounds, args.seconds))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "chips.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "chips.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


# ---------------------------------------------------------------------------------------------------------------
# Expander inputs: CPU per edge against a Pi pin, and an idle expander with INT wired


def _edges_cpu(open_input: Any, drive: Any, rate: float, seconds: float) -> float:
    """Process CPU microseconds per edge while `drive(n)` makes `rate` edges/s and the input reports them."""
    reported = 0

    def on_change(_active: bool, _timestamp: float) -> None:
        nonlocal reported
        reported += 1

    driver = open_input()
    driver.start(on_change)
    count = int(rate * seconds)
    cpu0, started = time.process_time(), time.monotonic()
    for n in range(count):
        drive(n)
        time.sleep(max(0.0, started + (n + 1) / rate - time.monotonic()))
    deadline = time.monotonic() + 10
    while reported < count and time.monotonic() < deadline:
        time.sleep(0.01)
    cpu = time.process_time() - cpu0
    driver.close()
    return 1e6 * cpu / max(1, reported)


def expander_suite(seconds: float) -> dict[str, float]:
    """A button on an MCP23017 (INT on a Pi pin) vs one on a Pi pin at 100 edges/s; the idle expander's cost."""
    from gateway.config import GatewayConfig  # noqa: PLC0415
    from gateway.devices.expanders.simulators import SimulatedMcp23x, wire_interrupt  # noqa: PLC0415

    config = GatewayConfig.model_validate(
        {
            "expanders": [{"id": "x", "chip": "mcp23017", "address": 0x20, "interrupt_pin": 25}],
            "sensors": [
                {"id": "pi", "kind": "button", "pin": 17},
                {"id": "ex", "kind": "button", "expander": "x", "pin": "A0"},
            ],
        }
    )
    with tempfile.TemporaryDirectory(prefix="pmg-expander-") as tmp:
        factory, chip = MockFactory(), SimulatedMcp23x("mcp23017")
        sim = SimulatedI2c({0x20: chip})
        with attached(sim, Path(tmp), 1):
            wire_interrupt(chip, factory, 25)
            hardware = Hardware(factory, dev_root=Path(tmp), expanders=config.expanders)
            pi_pin = factory.pin(17)
            pi = _edges_cpu(
                lambda: open_sensor(config.sensors[0], hardware),
                lambda n: pi_pin.drive_low() if n % 2 == 0 else pi_pin.drive_high(),
                100,
                seconds,
            )
            expander = _edges_cpu(
                lambda: open_sensor(config.sensors[1], hardware),
                lambda n: chip.set_input("A0", n % 2 == 1),
                100,
                seconds,
            )
            idle = open_sensor(config.sensors[1], hardware)
            idle.start(lambda _active, _ts: None)  # type: ignore[union-attr]
            before, cpu0 = sim.transactions[0x20], time.process_time()
            time.sleep(seconds)
            idle_cpu, idle_reads = time.process_time() - cpu0, sim.transactions[0x20] - before
            idle.close()
    return {
        "pi_pin_us_per_edge": pi,
        "expander_us_per_edge": expander,
        "ratio": expander / pi,
        "idle_transactions": idle_reads,
        "idle_cpu_percent": 100 * idle_cpu / seconds,
    }


if __name__ == "__main__":
    main()
