"""Build each configured sensor once, read it once, release it: for `check` and `sensors read`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.config import GatewayConfig, SensorConfig
from gateway.devices.hardware import Hardware
from gateway.devices.pins import close_pin_factory, open_pin_factory
from gateway.devices.sensors import open_sensor
from gateway.devices.simulation import Simulator
from gateway.errors import GatewayError


@dataclass(frozen=True)
class Probe:
    """One sensor's single read: its value, or what went wrong."""

    sensor: SensorConfig
    value: object = None
    error: str | None = None


@contextmanager
def pin_factory_for(config: GatewayConfig) -> Iterator[Any]:
    """The configured pin factory (PinFactoryError if none works), closed afterwards."""
    factory = open_pin_factory(config.gpio.pin_factory)
    try:
        yield factory
    finally:
        close_pin_factory(factory)


def probe_sensors(factory: Any, config: GatewayConfig, sensors: Sequence[SensorConfig], state_dir: Path) -> list[Probe]:
    """Read each of `sensors` once on `factory` (simulated when the config says so)."""
    if not config.gpio.simulated:
        return _read_each(sensors, hardware_for(config, factory))
    simulator = Simulator(factory, state_dir)
    try:
        sensors = simulator.prepare(sensors)
        simulator.prepare_expanders(config.expanders, sensors)
        return _read_each(sensors, simulator.hardware(config.expanders))
    finally:
        simulator.close()


def _read_each(sensors: Sequence[SensorConfig], hardware: Hardware) -> list[Probe]:
    results = []
    for sensor in sensors:
        try:
            driver = open_sensor(sensor, hardware)
            try:
                results.append(Probe(sensor, value=driver.read()))
            finally:
                driver.close()
        except GatewayError as exc:
            results.append(Probe(sensor, error=str(exc)))
    return results


def hardware_for(config: GatewayConfig, factory: Any) -> Hardware:
    """The real machine's hardware as the config places it: the pin factory and the kernel's device trees."""
    devices = config.devices
    return Hardware(factory, sysfs_root=devices.sysfs_root, dev_root=devices.dev_root, expanders=config.expanders)
