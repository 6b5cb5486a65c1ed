"""Tests of the pipeline: validation, filters and the outbox hand-off."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.outbox import MemoryOutbox
from gateway.pipeline import Channel, Pipeline
from gateway.reading import Reading, ReadingFactory
from gateway.sequence import SequenceCounter
from gateway.stats import Stats


def setup(tmp_path: Path) -> tuple[Pipeline, MemoryOutbox, Stats]:
    stats = Stats()
    box = MemoryOutbox(SequenceCounter(tmp_path), stats, max_readings=100, on_full="drop_oldest")
    return Pipeline(box, stats), box, stats


class TestPipeline:
    async def test_valid_sample_reaches_the_outbox(self, tmp_path: Path) -> None:
        """A valid sample becomes a message on the sensor's topic with its QoS and retain flag."""
        pipeline, box, _ = setup(tmp_path)
        channel = Channel("soil", "p/g/sensor/soil", 0, False, ReadingFactory("soil", "%", binary=False))
        pipeline.submit(channel, 12.5, 0.0)
        message = await box.head()
        assert (message.topic, message.qos, message.retain) == ("p/g/sensor/soil", 0, False)
        assert json.loads(message.payload)["value"] == 12.5

    def test_invalid_sample_is_counted_and_not_stored(self, tmp_path: Path) -> None:
        """NaN and out-of-range values are rejected, counted, and never reach the outbox."""
        pipeline, box, stats = setup(tmp_path)
        channel = Channel("t", "x", 1, True, ReadingFactory("t", None, binary=False, maximum=10.0))
        for bad in (float("nan"), 11.0, None):
            pipeline.submit(channel, bad, 0.0)
        assert stats.rejected == 3
        assert len(box) == 0

    def test_filter_returning_none_drops(self, tmp_path: Path) -> None:
        """Filters run in order; one that returns None stops the reading."""
        pipeline, box, _ = setup(tmp_path)

        def only_positive(reading: Reading) -> Reading | None:
            return reading if isinstance(reading.value, float) and reading.value > 0 else None

        channel = Channel("t", "x", 1, True, ReadingFactory("t", None, binary=False), filters=[only_positive])
        for value in (-1.0, 2.0, -3.0):
            pipeline.submit(channel, value, 0.0)
        assert len(box) == 1
