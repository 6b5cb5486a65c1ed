"""Simulated signals on gpiozero's MockFactory, so the whole pipeline runs on any Linux machine.

Binary inputs get edges at random intervals, ADC channels a slow sine wave (through a small MCP3xxx
slave built on gpiozero's `MockSPIDevice`), the light and distance sensors changing charge and echo
times, and the CPU temperature a fake sysfs file where the real one is missing.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockChargingPin, MockFactory, MockPin, MockSPIDevice, MockTriggerPin

from gateway.config import (
    ADC_CHANNELS,
    BinaryInput,
    ButtonConfig,
    CounterConfig,
    CpuTemperatureConfig,
    DistanceConfig,
    ExpanderConfig,
    LightConfig,
    Mcp3xxxConfig,
    PolledSensor,
    SensorConfig,
    spi_bus_pins,
)
from gateway.devices.hardware import Hardware
from gateway.devices.simulated import SimulatedHardware
from gateway.plugins import plugin_for

SPEED_OF_SOUND = 343.26  # m/s, as gpiozero's DistanceSensor assumes
VREF = 3.3
Waveform = Callable[[float], float]


class MockMcp3xxx(MockSPIDevice):  # type: ignore[misc]
    """The slave side of an MCP3002/3004/3008/3202/3204/3208 on mock SPI pins.

    The master clocks in a start bit, a single/differential bit and the channel bits; the slave answers
    with a null bit and the sample, MSB first. `voltages[ch]` is read at the moment of each conversion.
    """

    rx_buf: list[int]
    tx_buf: list[int]

    def __init__(self, factory: MockFactory, port: int, device: int, chip: str) -> None:
        pins = spi_bus_pins(port, device)
        super().__init__(pins["clock"], pins["mosi"], pins["miso"], pins["select"], pin_factory=factory)
        channels = ADC_CHANNELS[chip]
        self.bits = 12 if chip.startswith("mcp32") else 10
        # MCP3xx2 sends one channel bit (and an MSBF bit gpiozero folds into it); others send three.
        self.channel_bits = 1 if channels == 2 else 3
        self.voltages: list[Waveform] = [lambda _t: 0.0] * 8
        self._phase = "idle"

    def on_start(self) -> None:
        """A new conversion starts when chip select goes active."""
        super().on_start()
        self._phase = "idle"

    def on_bit(self) -> None:
        """Follow the command bits; once the channel is known, queue the sample for the master."""
        if self._phase == "idle":
            if self.rx_buf[-1]:
                self._phase, self.rx_buf = "mode", []
        elif self._phase == "mode":
            self._phase, self.rx_buf = ("single" if self.rx_buf[-1] else "diff"), []
        elif self._phase in ("single", "diff") and len(self.rx_buf) == self.channel_bits:
            self._answer(self._phase == "diff", self.rx_word())
            self._phase = "result"
        elif self._phase == "result" and not self.tx_buf:
            self._phase, self.rx_buf = "idle", []

    def _answer(self, differential: bool, channel: int) -> None:
        now = time.monotonic()
        volts = self.voltages[channel](now)
        if differential:
            volts -= self.voltages[channel ^ 1](now)
        volts = min(max(volts, 0.0), VREF)
        full_scale = 2**self.bits - 1
        self.tx_word(round(volts / VREF * full_scale), self.bits + 2)


def sine(period: float, low: float, high: float, phase: float = 0.0) -> Waveform:
    """A waveform swinging between `low` and `high` every `period` seconds."""
    middle, amplitude = (high + low) / 2, (high - low) / 2
    return lambda t: middle + amplitude * math.sin(2 * math.pi * t / period + phase)


SimulatedAdcs = dict[tuple[int, int], MockMcp3xxx]  # (SPI port, device) -> the mock chip


class Simulator:
    """Prepares mock pins before the devices are built, then drives them while the gateway runs."""

    def __init__(
        self, factory: MockFactory, state_dir: Path, seed: int | None = None, adcs: SimulatedAdcs | None = None
    ) -> None:
        self._factory = factory
        self._state_dir = state_dir
        self._rng = random.Random(seed)  # noqa: S311 - simulation, not cryptography
        # Shared with a later Simulator on the same factory (a reload): a mock SPI slave stays attached.
        self._adcs: SimulatedAdcs = {} if adcs is None else adcs
        self._binary: list[tuple[MockPin, float]] = []
        self._gestures: list[tuple[MockPin, bool, float]] = []  # button pin, pressed is high, long press seconds
        self._pulsed: list[tuple[MockPin, bool]] = []  # counter pins, and whether a pulse drives them low
        self._expander_inputs: list[tuple[Any, str, float]] = []  # simulated expander, pin, mean seconds between
        # The polled kinds' simulated hardware (each kind's `simulate`). Absolute: the fake tree's symlinks
        # point at absolute targets, as the kernel's resolve.
        self.chips = SimulatedHardware(fake_sysfs_root(state_dir), self._rng, pin_factory=factory, adcs=self._adcs)

    def close(self) -> None:
        """Stop the simulated parts that run on their own (a UART sensor's pseudo-terminal and thread)."""
        self.chips.close()

    def hardware(self, expanders: tuple[ExpanderConfig, ...] = ()) -> Hardware:
        """What the sensors open on: the mock pins, the fake sysfs tree and the simulated I2C chips."""
        i2c = self.chips.i2c if self.chips.uses_i2c else None
        dev_root = self._state_dir / "simulation" / "dev"  # where the simulated /dev/i2c-N nodes go
        root = self.chips.sysfs_root
        return Hardware(self._factory, sysfs_root=root, dev_root=dev_root, simulated_i2c=i2c, expanders=expanders)

    def prepare_expanders(self, expanders: tuple[ExpanderConfig, ...], sensors: Sequence[SensorConfig]) -> None:
        """Register-level expanders on the simulated bus, INT wired to its mock Pi pin, and their inputs
        pressed now and then (a button to ground: low while pressed)."""
        from gateway.devices.expander_pins import chip_pin  # noqa: PLC0415 - simulation of expanders only
        from gateway.devices.expanders.simulators import (  # noqa: PLC0415
            SimulatedMcp23x,
            SimulatedPcf857x,
            wire_interrupt,
        )

        for expander in expanders:
            chip = (SimulatedMcp23x if expander.chip.startswith("mcp") else SimulatedPcf857x)(expander.chip)
            self.chips.i2c.chips[expander.address] = chip
            if expander.interrupt_pin is not None:
                wire_interrupt(chip, self._factory, expander.interrupt_pin)
            inputs = [
                chip_pin(expander.chip, str(s.pin))
                for s in sensors
                if isinstance(s, BinaryInput) and s.expander == expander.id
            ]
            for pin in inputs:
                self._expander_inputs.append((chip, pin, self._rng.uniform(3.0, 9.0)))

    def prepare(self, sensors: Sequence[SensorConfig]) -> list[SensorConfig]:
        """Set up the mock pins each sensor needs; return the configs to build (fake sysfs paths)."""
        return [self._prepare_one(sensor) for sensor in sensors]

    def _prepare_one(self, sensor: SensorConfig) -> SensorConfig:
        if isinstance(sensor, BinaryInput) and sensor.expander is not None:
            return sensor  # prepare_expanders drives it
        if isinstance(sensor, PolledSensor) and not isinstance(sensor, CounterConfig):
            simulate = plugin_for(sensor).simulate  # the kind's own simulation
            replaced = simulate(sensor, self.chips) if simulate is not None else None
            return sensor if replaced is None else replaced
        self._prepare_edges(sensor)
        return sensor

    def _prepare_edges(self, sensor: SensorConfig) -> None:
        if isinstance(sensor, ButtonConfig) and sensor.gestures is not None:
            pressed_high = sensor.pull == "down" or (sensor.pull == "none" and sensor.active_state == "high")
            self._gestures.append((self._factory.pin(sensor.pin), pressed_high, sensor.gestures.long_ms / 1000))
        elif isinstance(sensor, BinaryInput):
            self._binary.append((self._factory.pin(sensor.pin), self._rng.uniform(2.0, 8.0)))
        elif isinstance(sensor, CounterConfig):
            self._pulsed.append((self._factory.pin(sensor.pin), sensor.pull != "down"))

    async def run(self) -> None:
        """Drive the pins until cancelled."""
        async with asyncio.TaskGroup() as group:
            for pin, pressed_high, long_press in self._gestures:
                group.create_task(_press_gestures(pin, pressed_high, long_press))
            await self._drive()

    async def _drive(self) -> None:
        next_edge = [time.monotonic() + period for _pin, period in self._binary]
        next_press = [time.monotonic() + period for _chip, _pin, period in self._expander_inputs]
        released = [True] * len(self._expander_inputs)  # pulled up: high until pressed
        while True:
            now = time.monotonic()
            for index, (pin, period) in enumerate(self._binary):
                if now >= next_edge[index]:
                    _toggle(pin)
                    next_edge[index] = now + self._rng.uniform(0.5, 1.5) * period
            for index, (chip, name, period) in enumerate(self._expander_inputs):
                if now >= next_press[index]:
                    released[index] = not released[index]
                    chip.set_input(name, released[index])
                    next_press[index] = now + self._rng.uniform(0.5, 1.5) * period
            self.chips.tick(now)
            self._pulse_counters()
            await asyncio.sleep(0.25)

    def _pulse_counters(self) -> None:
        # 0 to 3 pulses per tick: a meter turning at a few pulses per second.
        for pin, active_low in self._pulsed:
            for _ in range(self._rng.randint(0, 3)):
                if active_low:
                    pin.drive_low()
                    pin.drive_high()
                else:
                    pin.drive_high()
                    pin.drive_low()


async def _press_gestures(pin: MockPin, pressed_high: bool, long_press: float) -> None:
    """A button with gestures is pressed in turn as a single, a double and a long press, a few seconds apart."""
    presses = (
        (0.1,),  # single
        (0.1, 0.1),  # double: two short presses 0.1 s apart
        (long_press + 0.3,),  # long: held past long_ms
    )
    release = pin.drive_low if pressed_high else pin.drive_high
    press = pin.drive_high if pressed_high else pin.drive_low
    release()
    while True:
        for gesture in presses:
            await asyncio.sleep(3.0)
            for held in gesture:
                press()
                await asyncio.sleep(held)
                release()
                await asyncio.sleep(0.1)


def fake_sysfs_root(state_dir: Path) -> Path:
    """A fresh fake sysfs tree for this process (`check` beside a running demo must not touch the demo's);
    trees of processes that are gone are removed."""
    base = state_dir.absolute() / "simulation"
    for old in base.glob("sys-*"):
        pid = old.name.removeprefix("sys-")
        if pid.isdigit() and (int(pid) == os.getpid() or not Path(f"/proc/{pid}").exists()):
            shutil.rmtree(old, ignore_errors=True)
    return base / f"sys-{os.getpid()}"


def simulate_mcp3xxx(config: Mcp3xxxConfig, hardware: SimulatedHardware) -> None:
    """A slow sine on the channel of a mock MCP3xxx slave (one per SPI select, kept across reloads)."""
    adc = hardware.adcs.get((config.port, config.device))
    if adc is None:
        adc = MockMcp3xxx(hardware.pin_factory, config.port, config.device, config.chip)
        hardware.adcs[(config.port, config.device)] = adc
    rng = hardware.rng
    adc.voltages[config.channel] = sine(rng.uniform(30, 120), 0.3, 3.0, rng.uniform(0, 6))


def simulate_light(config: LightConfig, hardware: SimulatedHardware) -> None:
    """A charging pin whose charge time sweeps between 20 % and 80 % of the limit (brighter: faster)."""
    pin = hardware.pin_factory.pin(config.pin, pin_class=MockChargingPin, charge_time=config.charge_time_limit / 2)

    def update(now: float) -> None:
        pin.charge_time = config.charge_time_limit * (0.5 + 0.3 * math.sin(now / 40))

    hardware.every_tick(update)


def simulate_distance(config: DistanceConfig, hardware: SimulatedHardware) -> None:
    """A trigger pin that answers with an echo from a distance swinging around half the range."""
    echo = hardware.pin_factory.pin(config.echo)
    trigger = hardware.pin_factory.pin(
        config.trigger, pin_class=MockTriggerPin, echo_pin=echo, echo_time=config.max_distance / SPEED_OF_SOUND
    )

    def update(now: float) -> None:
        metres = config.max_distance * (0.5 + 0.35 * math.sin(now / 25))
        trigger.echo_time = 2 * metres / SPEED_OF_SOUND

    hardware.every_tick(update)


def simulate_cpu_temperature(config: CpuTemperatureConfig, hardware: SimulatedHardware) -> CpuTemperatureConfig | None:
    """A fake thermal zone file (where the real one is missing) around 48 °C; the config to open on it."""
    if config.sensor_file.exists():
        return None
    fake = hardware.sysfs_root.parent / f"{config.id}-temp"
    fake.parent.mkdir(parents=True, exist_ok=True)

    def update(now: float) -> None:
        fake.write_text(f"{round(48000 + 6000 * math.sin(now / 90))}\n", encoding="ascii")

    hardware.every_tick(update)
    return config.model_copy(update={"sensor_file": fake})


def _toggle(pin: MockPin) -> None:
    if pin.state:
        pin.drive_low()
    else:
        pin.drive_high()
