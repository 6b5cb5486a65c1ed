"""Tests of the pipeline: validation, filters and the hand-off to the outbox (a recording fake here)."""

from __future__ import annotations

import json

from gateway.config import DeadbandFilter, MultiplyFilter, ThrottleFilter
from gateway.filters import build_chain
from gateway.pipeline import Channel, Pipeline
from gateway.reading import ReadingFactory
from gateway.stats import Stats
from tests.conftest import RecordingSink


def setup() -> tuple[Pipeline, RecordingSink, Stats]:
    stats = Stats()
    box = RecordingSink()
    return Pipeline(box, stats), box, stats


class TestPipeline:
    def test_valid_sample_reaches_the_outbox(self) -> None:
        """A valid sample becomes a message on the sensor's topic with its QoS and retain flag."""
        pipeline, box, _ = setup()
        channel = Channel("soil", "p/g/sensor/soil", 0, False, ReadingFactory("soil", "%", binary=False))
        pipeline.submit(channel, 12.5, 0.0)
        [(topic, reading, qos, retain)] = box.stored
        assert (topic, qos, retain) == ("p/g/sensor/soil", 0, False)
        assert json.loads(reading.payload(1))["value"] == 12.5

    def test_invalid_sample_is_counted_and_not_stored(self) -> None:
        """NaN and out-of-range values are rejected, counted, and never reach the outbox."""
        pipeline, box, stats = setup()
        channel = Channel("t", "x", 1, True, ReadingFactory("t", None, binary=False, maximum=10.0))
        for bad in (float("nan"), 11.0, None):
            pipeline.submit(channel, bad, 0.0)
        assert stats.rejected == 3
        assert len(box) == 0

    def test_a_filter_chain_drops_and_transforms(self) -> None:
        """Filters run in order: a deadband drops small moves, multiply scales what passes."""
        pipeline, box, _ = setup()
        chain = build_chain([DeadbandFilter(type="deadband", delta=1.0), MultiplyFilter(type="multiply", value=10.0)])
        channel = Channel("t", "x", 1, True, ReadingFactory("t", None, binary=False), chain=chain)
        for value in (1.0, 1.5, 3.0, 3.2):
            pipeline.submit(channel, value, 0.0)
        assert [r.value for _, r, _, _ in box.stored] == [10.0, 30.0]

    def test_a_filter_that_overflows_is_a_rejection(self) -> None:
        """A value a filter makes infinite is counted as rejected and never stored."""
        pipeline, box, stats = setup()
        chain = build_chain([MultiplyFilter(type="multiply", value=1e308)])
        channel = Channel("t", "x", 1, True, ReadingFactory("t", None, binary=False), chain=chain)
        pipeline.submit(channel, 10.0, 0.0)
        assert (len(box), stats.rejected) == (0, 1)

    async def test_flush_stores_what_filters_hold(self) -> None:
        """At shutdown a throttled reading still held is stored, so the last value is not lost."""
        pipeline, box, _ = setup()
        chain = build_chain([ThrottleFilter(type="throttle", interval=3600.0)])
        channel = Channel("t", "x", 1, True, ReadingFactory("t", None, binary=False), chain=chain)
        for value in (1.0, 2.0, 3.0):
            pipeline.submit(channel, value, 0.0)
        assert [r.value for _, r, _, _ in box.stored] == [1.0]
        pipeline.flush([channel])
        assert [r.value for _, r, _, _ in box.stored] == [1.0, 3.0]

    def test_a_reading_the_outbox_refuses_is_counted_as_rejected(self) -> None:
        """An InvalidReadingError from the outbox (oversized payload) is a rejection, not a crash."""
        pipeline, box, stats = setup()
        box.refuse_above = 5.0
        channel = Channel("t", "x", 1, True, ReadingFactory("t", None, binary=False))
        for value in (1.0, 6.0, 2.0):
            pipeline.submit(channel, value, 0.0)
        assert stats.rejected == 1
        assert [r.value for _, r, _, _ in box.stored] == [1.0, 2.0]
