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

from typing import Any

from gateway.config import CpuTemperatureConfig, DiskUsageConfig, LoadAverageConfig
from gateway.devices.simulated import SimulatedHardware
from gateway.plugins import PluginDevice, SensorPlugin, SupportedChip


def _open_cpu(config: CpuTemperatureConfig, factory: Any) -> PluginDevice:
    from gateway.devices.sensors import open_cpu_temperature  # noqa: PLC0415 - gpiozero only when opened

    return open_cpu_temperature(config, factory)


def _simulate_cpu(config: CpuTemperatureConfig, hardware: SimulatedHardware) -> CpuTemperatureConfig | None:
    from gateway.devices.simulation import simulate_cpu_temperature  # noqa: PLC0415 - simulation only

    return simulate_cpu_temperature(config, hardware)


def _open_load(config: LoadAverageConfig, factory: Any) -> PluginDevice:
    from gateway.devices.sensors import open_load_average  # noqa: PLC0415 - gpiozero only when opened

    return open_load_average(config, factory)


def _open_disk(config: DiskUsageConfig, factory: Any) -> PluginDevice:
    from gateway.devices.sensors import open_disk_usage  # noqa: PLC0415 - gpiozero only when opened

    return open_disk_usage(config, factory)


CPU_TEMPERATURE = SensorPlugin(
    kind="cpu_temperature",
    config_model=CpuTemperatureConfig,
    open=_open_cpu,
    blocking=False,
    simulate=_simulate_cpu,
    chips=(SupportedChip("the Pi's SoC", "sysfs (thermal zone)", "kernel", "temperature °C", ""),),
)
LOAD_AVERAGE = SensorPlugin(
    kind="load_average",
    config_model=LoadAverageConfig,
    open=_open_load,
    blocking=False,
    chips=(SupportedChip("the Pi's load", "/proc/loadavg", "kernel", "load average", ""),),
)
DISK_USAGE = SensorPlugin(
    kind="disk_usage",
    config_model=DiskUsageConfig,
    open=_open_disk,
    chips=(SupportedChip("a file system", "statvfs", "kernel", "used %", ""),),
)
