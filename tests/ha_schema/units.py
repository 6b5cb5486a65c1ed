"""Run by a Home Assistant virtualenv: print its sensor unit tables as JSON (compared with our
gateway.homeassistant.units)."""

import json

from homeassistant.components.sensor.const import AMBIGUOUS_UNITS, DEVICE_CLASS_UNITS

units = {
    str(getattr(device_class, "value", device_class)): [getattr(u, "value", u) for u in allowed]
    for device_class, allowed in DEVICE_CLASS_UNITS.items()
}
ambiguous = {str(k): str(getattr(v, "value", v)) for k, v in AMBIGUOUS_UNITS.items()}
print(json.dumps({"units": units, "ambiguous": ambiguous}))  # noqa: T201 - the report, read by the test
