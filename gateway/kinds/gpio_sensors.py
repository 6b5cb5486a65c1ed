"""The two sensors gpiozero reads by timing a pin: an LDR and capacitor (`light`) and an HC-SR04 (`distance`).

    [[sensors]]
    id = "daylight"
    kind = "light"                # 0 (dark) .. 1 (bright)
    pin = 18

    [[sensors]]
    id = "water-level"
    kind = "distance"             # metres
    echo = 24
    trigger = 23

The config models stay in gateway.config (GatewayConfig's own union); this module is their component.
"""

from __future__ import annotations

from typing import Any

from gateway.config import DistanceConfig, LightConfig
from gateway.devices.simulated import SimulatedHardware
from gateway.plugins import PluginDevice, SensorPlugin, SupportedChip


def _open_light(config: LightConfig, factory: Any) -> PluginDevice:
    from gateway.devices.sensors import open_light  # noqa: PLC0415 - gpiozero only when opened

    return open_light(config, factory)


def _simulate_light(config: LightConfig, hardware: SimulatedHardware) -> None:
    from gateway.devices.simulation import simulate_light  # noqa: PLC0415 - simulation only

    simulate_light(config, hardware)


def _open_distance(config: DistanceConfig, factory: Any) -> PluginDevice:
    from gateway.devices.sensors import open_distance  # noqa: PLC0415 - gpiozero only when opened

    return open_distance(config, factory)


def _simulate_distance(config: DistanceConfig, hardware: SimulatedHardware) -> None:
    from gateway.devices.simulation import simulate_distance  # noqa: PLC0415 - simulation only

    simulate_distance(config, hardware)


LIGHT = SensorPlugin(
    kind="light",
    config_model=LightConfig,
    open=_open_light,
    simulate=_simulate_light,
    chips=(SupportedChip("LDR + capacitor", "GPIO", "gpiozero", "light level 0..1", ""),),
)
DISTANCE = SensorPlugin(
    kind="distance",
    config_model=DistanceConfig,
    open=_open_distance,
    simulate=_simulate_distance,
    chips=(SupportedChip("HC-SR04", "GPIO (echo, trigger)", "gpiozero", "distance m", ""),),
)
