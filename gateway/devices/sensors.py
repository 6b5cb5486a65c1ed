"""Sensor drivers over gpiozero: edge-driven binary inputs and polled analog/internal devices.

Every gpiozero error is translated once into DeviceError; nothing above sees gpiozero's types.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import gpiozero

from gateway.config import (
    BinaryInput,
    ButtonConfig,
    CounterConfig,
    CpuTemperatureConfig,
    DiskUsageConfig,
    DistanceConfig,
    LightConfig,
    LoadAverageConfig,
    Mcp3xxxConfig,
    PluginSensorBase,
    PolledSensor,
    SensorConfig,
)
from gateway.devices.chip import ChipQuantity
from gateway.devices.expander_pins import ExpanderInput, expander_of
from gateway.devices.hardware import Hardware
from gateway.errors import DeviceError
from gateway.plugins import SensorPlugin, plugin_for

EdgeCallback = Callable[[bool, float], None]
_PULL = {"up": True, "down": False, "none": None}
_ACTIVE = {"high": True, "low": False, None: None}


class EdgeInput:
    """A binary input that reports changes from gpiozero's thread; it never polls."""

    def __init__(self, config: BinaryInput, factory: Any) -> None:
        self.config = config
        device_class = gpiozero.Button if isinstance(config, ButtonConfig) else gpiozero.DigitalInputDevice
        self._device = _input_device(config, device_class, factory)

    def start(self, on_change: EdgeCallback) -> bool:
        """Call `on_change(active, epoch_seconds)` on every change (on gpiozero's thread); return the state now.

        The callbacks are attached before the state is read, so no edge falls between the two.
        """
        self._device.when_activated = lambda: on_change(True, time.time())
        self._device.when_deactivated = lambda: on_change(False, time.time())
        return bool(self._device.is_active)

    def read(self) -> bool:
        """The input's state now."""
        return bool(self._device.is_active)

    def close(self) -> None:
        """Release the pin (closing also detaches the callbacks)."""
        self._device.close()


class PulseInput:
    """Counts activations of an input pin on gpiozero's thread; `read()` is the count since it was opened."""

    def __init__(self, config: CounterConfig, factory: Any) -> None:
        self.config = config
        self._count = 0
        self._lock = threading.Lock()
        self._device = _input_device(config, gpiozero.DigitalInputDevice, factory)
        self._device.when_activated = self._pulse

    def _pulse(self) -> None:
        with self._lock:
            self._count += 1

    def read(self) -> int:
        """Pulses counted since the device was opened."""
        with self._lock:
            return self._count

    def close(self) -> None:
        """Release the pin."""
        self._device.close()


class PolledInput:
    """A device read on demand: on a worker thread when `blocking` (bit-banged SPI, an echo, a 1-Wire
    conversion, a file system that may hang), else inline on the loop (a /proc or sysfs file: microseconds)."""

    def __init__(
        self,
        config: SensorConfig | PluginSensorBase,
        device: Any,
        read: Callable[[Any], object],
        *,
        blocking: bool = True,
    ) -> None:
        self.config = config
        self._device = device
        self._read = read
        self.blocking = blocking

    def read(self) -> object:
        """One sample; DeviceError if the device fails."""
        try:
            value = self._read(self._device)
        except Exception as exc:
            raise DeviceError(f"sensor {self.config.id!r}: read failed: {exc}") from exc
        if value is None:
            raise DeviceError(f"sensor {self.config.id!r}: no sample available yet")
        return value

    def close(self) -> None:
        """Release the device's pins and threads."""
        self._device.close()


Driver = EdgeInput | ExpanderInput | PolledInput | PulseInput


def open_sensor(config: SensorConfig | PluginSensorBase, hardware: Hardware | Any) -> Driver:
    """The driver for one configured sensor, built on `hardware` (or a bare pin factory)."""
    if not isinstance(hardware, Hardware):
        hardware = Hardware(hardware)
    factory = hardware.pin_factory
    if isinstance(config, BinaryInput):
        if config.expander is not None:
            return ExpanderInput(config, expander_of(config, hardware.expanders), hardware)
        return EdgeInput(config, factory)
    if isinstance(config, CounterConfig):
        return PulseInput(config, factory)
    return _open_polled(config, plugin_for(config), hardware)


def _open_polled(config: SensorConfig | PluginSensorBase, plugin: SensorPlugin, hardware: Hardware) -> PolledInput:
    """Every polled kind, ours and a third party's, through its SensorPlugin."""
    if plugin.open is not None:
        try:
            device = plugin.open(config, hardware.pin_factory)
        except DeviceError:
            raise
        except Exception as exc:  # a third party's open may raise anything
            raise DeviceError(f"sensor {config.id!r}: cannot set up the {config.kind}: {exc}") from exc
        return PolledInput(config, device, lambda d: d.read(), blocking=plugin.blocking)
    assert plugin.open_chip is not None  # noqa: S101 - SensorPlugin refuses a kind with neither
    open_chip = plugin.open_chip
    measures = config.measures() if isinstance(config, PolledSensor) else None
    if measures is None:
        raise DeviceError(f"sensor {config.id!r}: kind {config.kind!r} reads a chip but names no quantity")
    chip_key = config.chip_key() if isinstance(config, PluginSensorBase) else None
    key = chip_key or (config.kind, config.id)
    try:
        shared = hardware.chips.acquire(key, lambda: open_chip(config, hardware))
    except Exception as exc:  # a third party's chip may raise anything; ours raise DeviceError
        raise DeviceError(f"sensor {config.id!r}: cannot open the {config.kind}: {exc}") from exc
    device = ChipQuantity(hardware.chips, key, shared, measures.name, getattr(config, "interval", 10.0))
    return PolledInput(config, device, lambda d: d.read(), blocking=plugin.blocking)


class GpiozeroDevice:
    """A gpiozero device and how one sample is read from it: what a gpiozero kind's `open` returns."""

    def __init__(self, device: Any, read: Callable[[Any], object]) -> None:
        self._device, self._read = device, read

    def read(self) -> object:
        """One sample."""
        return self._read(self._device)

    def close(self) -> None:
        """Release the device's pins and threads."""
        self._device.close()


def open_mcp3xxx(config: Mcp3xxxConfig, factory: Any) -> GpiozeroDevice:
    """One MCP3xxx channel: fraction of full scale * scale + offset."""
    adc = _build(
        config.id,
        getattr(gpiozero, config.chip.upper()),
        channel=config.channel,
        differential=config.differential,
        port=config.port,
        device=config.device,
        pin_factory=factory,
    )
    scale, offset = config.scale, config.offset
    return GpiozeroDevice(adc, lambda d: float(d.value) * scale + offset)


def open_light(config: LightConfig, factory: Any) -> GpiozeroDevice:
    """An LDR and capacitor: 0 (dark) .. 1 (bright)."""
    light = _build(
        config.id, gpiozero.LightSensor, config.pin, charge_time_limit=config.charge_time_limit, pin_factory=factory
    )
    return GpiozeroDevice(light, lambda d: _optional_float(d.value))


def open_distance(config: DistanceConfig, factory: Any) -> GpiozeroDevice:
    """An HC-SR04: metres."""
    sonar = _build(
        config.id,
        gpiozero.DistanceSensor,
        echo=config.echo,
        trigger=config.trigger,
        max_distance=config.max_distance,
        pin_factory=factory,
    )
    return GpiozeroDevice(sonar, lambda d: _optional_float(d.distance))


def open_cpu_temperature(config: CpuTemperatureConfig, factory: Any) -> GpiozeroDevice:
    """The SoC's temperature from sysfs, °C."""
    cpu = _build(config.id, gpiozero.CPUTemperature, sensor_file=str(config.sensor_file), pin_factory=factory)
    return GpiozeroDevice(cpu, lambda d: float(d.temperature))


def open_load_average(config: LoadAverageConfig, factory: Any) -> GpiozeroDevice:
    """The load average from /proc/loadavg."""
    load = _build(config.id, gpiozero.LoadAverage, minutes=config.minutes, pin_factory=factory)
    return GpiozeroDevice(load, lambda d: float(d.load_average))


def open_disk_usage(config: DiskUsageConfig, factory: Any) -> GpiozeroDevice:
    """How full a file system is, %."""
    disk = _build(config.id, gpiozero.DiskUsage, filesystem=str(config.filesystem), pin_factory=factory)
    return GpiozeroDevice(disk, lambda d: float(d.usage))


def _optional_float(value: Any) -> float | None:
    # gpiozero's smoothed devices answer None when they have no sample yet.
    return None if value is None else float(value)


def _input_device(config: BinaryInput | CounterConfig, device_class: Any, factory: Any) -> Any:
    return _build(
        config.id,
        device_class,
        config.gpio(),
        pull_up=_PULL[config.pull],
        active_state=_ACTIVE[config.active_state],
        bounce_time=config.bounce_time,
        pin_factory=factory,
    )


def _build(sensor_id: str, device_class: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return device_class(*args, **kwargs)
    except Exception as exc:
        raise DeviceError(f"sensor {sensor_id!r}: cannot set up {device_class.__name__}: {exc}") from exc
