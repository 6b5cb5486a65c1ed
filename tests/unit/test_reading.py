"""Tests of Reading validation and its JSON payload."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest

from gateway.errors import InvalidReadingError
from gateway.reading import ReadingFactory, format_ts

TS = datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=UTC).timestamp()


class TestReadingFactory:
    def test_payload_has_the_documented_shape(self) -> None:
        """The payload is {"sensor","value","unit","ts","seq"} with millisecond UTC time."""
        reading = ReadingFactory("soil", "%", binary=False).make(0.42, TS)
        assert json.loads(reading.payload(1042)) == {
            "sensor": "soil",
            "value": 0.42,
            "unit": "%",
            "ts": "2026-11-24T12:00:00.123Z",
            "seq": 1042,
        }

    def test_binary_value_is_a_json_boolean(self) -> None:
        """A binary input publishes true/false."""
        reading = ReadingFactory("door", None, binary=True).make(True, TS)
        assert json.loads(reading.payload(1))["value"] is True

    @pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
    def test_non_finite_values_are_rejected(self, value: float) -> None:
        """NaN and infinities never become readings."""
        with pytest.raises(InvalidReadingError, match="not finite"):
            ReadingFactory("x", None, binary=False).make(value, TS)

    @pytest.mark.parametrize(("value", "word"), [(-0.1, "below min"), (100.5, "above max")])
    def test_values_outside_min_max_are_rejected(self, value: float, word: str) -> None:
        """The configured bounds are enforced, inclusive at the edges."""
        factory = ReadingFactory("x", None, binary=False, minimum=0.0, maximum=100.0)
        with pytest.raises(InvalidReadingError, match=word):
            factory.make(value, TS)
        assert factory.make(100.0, TS).value == 100.0

    @pytest.mark.parametrize("value", [None, "12", [1], 1.0])
    def test_wrong_types_for_binary_are_rejected(self, value: object) -> None:
        """A binary input only accepts booleans."""
        with pytest.raises(InvalidReadingError, match="expected a boolean"):
            ReadingFactory("x", None, binary=True).make(value, TS)

    @pytest.mark.parametrize("value", [None, "12", True])
    def test_wrong_types_for_numbers_are_rejected(self, value: object) -> None:
        """A numeric sensor refuses None, strings and booleans."""
        with pytest.raises(InvalidReadingError, match="expected a number"):
            ReadingFactory("x", None, binary=False).make(value, TS)

    def test_integers_become_floats(self) -> None:
        """An int from a driver is published as a number."""
        assert ReadingFactory("x", None, binary=False).make(3, TS).value == 3.0

    def test_reading_is_frozen(self) -> None:
        """A Reading cannot change after validation."""
        reading = ReadingFactory("x", None, binary=False).make(1.0, TS)
        with pytest.raises(ValueError, match="frozen"):
            reading.value = 2.0  # type: ignore[misc]


def test_format_ts_converts_to_utc() -> None:
    """Timestamps are rendered in UTC with a Z, whatever the input zone."""
    from datetime import timedelta, timezone

    ts = datetime(2026, 1, 1, 1, 0, 0, 5000, tzinfo=timezone(timedelta(hours=1)))
    assert format_ts(ts) == "2026-01-01T00:00:00.005Z"
