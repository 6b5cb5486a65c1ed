"""Where the DS18B20 kind lived first; it is now `gateway.kinds.w1` (every w1_therm family). Kept importable."""

from __future__ import annotations

from gateway.kinds.w1 import DS18B20 as PLUGIN
from gateway.kinds.w1 import Ds18b20Config

__all__ = ["PLUGIN", "Ds18b20Config"]
