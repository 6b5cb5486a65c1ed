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

from gateway.config import Mcp3xxxConfig
from gateway.plugins import SensorPlugin, SupportedChip, lazily

MCP3XXX = SensorPlugin(
    kind="mcp3008",
    config_model=Mcp3xxxConfig,
    open=lazily("gateway.devices.sensors:open_mcp3xxx"),
    simulate=lazily("gateway.devices.simulation:simulate_mcp3xxx"),
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
