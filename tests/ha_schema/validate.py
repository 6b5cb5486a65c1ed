"""Run by the Home Assistant virtualenv (Python 3.13): validate discovery payloads with HA's own schemas.

Reads [{"component": ..., "topic": ..., "payload": {...}}, ...] as JSON on stdin and prints one JSON
object {"checked": N, "errors": [...]}; HA's discovery code expands abbreviations first, so we do too.
"""

import asyncio
import importlib
import json
import sys
import tempfile

from homeassistant.components.mqtt import discovery
from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame


async def main() -> None:
    # Templates in the schemas report their use through the frame helper, which needs a core instance.
    hass = HomeAssistant(tempfile.mkdtemp(prefix="ha-schema-"))
    frame.async_setup(hass)
    entries = json.load(sys.stdin)
    errors = []
    for entry in entries:
        payload = dict(entry["payload"])
        discovery._replace_all_abbreviations(payload)  # private in HA: the version is pinned
        platform = importlib.import_module(f"homeassistant.components.mqtt.{entry['component']}")
        try:
            platform.DISCOVERY_SCHEMA(payload)
        except Exception as exc:  # noqa: BLE001 - voluptuous.Invalid and whatever else a schema raises
            errors.append({"topic": entry["topic"], "error": str(exc)})
    print(json.dumps({"checked": len(entries), "errors": errors}))  # noqa: T201 - the report, read by the test


if __name__ == "__main__":
    asyncio.run(main())
