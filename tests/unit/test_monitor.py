"""The watch table from messages as a subscriber receives them: sensors, outputs with their last command, stats age."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from gateway.cli.monitor import Snapshot
from gateway.topics import Topics

TOPICS = Topics("pi-mqtt-gateway", "shed")
NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)


def ts(seconds_ago: float) -> str:
    """An ISO timestamp `seconds_ago` before NOW, as the gateway writes it."""
    return (NOW - timedelta(seconds=seconds_ago)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def reading(sensor: str, value: object, seconds_ago: float) -> bytes:
    """A reading payload."""
    return json.dumps({"sensor": sensor, "value": value, "unit": None, "ts": ts(seconds_ago), "seq": 1}).encode()


class TestSnapshot:
    def test_outputs_show_their_state_and_last_command(self) -> None:
        """An output's state and the last command seen on its `set` topic share the live view with the sensors."""
        snapshot = Snapshot()
        snapshot.apply(TOPICS, TOPICS.sensor("door"), reading("door", False, 2))
        snapshot.apply(TOPICS, f"{TOPICS.output('pump')}/set", b"ON")
        snapshot.apply(TOPICS, TOPICS.output("pump"), reading("pump", True, 1))
        text = snapshot.render("shed", now=NOW)
        rows = {line.split()[0]: line.split() for line in text.splitlines() if line.split()}
        assert rows["door"][1:3] == ["false", "2.0s"]
        assert rows["pump"][1:] == ["true", "1.0s", "ON"]

    def test_the_stats_line_says_how_old_it_is(self) -> None:
        """A retained stats message from a minute ago is shown as such, not as the present."""
        snapshot = Snapshot()
        stats = {"published": 0, "buffered": 16, "dropped": 0, "rejected": 0, "reconnects": 0, "ts": ts(61)}
        snapshot.apply(TOPICS, TOPICS.stats, json.dumps(stats).encode())
        assert "stats (61.0s old): published 0  buffered 16" in snapshot.render("shed", now=NOW)

    def test_garbage_is_counted_not_fatal(self) -> None:
        """An unparseable output state counts as malformed and the table still renders."""
        snapshot = Snapshot()
        snapshot.apply(TOPICS, TOPICS.output("pump"), b"not json")
        assert snapshot.malformed == 1
        assert "gateway shed" in snapshot.render("shed", now=NOW)
