"""Tests of the logging pipeline: journald priorities, stdlib routing and secret scrubbing."""

from __future__ import annotations

import io
import json
import logging
import warnings

import structlog

from gateway.logs import LogThrottle, configure_logging


def lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


class TestLogging:
    def test_json_lines_carry_a_syslog_priority(self) -> None:
        """Off a TTY each line is `<N>` + JSON; warning is 4, info 6."""
        stream = io.StringIO()
        configure_logging("info", "auto", stream=stream)
        structlog.get_logger(component="t").info("hello", n=1)
        structlog.get_logger(component="t").warning("careful")
        first, second = lines(stream)
        assert first.startswith("<6>")
        assert json.loads(first[3:])["event"] == "hello"
        assert second.startswith("<4>")

    def test_stdlib_and_warnings_go_through_the_same_pipeline(self) -> None:
        """aiomqtt's "mqtt" logger and Python warnings come out as JSON lines too."""
        stream = io.StringIO()
        configure_logging("info", "json", stream=stream)
        logging.getLogger("mqtt").warning("pending publish calls: %d", 11)
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("pin factory fallback", UserWarning, stacklevel=1)
        events = [json.loads(line[3:]) for line in lines(stream)]
        assert events[0]["event"] == "pending publish calls: 11"
        assert events[0]["component"] == "mqtt"
        assert "pin factory fallback" in events[1]["event"]

    def test_secrets_are_scrubbed_everywhere(self) -> None:
        """A secret never appears, whether in a value, a message or an exception."""
        stream = io.StringIO()
        configure_logging("debug", "json", secrets=["sentinel-pw"], stream=stream)
        log = structlog.get_logger()
        log.info("connecting with sentinel-pw", password="sentinel-pw")
        try:
            raise RuntimeError("auth failed for sentinel-pw")
        except RuntimeError:
            log.exception("failed")
        logging.getLogger("mqtt").error("sent sentinel-pw")
        output = stream.getvalue()
        assert "sentinel-pw" not in output
        assert output.count("[redacted]") >= 4

    def test_level_filters(self) -> None:
        """Below the configured level nothing is written."""
        stream = io.StringIO()
        configure_logging("warning", "json", stream=stream)
        structlog.get_logger().info("quiet")
        logging.getLogger("mqtt").info("quiet too")
        assert lines(stream) == []

    def test_console_format(self) -> None:
        """format = console renders human-readable lines without the priority prefix."""
        stream = io.StringIO()
        configure_logging("info", "console", stream=stream)
        structlog.get_logger().info("readable", sensor="soil")
        (line,) = lines(stream)
        assert "readable" in line
        assert "sensor=soil" in line
        assert not line.startswith("<")


class TestLogThrottle:
    def test_one_line_per_interval_with_the_count_since(self) -> None:
        """The first occurrence is reported; the next ones within the interval are counted into the next line."""
        throttle = LogThrottle(10.0)
        assert [throttle.count(t) for t in (0.0, 1.0, 2.0, 9.9)] == [1, None, None, None]
        assert throttle.count(10.0) == 4  # three quiet ones and this one
        assert throttle.count(10.5) is None
