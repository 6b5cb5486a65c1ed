"""Fixtures shared by unit and integration tests: a fresh MockFactory and config builders."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory
from hypothesis import settings

from gateway.config import GatewayConfig
from gateway.errors import InvalidReadingError
from gateway.reading import Reading

# No per-example deadline (a shared 2-core CI machine is slow at times); CI replays the same examples each run.
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

MEASURED = "[measured] "


def report_measurement(text: str) -> None:
    """Print what a test measured; the run's summary repeats it (a passing test's output is otherwise hidden, and
    pytest-xdist workers' output always is)."""
    print(f"\n{MEASURED}{text}")  # noqa: T201 - captured, then shown by pytest_terminal_summary


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `slow` tests first, the order otherwise kept: scripts/test hands tests to its workers one at a time, so
    each worker starts on a long one and the short ones fill in after; none of the long ones starts last."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """A section with every measurement the passing tests reported through `report_measurement`."""
    lines = [
        f"{report.nodeid.split('::')[-1]}: {line.removeprefix(MEASURED)}"
        for report in terminalreporter.stats.get("passed", [])
        if report.when == "call"
        for line in report.capstdout.splitlines()
        if line.startswith(MEASURED)
    ]
    if lines:
        terminalreporter.write_sep("=", "measured by the tests")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def mock_factory() -> Iterator[MockFactory]:
    """gpiozero's MockFactory, installed as the default (software SPI needs that) and closed after."""
    factory = MockFactory()
    Device.pin_factory = factory
    yield factory
    factory.close()
    Device.pin_factory = None


def toggle(factory: MockFactory, pin: int, times: int = 1, rate_hz: float | None = None) -> None:
    """Toggle a mock pin `times` times: at once, or about `rate_hz` paced by sleeping (the GIL stays free)."""
    mock_pin = factory.pin(pin)
    next_at = time.monotonic()
    for _ in range(times):
        if mock_pin.state:
            mock_pin.drive_low()
        else:
            mock_pin.drive_high()
        if rate_hz:
            next_at += 1.0 / rate_hz
            time.sleep(max(0.0, next_at - time.monotonic()))


def make_config(state_dir: Path, sensors: list[dict[str, Any]] | None = None, **sections: Any) -> GatewayConfig:
    """A valid config on mock pins with no simulation, overridable section by section."""
    data: dict[str, Any] = {
        "gateway": {"id": "test", "state_dir": str(state_dir), "stats_interval": 3600.0},
        "gpio": {"pin_factory": "mock", "simulate": False},
        "sensors": sensors or [],
    }
    for name, values in sections.items():
        data[name] = values if isinstance(values, list) else {**data.get(name, {}), **values}
    return GatewayConfig.model_validate(data)


@dataclass
class RecordingSink:
    """Keeps what the pipeline stores; refuses payload values over `refuse_above` as the outbox would."""

    stored: list[tuple[str, Reading, int, bool]] = field(default_factory=list)
    refuse_above: float = float("inf")
    raw: list[tuple[str, bytes, int, bool]] = field(default_factory=list)

    def put(self, topic: str, reading: Reading, qos: int, retain: bool) -> None:
        if isinstance(reading.value, float) and reading.value > self.refuse_above:
            raise InvalidReadingError(reading.sensor, "payload too large")
        self.stored.append((topic, reading, qos, retain))

    def put_raw(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self.raw.append((topic, payload, qos, retain))

    def __len__(self) -> int:
        return len(self.stored)
