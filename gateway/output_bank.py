"""The gateway's outputs: every output opened at its initial state (all or none), under the command policy of
`gateway.output_policy`, swapped whole on a reload (the old ones back if the new ones cannot open), closed at
the end."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

import structlog

from gateway.config import GatewayConfig
from gateway.counter import Counter
from gateway.devices.hardware import Hardware
from gateway.devices.output_pins import OutputDriver, open_output
from gateway.errors import GatewayError
from gateway.output_policy import Outputs
from gateway.pipeline import Sink
from gateway.stats import Stats
from gateway.topics import Topics

log = structlog.get_logger(component="outputs")


class OutputBank:
    """The open outputs (`current`), opened on the inputs' hardware so expander pins share their chips."""

    def __init__(
        self,
        stats: Stats,
        pin_factory: Callable[[GatewayConfig], Any],
        hardware: Callable[[], Hardware | None],
        counters: Callable[[], dict[str, Counter]],
    ) -> None:
        self._stats = stats
        self._pin_factory = pin_factory
        self._hardware = hardware
        self._counters = counters
        self.current: Outputs | None = None

    def open(self, config: GatewayConfig, sink: Sink) -> Outputs:
        """Build every output of `config` at its initial state and report the states (all or none)."""
        factory = self._pin_factory(config)
        drivers: list[OutputDriver] = []
        try:
            for output in config.outputs:
                drivers.append(open_output(output, factory, self._hardware()))
        except GatewayError:
            for driver in drivers:
                with suppress(Exception):
                    driver.close()
            raise
        topics = Topics(config.gateway.topic_prefix, config.gateway.id)
        self.current = Outputs(
            drivers, sink, topics, self._stats, default_qos=config.mqtt.qos, counters=self._counters()
        )
        self.current.publish_states()
        return self.current

    def swap(self, new: GatewayConfig, old: GatewayConfig, sink: Sink) -> bool:
        """Put the outputs in their failsafe states and close them, then open `new`'s at their initial states; on
        failure reopen `old`'s. True on success. (An expander keeps its latch when closed: a relay removed while on
        would otherwise stay on, with no max_on timer left.)"""
        if self.current is not None:
            self.current.shut_down()
        self.close()
        try:
            self.open(new, sink)
        except GatewayError as exc:
            log.error("reload of the outputs refused, the running outputs are kept", error=str(exc))
            self.open(old, sink)
            return False
        return True

    def close(self) -> None:
        """Close every output (best effort)."""
        if self.current is not None:
            with suppress(Exception):
                self.current.close()
