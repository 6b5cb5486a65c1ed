"""Every discovery payload against Home Assistant's own MQTT discovery schemas (marker `ha_schema`).

Not in the default run: it needs `scripts/ha-schema`, which makes `.venv-ha` with Python 3.13 and the
pinned `homeassistant` package (about 600 MB), then runs `pytest -m ha_schema`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gateway.discovery import config_topic, device_payload, device_topic, entities, entity_payload
from tests.unit.test_discovery import every_kind

HA_PYTHON = Path(__file__).resolve().parents[2] / ".venv-ha" / "bin" / "python"
VALIDATOR = Path(__file__).with_name("validate.py")


@pytest.mark.ha_schema
class TestHomeAssistantSchemas:
    @pytest.mark.parametrize("device_discovery", [False, True])
    def test_every_payload_is_valid_for_home_assistant(self, device_discovery: bool) -> None:
        """HA's DISCOVERY_SCHEMA of each platform accepts every entity's config, with no error at all."""
        assert HA_PYTHON.exists(), "run scripts/ha-schema (it makes .venv-ha with Home Assistant)"
        config = every_kind(device_discovery=device_discovery)
        if device_discovery:  # each component of the one device config, with the device and origin it shares
            shared = device_payload(config, {})
            entries = [
                {
                    "component": component.pop("platform"),
                    "topic": f"{device_topic(config)}#{object_id}",
                    "payload": component | {"device": shared["device"], "origin": shared["origin"]},
                }
                for object_id, component in shared["components"].items()
            ]
        else:
            entries = [
                {"component": e.component, "topic": config_topic(config, e), "payload": entity_payload(config, e)}
                for e in entities(config)
            ]
        result = subprocess.run(
            [str(HA_PYTHON), str(VALIDATOR)],
            input=json.dumps(entries),
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        report = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"\n[ha_schema] {report['checked']} payloads checked, {len(report['errors'])} errors")  # noqa: T201
        assert report["checked"] == len(entries)
        assert report["errors"] == []
