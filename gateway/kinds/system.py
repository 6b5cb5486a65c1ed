"""The Pi's own health: the SoC's temperature, the load average and how full a file system is.

    [[sensors]]
    id = "cpu"
    kind = "cpu_temperature"      # °C, /sys/class/thermal/thermal_zone0/temp
    [[sensors]]
    id = "load"
    kind = "load_average"         # minutes = 1 | 5 | 15
    [[sensors]]
    id = "disk"
    kind = "disk_usage"           # % used of `filesystem`

The temperature and load are file reads that never wait: they run on the loop (`blocking = False`), which
halves their CPU per reading. The config models stay in gateway.config (GatewayConfig's own union).
"""

from __future__ import annotations

from gateway.config import CpuTemperatureConfig, DiskUsageConfig, LoadAverageConfig
from gateway.plugins import SensorPlugin, SupportedChip, lazily

CPU_TEMPERATURE = SensorPlugin(
    kind="cpu_temperature",
    config_model=CpuTemperatureConfig,
    open=lazily("gateway.devices.sensors:open_cpu_temperature"),
    blocking=False,
    simulate=lazily("gateway.devices.simulation:simulate_cpu_temperature"),
    chips=(SupportedChip("the Pi's SoC", "sysfs (thermal zone)", "kernel", "temperature °C", ""),),
)
LOAD_AVERAGE = SensorPlugin(
    kind="load_average",
    config_model=LoadAverageConfig,
    open=lazily("gateway.devices.sensors:open_load_average"),
    blocking=False,
    chips=(SupportedChip("the Pi's load", "/proc/loadavg", "kernel", "load average", ""),),
)
DISK_USAGE = SensorPlugin(
    kind="disk_usage",
    config_model=DiskUsageConfig,
    open=lazily("gateway.devices.sensors:open_disk_usage"),
    chips=(SupportedChip("a file system", "statvfs", "kernel", "used %", ""),),
)
