"""Every filter, table-driven on a fake clock: what goes in at which second, what comes out when."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from gateway.config import FilterConfig, GatewayConfig
from gateway.errors import InvalidReadingError
from gateway.filters import build_chain
from gateway.reading import ReadingFactory


class _OneFilter(BaseModel):
    entry: FilterConfig


def parse(entry: dict[str, Any]) -> FilterConfig:
    """One `filters` entry, validated as the config loader does."""
    return _OneFilter.model_validate({"entry": entry}).entry


Value = bool | float


def run(filters: list[dict[str, Any]], events: list[tuple[float, Value]], until: float) -> list[tuple[float, Value]]:
    """Feed `events` (second, value) through a chain, firing its timers on time; return (second, value) out."""
    chain = build_chain([parse(f) for f in filters])
    assert chain is not None
    out: list[tuple[float, Value]] = []

    def fire_until(t: float) -> None:
        while (deadline := chain.deadline()) is not None and deadline <= t:
            out.extend((deadline, r.value) for r in chain.due(deadline))

    for second, value in events:
        fire_until(second)
        reading = ReadingFactory("s", None, binary=isinstance(value, bool)).make(value, 1_700_000_000 + second)
        out.extend((second, r.value) for r in chain.feed(reading, second))
    fire_until(until)
    return out


CASES: dict[str, tuple[list[dict[str, Any]], list[tuple[float, Value]], float, list[tuple[float, Value]]]] = {
    "debounce: a bounce never passes, a stable change passes after ms": (
        [{"type": "debounce", "ms": 50}],
        [(0, False), (1.0, True), (1.01, False), (1.02, True), (1.03, False), (2.0, True)],
        3,
        [(0, False), (2.05, True)],
    ),
    "debounce: the last of several different values is the one that settles": (
        [{"type": "debounce", "ms": 100}],
        [(0, 1.0), (1.0, 2.0), (1.05, 3.0)],
        2,
        [(0, 1.0), (1.15, 3.0)],
    ),
    "deadband absolute": (
        [{"type": "deadband", "delta": 0.5}],
        [(0, 10.0), (1, 10.4), (2, 10.6), (3, 10.2), (4, 10.0)],
        5,
        [(0, 10.0), (2, 10.6), (4, 10.0)],
    ),
    "deadband percent": (
        [{"type": "deadband", "percent": 10}],
        [(0, 100.0), (1, 109.0), (2, 111.0), (3, 100.0), (4, 99.0)],
        5,
        [(0, 100.0), (2, 111.0), (4, 99.0)],  # 10% of the last one published (111): 11.1
    ),
    "deadband on a boolean is publish-on-change": (
        [{"type": "deadband", "delta": 0}],
        [(0, True), (1, True), (2, False), (3, False)],
        4,
        [(0, True), (2, False)],
    ),
    "throttle keeps the latest of an interval": (
        [{"type": "throttle", "interval": 1.0}],
        [(0, 1.0), (0.2, 2.0), (0.5, 3.0), (1.5, 4.0), (3.0, 5.0)],
        5,
        [(0, 1.0), (1.0, 3.0), (2.0, 4.0), (3.0, 5.0)],
    ),
    "heartbeat repeats after silence": (
        [{"type": "heartbeat", "interval": 10}],
        [(0, 5.0), (4, 6.0)],
        35,
        [(0, 5.0), (4, 6.0), (14, 6.0), (24, 6.0), (34, 6.0)],
    ),
    "moving_average over 3": (
        [{"type": "moving_average", "window": 3}],
        [(0, 3.0), (1, 6.0), (2, 9.0), (3, 12.0)],
        4,
        [(0, 3.0), (1, 4.5), (2, 6.0), (3, 9.0)],
    ),
    "median over 3 drops a spike": (
        [{"type": "median", "window": 3}],
        [(0, 20.0), (1, 21.0), (2, 99.0), (3, 22.0)],
        4,
        [(0, 20.0), (1, 20.5), (2, 21.0), (3, 22.0)],
    ),
    "offset then multiply, in config order": (
        [{"type": "offset", "value": 1.0}, {"type": "multiply", "value": 2.0}],
        [(0, 1.0), (1, -1.0)],
        2,
        [(0, 4.0), (1, 0.0)],
    ),
    "calibrate_linear through three points, extrapolated": (
        [{"type": "calibrate_linear", "points": [[0, 0], [1, 10], [2, 30]]}],
        [(0, 0.5), (1, 1.5), (2, 3.0), (3, -1.0)],
        4,
        [(0, 5.0), (1, 20.0), (2, 50.0), (3, -10.0)],
    ),
    "clamp both sides": (
        [{"type": "clamp", "min": 0, "max": 100}],
        [(0, -5.0), (1, 50.0), (2, 150.0)],
        3,
        [(0, 0.0), (1, 50.0), (2, 100.0)],
    ),
    "round to 1 digit": (
        [{"type": "round", "digits": 1}],
        [(0, 21.449), (1, 21.451)],
        2,
        [(0, 21.4), (1, 21.5)],
    ),
    "a timed filter's release goes through the filters after it": (
        [{"type": "throttle", "interval": 1.0}, {"type": "multiply", "value": 10}],
        [(0, 1.0), (0.5, 2.0)],
        2,
        [(0, 10.0), (1.0, 20.0)],
    ),
    "booleans pass value filters unchanged": (
        [{"type": "debounce", "ms": 10}, {"type": "heartbeat", "interval": 60}],
        [(0, True)],
        61,
        [(0, True), (60, True)],
    ),
}


class TestFilters:
    @pytest.mark.parametrize("name", list(CASES))
    def test_table(self, name: str) -> None:
        """Each filter's outputs, with their times, for a scripted input."""
        filters, events, until, expected = CASES[name]
        got = run(filters, events, until)
        assert [t for t, _ in got] == pytest.approx([t for t, _ in expected])
        assert [v for _, v in got] == pytest.approx([v for _, v in expected])

    def test_heartbeat_moves_ts_forward(self) -> None:
        """A repeated reading carries the time of the repeat, not the original's."""
        chain = build_chain([parse({"type": "heartbeat", "interval": 5})])
        assert chain is not None
        first = ReadingFactory("s", None, binary=False).make(1.0, 1_700_000_000)
        chain.feed(first, 100.0)
        (repeat,) = chain.due(105.0)
        assert (repeat.ts - first.ts).total_seconds() == pytest.approx(5.0)

    def test_flush_releases_held_readings(self) -> None:
        """At shutdown a debounced change still pending is released (the input did end there)."""
        chain = build_chain([parse({"type": "debounce", "ms": 1000})])
        assert chain is not None
        make = ReadingFactory("s", None, binary=True).make
        chain.feed(make(False, 0), 0.0)
        assert chain.feed(make(True, 1), 1.0) == []
        assert [r.value for r in chain.flush(1.1)] == [True]

    def test_an_overflowing_filter_raises_invalid_reading(self) -> None:
        """multiply that overflows to infinity refuses the reading rather than publishing it."""
        chain = build_chain([parse({"type": "multiply", "value": 1e308})])
        assert chain is not None
        with pytest.raises(InvalidReadingError, match="filter"):
            chain.feed(ReadingFactory("s", None, binary=False).make(10.0, 0), 0.0)


class TestFilterConfig:
    @pytest.mark.parametrize(
        ("entry", "message"),
        [
            ({"type": "deadband"}, "exactly one of delta and percent"),
            ({"type": "deadband", "delta": 1, "percent": 5}, "exactly one of delta and percent"),
            ({"type": "calibrate_linear", "points": [[0, 0]]}, "at least 2"),
            ({"type": "calibrate_linear", "points": [[1, 0], [1, 5]]}, "distinct raw"),
            ({"type": "clamp"}, "min, max or both"),
            ({"type": "clamp", "min": 5, "max": 1}, "must not exceed"),
            ({"type": "debounce", "ms": 0}, "greater than or equal to 1"),
            ({"type": "smooth"}, "does not match any of the expected tags"),
        ],
    )
    def test_bad_filters_are_refused(self, entry: dict[str, Any], message: str) -> None:
        """Each filter validates its own keys."""
        with pytest.raises(ValidationError, match=message):
            parse(entry)

    def test_a_binary_input_takes_only_timing_filters(self) -> None:
        """A button with a median filter is a config error naming the allowed ones."""
        with pytest.raises(ValidationError, match="needs numbers"):
            GatewayConfig.model_validate(
                {"sensors": [{"id": "b", "kind": "button", "pin": 17, "filters": [{"type": "median", "window": 3}]}]}
            )
