"""What a reload rebuilds, and which settings wait for a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config import GatewayConfig
from gateway.reload import plan_reload
from tests.conftest import make_config

SENSOR = {"id": "door", "kind": "digital_input", "pin": 17}


def config(tmp_path: Path, sensors: list[dict[str, Any]] | None = None, **sections: Any) -> GatewayConfig:
    return make_config(tmp_path, [SENSOR] if sensors is None else sensors, **sections)


class TestPlanReload:
    def test_the_same_config_changes_nothing(self, tmp_path: Path) -> None:
        """Reloading an unchanged file rebuilds nothing and needs no restart."""
        plan = plan_reload(config(tmp_path), None, config(tmp_path), None)
        assert (plan.sensors_changed, plan.connection_changed, plan.needs_restart) == (False, False, ())

    @pytest.mark.parametrize(
        ("change", "sensors", "connection"),
        [
            ({"sensors": [SENSOR, {"id": "pir", "kind": "motion", "pin": 4}]}, True, False),
            ({"sensors": []}, True, False),
            ({"mqtt": {"qos": 0}}, True, True),
            ({"mqtt": {"host": "broker.lan"}}, False, True),
            ({"mqtt": {"keepalive": 10}}, False, True),
            ({"gateway": {"id": "shed"}}, True, True),
            ({"gateway": {"stats_interval": 5.0}}, False, True),
        ],
    )
    def test_what_each_change_rebuilds(
        self, tmp_path: Path, change: dict[str, Any], sensors: bool, connection: bool
    ) -> None:
        """Sensors are rebuilt when their channels change; the connection when broker or identity settings do."""
        new = config(tmp_path, change.pop("sensors", None), **change)
        plan = plan_reload(config(tmp_path), None, new, None)
        assert (plan.sensors_changed, plan.connection_changed) == (sensors, connection)

    def test_a_new_password_reconnects(self, tmp_path: Path) -> None:
        """Only the password changed (a new credentials file): the connection is rebuilt."""
        plan = plan_reload(config(tmp_path), "old", config(tmp_path), "new")
        assert plan.connection_changed
        assert not plan.sensors_changed

    def test_restart_only_settings_are_kept_and_named(self, tmp_path: Path) -> None:
        """Outbox, logging, state_dir and the payload limit keep their running values until a restart."""
        running = config(tmp_path)
        new = config(
            tmp_path / "elsewhere",
            outbox={"max_readings": 50},
            logging={"level": "debug"},
            mqtt={"max_payload_bytes": 1024},
        )
        plan = plan_reload(running, None, new, None)
        assert set(plan.needs_restart) == {"outbox", "logging", "gateway.state_dir", "mqtt.max_payload_bytes"}
        assert plan.config.outbox == running.outbox
        assert plan.config.logging == running.logging
        assert plan.config.gateway.state_dir == running.gateway.state_dir
        assert plan.config.mqtt.max_payload_bytes == running.mqtt.max_payload_bytes
        assert (plan.sensors_changed, plan.connection_changed) == (False, False)
