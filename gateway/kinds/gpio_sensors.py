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

from gateway.config import DistanceConfig, LightConfig
from gateway.plugins import SensorPlugin, SupportedChip, lazily

LIGHT = SensorPlugin(
    kind="light",
    config_model=LightConfig,
    open=lazily("gateway.devices.sensors:open_light"),
    simulate=lazily("gateway.devices.simulation:simulate_light"),
    chips=(SupportedChip("LDR + capacitor", "GPIO", "gpiozero", "light level 0..1", ""),),
)
DISTANCE = SensorPlugin(
    kind="distance",
    config_model=DistanceConfig,
    open=lazily("gateway.devices.sensors:open_distance"),
    simulate=lazily("gateway.devices.simulation:simulate_distance"),
    chips=(SupportedChip("HC-SR04", "GPIO (echo, trigger)", "gpiozero", "distance m", ""),),
)
