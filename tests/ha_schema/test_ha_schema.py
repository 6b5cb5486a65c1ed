"""Every discovery payload against Home Assistant's own MQTT discovery schemas (marker `ha_schema`).

Not in the default run: it needs `scripts/ha-schema`, which makes `.venv-ha-<release>` with Python 3.13 and
each tested `homeassistant` release (about 600 MB each), then runs `pytest -m ha_schema`.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from gateway.homeassistant.discovery import config_topic, device_payload, device_topic, entities, entity_payload
from gateway.homeassistant.units import AMBIGUOUS_UNITS, DEVICE_CLASS_UNITS, HA_UNITS_RELEASE
from tests.unit.test_discovery import every_kind

ROOT = Path(__file__).resolve().parents[2]
RELEASES = os.environ.get("HA_RELEASES", "2025.4.4 2026.2.3").split()
VALIDATOR = Path(__file__).with_name("validate.py")
UNITS = Path(__file__).with_name("units.py")


def ha_python(release: str) -> Path:
    """The interpreter of the virtualenv that holds this Home Assistant release (made by scripts/ha-schema)."""
    python = ROOT / f".venv-ha-{release}" / "bin" / "python"
    assert python.exists(), f"run scripts/ha-schema (it makes .venv-ha-{release} with Home Assistant {release})"
    return python


@pytest.mark.ha_schema
class TestHomeAssistantSchemas:
    @pytest.mark.parametrize("release", RELEASES)
    @pytest.mark.parametrize("device_discovery", [False, True])
    def test_every_payload_is_valid_for_home_assistant(self, device_discovery: bool, release: str) -> None:
        """HA's DISCOVERY_SCHEMA of each platform accepts every entity's config, with no error at all."""
        python = ha_python(release)
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
            [str(python), str(VALIDATOR)],
            input=json.dumps(entries),
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        report = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"\n[ha_schema {release}] {report['checked']} payloads checked, {len(report['errors'])} errors")  # noqa: T201
        assert report["checked"] == len(entries)
        assert report["errors"] == []

    def test_our_unit_table_is_home_assistants(self) -> None:
        """DEVICE_CLASS_UNITS and AMBIGUOUS_UNITS equal those of the release they were taken from."""
        result = subprocess.run(
            [str(ha_python(HA_UNITS_RELEASE)), str(UNITS)], capture_output=True, text=True, check=False, timeout=300
        )
        assert result.returncode == 0, result.stderr[-2000:]
        theirs = json.loads(result.stdout.strip().splitlines()[-1])
        ours = {device_class: sorted(units, key=str) for device_class, units in DEVICE_CLASS_UNITS.items()}
        assert ours == {device_class: sorted(units, key=str) for device_class, units in theirs["units"].items()}
        assert theirs["ambiguous"] == AMBIGUOUS_UNITS
