"""The compiled modules the gateway relies on, and what to do when one cannot be imported.

On 64-bit Raspberry Pi OS and 32-bit ARMv7 PyPI has wheels for everything; on ARMv6 (Pi 1, Zero, Zero W)
pydantic-core comes from piwheels or not at all, and lgpio/spidev always come from the distribution.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from gateway.config import GatewayConfig, Mcp3xxxConfig

PIWHEELS = "pip install --extra-index-url https://www.piwheels.org/simple"


@dataclass(frozen=True)
class NativeModule:
    """One compiled module: when it is needed and how to get it."""

    module: str
    purpose: str
    remedy: str


SQLITE = NativeModule("_sqlite3", "the durable outbox", "use a Python built with SQLite (Debian's python3 is)")
SSL = NativeModule("_ssl", "TLS to the broker", "use a Python built with OpenSSL (Debian's python3 is)")
LGPIO = NativeModule(
    "lgpio", "GPIO through lgpio (Pi 5, bookworm)", "apt install python3-lgpio; venv with --system-site-packages"
)
SPIDEV = NativeModule(
    "spidev", "hardware SPI for MCP3xxx chips", "apt install python3-spidev (else software SPI, slower)"
)


@dataclass(frozen=True)
class NativeProblem:
    """A module that cannot be imported; `required` means the gateway cannot run this config without it."""

    module: NativeModule
    error: str
    required: bool

    def __str__(self) -> str:
        module = self.module
        return f"{module.module} cannot be imported ({self.error}); needed for {module.purpose}: {module.remedy}"


def needed_modules(config: GatewayConfig) -> list[tuple[NativeModule, bool]]:
    """Each compiled module this config uses, with whether it is required (else: a slower fallback exists)."""
    needed = [(SQLITE, True)]  # pydantic-core is imported before any config exists: see cli.main
    if config.mqtt.tls is not None:
        needed.append((SSL, True))
    if config.gpio.pin_factory in ("auto", "lgpio"):
        needed.append((LGPIO, config.gpio.pin_factory == "lgpio"))
    if config.gpio.pin_factory != "mock" and any(isinstance(s, Mcp3xxxConfig) for s in config.sensors):
        needed.append((SPIDEV, False))
    return needed


def native_problems(config: GatewayConfig) -> list[NativeProblem]:
    """Try to import every compiled module `config` needs; return the ones that fail."""
    problems = []
    for module, required in needed_modules(config):
        try:
            importlib.import_module(module.module)
        except ImportError as exc:
            problems.append(NativeProblem(module, str(exc) or type(exc).__name__, required))
    return problems
