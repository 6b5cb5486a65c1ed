"""The `Reading` model and its wire payload (docs/mqtt-contract.md: Reading payload)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, ValidationError

from gateway.config import Identifier
from gateway.errors import InvalidReadingError

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Value = StrictBool | FiniteFloat


class Reading(BaseModel):
    """One validated sample of one sensor; `seq` is added when the outbox stores it."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    sensor: Identifier
    value: Value
    unit: str | None = None
    ts: AwareDatetime

    def payload(self, seq: int) -> bytes:
        """The JSON payload with `seq`, UTF-8: `{"sensor", "value", "unit", "ts", "seq"}`."""
        return json.dumps(
            {"sensor": self.sensor, "value": self.value, "unit": self.unit, "ts": format_ts(self.ts), "seq": seq},
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        ).encode()


def format_ts(ts: datetime) -> str:
    """UTC ISO 8601 with milliseconds and `Z`: `2026-11-24T12:00:00.123Z`."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


class ReadingFactory:
    """Builds validated readings for one sensor: type, finiteness and the configured min/max."""

    __slots__ = ("binary", "maximum", "minimum", "precision", "sensor", "unit")

    def __init__(
        self,
        sensor: str,
        unit: str | None,
        *,
        binary: bool,
        minimum: float | None = None,
        maximum: float | None = None,
        precision: int | None = None,
    ) -> None:
        self.sensor = sensor
        self.precision = precision  # decimals a number is published with (None: as read)
        self.unit = unit
        self.binary = binary
        self.minimum = minimum
        self.maximum = maximum

    def make(self, value: object, timestamp: float) -> Reading:
        """A Reading of `value` taken at `timestamp` (epoch seconds); InvalidReadingError if it is not valid."""
        if self.binary and not isinstance(value, bool):
            raise InvalidReadingError(self.sensor, f"expected a boolean, got {value!r}")
        if not self.binary and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidReadingError(self.sensor, f"expected a number, got {value!r}")
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, float):
            if self.precision is not None and math.isfinite(value):
                value = round(value, self.precision)  # the published value is the one checked against min/max
            self._check_range(value)
        try:
            return Reading(
                sensor=self.sensor,
                value=value,  # type: ignore[arg-type]  # pydantic checks the type, that is the point
                unit=self.unit,
                ts=datetime.fromtimestamp(timestamp, UTC),
            )
        except ValidationError as exc:
            reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise InvalidReadingError(self.sensor, reason) from None

    def _check_range(self, value: float) -> None:
        if not math.isfinite(value):
            raise InvalidReadingError(self.sensor, f"value {value} is not finite")
        if self.minimum is not None and value < self.minimum:
            raise InvalidReadingError(self.sensor, f"value {value} is below min {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise InvalidReadingError(self.sensor, f"value {value} is above max {self.maximum}")
