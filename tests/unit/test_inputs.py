"""The gateway's inputs: opening, closing and reopening (a reload) the sensors on simulated hardware."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from gateway.config import GatewayConfig
from gateway.inputs import Inputs
from gateway.plugins import config_model
from gateway.stats import Stats


def simulated_uart_config(tmp_path: Path) -> GatewayConfig:
    """Two PMS5003 entries (one sensor) and an MH-Z19, simulated: each part runs a pseudo-terminal thread."""
    return config_model().model_validate(
        {
            "gateway": {"id": "inputs", "state_dir": str(tmp_path), "stats_interval": 3600.0},
            "gpio": {"pin_factory": "mock", "simulate": True},
            "sensors": [
                {"id": "pm25", "kind": "pms5003", "quantity": "pm25"},
                {"id": "pm10", "kind": "pms5003", "quantity": "pm10"},
                {"id": "co2", "kind": "mhz19", "device": "/dev/ttyUSB0"},
            ],
        }
    )


def pty_threads() -> list[str]:
    """The live threads of simulated UART parts (named after their pseudo-terminal)."""
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("simulated /dev/")]


def inputs_on(tmp_path: Path, factory: MockFactory) -> Inputs:
    def pin_factory(_config: Any) -> MockFactory:
        return factory

    return Inputs(tmp_path, Stats(), pin_factory)


class TestSimulatedParts:
    def test_closing_the_inputs_stops_the_simulated_uart_parts(self, tmp_path: Path, mock_factory: MockFactory) -> None:
        """One pty thread per simulated UART chip while open (two entries of a PMS5003 share one); none after close."""
        before = pty_threads()
        inputs = inputs_on(tmp_path, mock_factory)
        inputs.open(simulated_uart_config(tmp_path))
        assert len(pty_threads()) == len(before) + 2
        inputs.close()
        assert pty_threads() == before

    def test_reopening_like_a_reload_keeps_one_set_of_parts(self, tmp_path: Path, mock_factory: MockFactory) -> None:
        """Close then open, three times (what each reload of the sensors does): still one thread per chip."""
        before = pty_threads()
        inputs = inputs_on(tmp_path, mock_factory)
        config = simulated_uart_config(tmp_path)
        inputs.open(config)
        for _reload in range(3):
            inputs.close()
            inputs.open(config)
        assert len(pty_threads()) == len(before) + 2
        inputs.close()
        assert pty_threads() == before
