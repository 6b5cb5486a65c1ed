"""MQTT topic names (DESIGN.md: Topics), built once per gateway and sensor."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    """The topic tree `<prefix>/<gw>/...` of one gateway."""

    prefix: str
    gateway_id: str

    @property
    def base(self) -> str:
        """`<prefix>/<gw>`."""
        return f"{self.prefix}/{self.gateway_id}"

    @property
    def status(self) -> str:
        """Retained `online`/`offline`, also the Last Will."""
        return f"{self.base}/status"

    @property
    def stats(self) -> str:
        """Retained gateway health counters."""
        return f"{self.base}/stats"

    def sensor(self, sensor_id: str) -> str:
        """Where a sensor's readings go."""
        return f"{self.base}/sensor/{sensor_id}"

    def all(self) -> str:
        """A filter for everything this gateway publishes."""
        return f"{self.base}/#"
