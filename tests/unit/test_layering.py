"""The import layers: only the device layer loads gpiozero, only gateway.mqtt loads aiomqtt/paho, even transitively."""

from __future__ import annotations

import ast
from pathlib import Path

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
HARDWARE = {"gpiozero", "smbus2", "serial"}  # gpiozero, our I2C drivers, pyserial
BROKER_CLIENT = {"aiomqtt", "paho"}
# The composition roots wire the layers together, so they may reach both; everything else must not.
ROOTS = {
    "gateway.server",
    "gateway.inputs",  # the server's two halves: they open the devices
    "gateway.output_bank",
    "gateway.cli.check",
    "gateway.cli.monitor",
    "gateway.broker_settings",
    "gateway.cli",
}


def module_name(path: Path) -> str:
    """`gateway/devices/sensors.py` -> `gateway.devices.sensors`."""
    parts = path.relative_to(GATEWAY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path) -> set[str]:
    """Modules imported when `path` is imported: module level only, not under `if TYPE_CHECKING:`."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def graph() -> dict[str, set[str]]:
    """Each gateway module and what it imports at run time."""
    return {module_name(path): runtime_imports(path) for path in GATEWAY.rglob("*.py")}


def reaches(start: str, edges: dict[str, set[str]]) -> set[str]:
    """Every top-level package `start` loads, following our own modules (and their parent packages)."""
    seen, todo, external = {start}, [start], set()
    while todo:
        for name in edges.get(todo.pop(), set()):
            parts = name.split(".")
            own = [".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in edges]
            if not own:
                external.add(parts[0])
            for module in own:
                if module not in seen:
                    seen.add(module)
                    todo.append(module)
    return external


class TestLayers:
    def test_nothing_above_the_device_layer_loads_gpiozero(self) -> None:
        """No module outside gateway.devices (and the composition roots) imports gpiozero, smbus2 or pyserial,
        even transitively (the kinds load their drivers inside their openers)."""
        edges = graph()
        offenders = {
            module: sorted(reaches(module, edges) & HARDWARE)
            for module in edges
            if not module.startswith("gateway.devices") and module not in ROOTS
        }
        assert {m: found for m, found in offenders.items() if found} == {}

    def test_only_the_transport_loads_the_mqtt_client(self) -> None:
        """aiomqtt and paho are reached only through gateway.mqtt (and the composition roots)."""
        edges = graph()
        offenders = {
            module: sorted(reaches(module, edges) & BROKER_CLIENT)
            for module in edges
            if module not in ROOTS | {"gateway.mqtt"}
        }
        assert {m: found for m, found in offenders.items() if found} == {}

    def test_the_walker_sees_a_real_import(self) -> None:
        """The check can fail: gateway.mqtt itself does reach aiomqtt, and the sensor drivers reach gpiozero."""
        edges = graph()
        assert "aiomqtt" in reaches("gateway.mqtt", edges)
        assert "gpiozero" in reaches("gateway.devices.sensors", edges)
        assert "gpiozero" in reaches("gateway.server", edges)
        assert "smbus2" in reaches("gateway.devices.i2c.bus", edges)
        assert "serial" in reaches("gateway.devices.uart.port", edges)
