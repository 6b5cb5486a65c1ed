"""MCP3002/3004/3008/3202/3204/3208 ADCs on hardware SPI, one channel per entry (gpiozero's MCP3xxx classes).

    [[sensors]]
    id = "soil"
    kind = "mcp3008"
    chip = "mcp3008"              # mcp3002 | mcp3004 | mcp3008 | mcp3202 | mcp3204 | mcp3208
    channel = 0
    scale = 100.0                 # value = fraction of full scale * scale + offset
    unit = "%"

`dtparam=spi=on` enables SPI0. The config model stays in gateway.config (GatewayConfig's own union loads it
without an entry point scan); this module is the kind's component: opener, simulation, README row.
"""

from __future__ import annotations

from typing import Any

from gateway.config import Mcp3xxxConfig
from gateway.devices.simulated import SimulatedHardware
from gateway.plugins import PluginDevice, SensorPlugin, SupportedChip


def _open(config: Mcp3xxxConfig, factory: Any) -> PluginDevice:
    from gateway.devices.sensors import open_mcp3xxx  # noqa: PLC0415 - gpiozero only when opened

    return open_mcp3xxx(config, factory)


def _simulate(config: Mcp3xxxConfig, hardware: SimulatedHardware) -> None:
    from gateway.devices.simulation import simulate_mcp3xxx  # noqa: PLC0415 - simulation only

    simulate_mcp3xxx(config, hardware)


MCP3XXX = SensorPlugin(
    kind="mcp3008",
    config_model=Mcp3xxxConfig,
    open=_open,
    simulate=_simulate,
    chips=(
        SupportedChip(
            "MCP3002/3004/3008 (10-bit), MCP3202/3204/3208 (12-bit)",
            "SPI",
            "gpiozero",
            "fraction of full scale x scale + offset (per channel)",
            "dtparam=spi=on",
        ),
    ),
)
