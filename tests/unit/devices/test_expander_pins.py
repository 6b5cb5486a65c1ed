"""Expander pins as the gateway's inputs: a chip that fails at start leaves nothing held, and a reload that
changes the expander's settings is followed while another user holds the chip."""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from gateway.config import GatewayConfig
from gateway.devices.expander_pins import ExpanderInput
from gateway.devices.expanders.simulators import SimulatedMcp23x, wire_interrupt
from gateway.devices.hardware import Hardware
from gateway.devices.i2c.simulators import SimulatedI2c, attached
from gateway.errors import DeviceError


def config(interrupt_pin: int) -> GatewayConfig:
    return GatewayConfig.model_validate(
        {
            "expanders": [{"id": "x", "chip": "mcp23017", "address": 0x20, "interrupt_pin": interrupt_pin}],
            "sensors": [{"id": "gate", "kind": "button", "expander": "x", "pin": "A3"}],
        }
    )


@pytest.fixture
def chip(tmp_path: Path, mock_factory: MockFactory) -> Iterator[tuple[SimulatedI2c, SimulatedMcp23x]]:
    simulated = SimulatedMcp23x("mcp23017")
    adapter = SimulatedI2c({0x20: simulated})
    with attached(adapter, tmp_path, 1):
        yield adapter, simulated


def opened(cfg: GatewayConfig, factory: MockFactory, dev: Path) -> ExpanderInput:
    hardware = Hardware(factory, dev_root=dev, expanders=cfg.expanders)
    sensor: Any = cfg.sensors[0]
    return ExpanderInput(sensor, cfg.expanders[0], hardware)


class TestExpanderInput:
    def test_a_chip_that_fails_at_start_leaves_nothing_held(
        self, chip: tuple[SimulatedI2c, SimulatedMcp23x], mock_factory: MockFactory, tmp_path: Path
    ) -> None:
        """A NACK on the watcher's first read is a DeviceError, and the INT pin is free again: a retry works."""
        adapter, simulated = chip
        wire_interrupt(simulated, mock_factory, 17)
        entry = opened(config(17), mock_factory, tmp_path)
        adapter.fail(0x20, errno.EREMOTEIO)
        with pytest.raises(DeviceError):
            entry.start(lambda _active, _ts: None)
        assert entry.start(lambda _active, _ts: None) is False  # released: pulled up, high, not active
        entry.close()

    def test_a_reload_that_moves_the_int_pin_is_followed(
        self, chip: tuple[SimulatedI2c, SimulatedMcp23x], mock_factory: MockFactory, tmp_path: Path
    ) -> None:
        """Reopened with INT moved from GPIO17 to GPIO27 while another user holds the chip, the input waits on 27."""
        _adapter, simulated = chip
        holder = opened(config(17), mock_factory, tmp_path)  # stands for the outputs, which stay open
        moved = opened(config(27), mock_factory, tmp_path)
        wire_interrupt(simulated, mock_factory, 27)
        changes: list[bool] = []
        reported = threading.Event()

        def on_change(active: bool, _timestamp: float) -> None:
            changes.append(active)
            reported.set()

        moved.start(on_change)
        simulated.set_input("A3", False)  # pressed: INT falls on GPIO27 only
        assert reported.wait(timeout=20), "no report: the watcher still waits on GPIO17"
        assert changes == [True]
        moved.close()
        holder.close()
