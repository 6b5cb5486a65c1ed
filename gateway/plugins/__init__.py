"""The sensor kind seam: every kind beyond the gpiozero ones is a `SensorPlugin` found through the
`pi_mqtt_gateway.sensors` entry point group, ours (gateway/kinds/, pyproject.toml) exactly as a third party's.

A plugin names its `kind`, a config model (a subclass of `PluginSensorBase` with `kind: Literal["<kind>"]`,
validated like the built-in kinds, errors and all; its `measures()` gives the quantity with unit, Home Assistant
classes and precision) and how to open it: `open(config, pin_factory)` returning an object with `read()` (called
on the sensor's own thread) and `close()`, or `open_chip(config, hardware)` returning a chip whose `sample()`
measures every quantity at once, shared by every entry with the same `chip_key()`. `simulate` prepares simulated
hardware for `pin_factory = "mock"`; `chips` are its rows of the README's "Supported sensors" table.
The core is not touched: `config_model()` builds the config schema with every installed kind. See `ds18b20.py`.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Annotated, Any, Protocol, Union

from pydantic import Field, create_model

from gateway.config import BUILTIN_SENSORS, GatewayConfig, PolledSensor

if TYPE_CHECKING:  # types only: the seam itself loads no device code
    from gateway.devices.chip import Chip
    from gateway.devices.hardware import Hardware
    from gateway.devices.simulated import SimulatedHardware

GROUP = "pi_mqtt_gateway.sensors"
# The kinds whose models are in GatewayConfig's own union (no entry point scan needed to load a config).
BUILTIN_MODELS = {model.model_fields["kind"].annotation.__args__[0]: model for model in BUILTIN_SENSORS}  # type: ignore[union-attr]
BUILTIN_KINDS = set(BUILTIN_MODELS)


class PluginDevice(Protocol):
    """What a plugin's `open` returns."""

    def read(self) -> object:
        """One sample (a number or a boolean); raise to report a failed read."""

    def close(self) -> None:
        """Release what the device holds."""


def lazily(target: str) -> Callable[..., Any]:
    """`"package.module:function"`, imported at its first call: a kind's opener or simulation names its driver this
    way, so loading the kind (to validate a config) never loads a hardware library."""
    module_name, _, name = target.partition(":")

    def call(*args: Any) -> Any:
        return getattr(importlib.import_module(module_name), name)(*args)

    call.__name__ = name
    return call


@dataclass(frozen=True)
class SupportedChip:
    """One row of the README's "Supported sensors" table."""

    chip: str
    bus: str
    backends: str
    quantities: str
    config_txt: str = ""  # the line that binds the kernel's driver (`dtoverlay=...`), or how else it is bound


@dataclass(frozen=True)
class SensorPlugin:
    """One sensor kind: its config model, how it is opened, read, simulated and documented."""

    kind: str
    config_model: type[PolledSensor]  # a PluginSensorBase for a third party's kind
    open: Callable[[Any, Any], PluginDevice] | None = None  # (its config, the pin factory) -> device
    open_chip: Callable[[Any, Hardware], Chip] | None = None  # (its config, the hardware) -> a shared chip
    blocking: bool = True  # False only for reads that never wait (a /proc file): they run on the loop
    # Set up its simulated hardware; may return the config to open instead (pointing at a fake file).
    simulate: Callable[[Any, SimulatedHardware], Any] | None = None
    chips: tuple[SupportedChip, ...] = ()

    def __post_init__(self) -> None:
        if (self.open is None) == (self.open_chip is None):
            raise TypeError(f"sensor kind {self.kind!r}: give exactly one of open and open_chip")


@dataclass(frozen=True)
class Plugins:
    """The installed plugins, and the entry points that could not be loaded (with why)."""

    by_kind: dict[str, SensorPlugin]
    broken: tuple[str, ...]


def supported_sensors_table(plugins: Plugins) -> str:
    """The README's "Supported sensors" table, one row per chip of every installed kind (sorted by kind)."""
    header = "| chip | bus | kind | backends | quantities | `config.txt` |\n|---|---|---|---|---|---|\n"
    rows = [
        f"| {chip.chip} | {chip.bus} | `{kind}` | {chip.backends} | {chip.quantities} | "
        + (
            f"`{chip.config_txt}` |"
            if chip.config_txt.startswith(("dtoverlay", "dtparam", "enable_uart", "echo"))
            else f"{chip.config_txt} |"
        )
        for kind, plugin in sorted(plugins.by_kind.items())
        for chip in plugin.chips
    ]
    return header + "\n".join(rows) + "\n"


@functools.cache
def installed() -> Plugins:
    """Load every entry point of the group once; a broken one is reported, not fatal."""
    by_kind: dict[str, SensorPlugin] = {}
    broken: list[str] = []
    for entry in entry_points(group=GROUP):
        try:
            plugin = entry.load()
        except Exception as exc:  # noqa: BLE001 - any import error of third-party code is reported, not raised
            broken.append(f"{entry.name} ({entry.value}): {type(exc).__name__}: {exc}")
            continue
        if not isinstance(plugin, SensorPlugin) or not _new_or_builtin(plugin) or plugin.kind in by_kind:
            broken.append(f"{entry.name} ({entry.value}): not a SensorPlugin with a new kind")
            continue
        by_kind[plugin.kind] = plugin
    return Plugins(by_kind, tuple(broken))


def _new_or_builtin(plugin: SensorPlugin) -> bool:
    """A new kind, or the component of a kind GatewayConfig has (with that very model): none is replaced."""
    return BUILTIN_MODELS.get(plugin.kind, plugin.config_model) is plugin.config_model


def config_model_for(raw: object) -> type[GatewayConfig]:
    """The model for a raw config: plain GatewayConfig when every sensor kind is built in (no entry point
    scan, no second schema: a few MB less on a Pi Zero), else the one with the plugin kinds."""
    sensors = raw.get("sensors") if isinstance(raw, dict) else None
    entries = sensors if isinstance(sensors, list) else []
    kinds = {kind for s in entries if isinstance(s, dict) and isinstance(kind := s.get("kind"), str)}
    return GatewayConfig if kinds <= BUILTIN_KINDS else config_model()


@functools.cache
def config_model() -> type[GatewayConfig]:
    """GatewayConfig whose `sensors` also accept every installed plugin kind."""
    plugins = {kind: plugin for kind, plugin in installed().by_kind.items() if kind not in BUILTIN_KINDS}
    if not plugins:
        return GatewayConfig
    members = (*BUILTIN_SENSORS, *(plugin.config_model for plugin in plugins.values()))
    sensor = Annotated[Union[members], Field(discriminator="kind")]  # type: ignore[valid-type]  # noqa: UP007
    sensors: Any = (Annotated[tuple[sensor, ...], Field(strict=False)], ())
    return create_model("GatewayConfig", __base__=GatewayConfig, sensors=sensors)


def plugin_for(config: PolledSensor) -> SensorPlugin:
    """The component of a polled sensor's kind (DeviceError-free: the config was validated against it)."""
    return installed().by_kind[str(getattr(config, "kind", ""))]
