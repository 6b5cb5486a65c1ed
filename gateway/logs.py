"""One logging pipeline for structlog and the standard library (aiomqtt, paho, gpiozero warnings).

On a TTY a console renderer; otherwise one JSON object per line with a `<N>` syslog priority prefix,
which journald reads as the line's priority. Every known secret is scrubbed from the final text.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import EventDict, WrappedLogger

SYSLOG_PRIORITY = {"critical": 2, "error": 3, "warning": 4, "info": 6, "debug": 7}
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
REDACTED = "[redacted]"


class SecretScrubber:
    """The final step: replace every secret in the rendered line (values, exceptions, anything)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = tuple(s for s in secrets if s)

    def add(self, secrets: Iterable[str]) -> None:
        """Scrub these too from now on (a reloaded config may bring a new password)."""
        self.secrets = tuple(dict.fromkeys((*self.secrets, *(s for s in secrets if s))))

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text


class JournalRenderer:
    """JSON with a `<N>` priority prefix for journald."""

    def __init__(self, scrub: SecretScrubber) -> None:
        self._json = structlog.processors.JSONRenderer(sort_keys=False)
        self._scrub = scrub

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        priority = SYSLOG_PRIORITY.get(str(event_dict.get("level", "info")), 6)
        return f"<{priority}>" + self._scrub(str(self._json(logger, name, event_dict)))


class ScrubbedConsoleRenderer:
    """structlog's console renderer, scrubbed."""

    def __init__(self, scrub: SecretScrubber, colors: bool) -> None:
        self._console = structlog.dev.ConsoleRenderer(colors=colors)
        self._scrub = scrub

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        return self._scrub(str(self._console(logger, name, event_dict)))


class _StdlibBridge(logging.Handler):
    """Sends standard-library records (aiomqtt's "mqtt" logger, py.warnings) into structlog."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed third-party log call must not break logging
            message = str(record.msg)
        event: dict[str, Any] = {"component": record.name}
        if record.exc_info and record.exc_info[0] is not None:
            event["exc_info"] = record.exc_info
        structlog.get_logger().log(record.levelno, message.strip(), **event)


class LogThrottle:
    """At most one log line per `interval` seconds about one thing; what happens in between is counted."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._last = float("-inf")
        self._pending = 0

    def count(self, now: float) -> int | None:
        """Record one occurrence: the number to report (this one included) if a line is due, else None."""
        self._pending += 1
        if now - self._last < self._interval:
            return None
        reported, self._last, self._pending = self._pending, now, 0
        return reported


def configure_logging(
    level: str = "info",
    fmt: Literal["auto", "json", "console"] = "auto",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> SecretScrubber:
    """Set up structlog and route the standard library through it; return the scrubber (add secrets later)."""
    stream = stream or sys.stdout
    scrub = SecretScrubber(secrets)
    use_console = fmt == "console" or (fmt == "auto" and stream.isatty())
    renderer: Any = ScrubbedConsoleRenderer(scrub, colors=stream.isatty()) if use_console else JournalRenderer(scrub)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if not use_console else _passthrough,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    root.handlers[:] = [_StdlibBridge()]
    root.setLevel(LEVELS[level])
    logging.captureWarnings(False)  # re-install even if something restored warnings.showwarning meanwhile
    logging.captureWarnings(True)
    return scrub


def _passthrough(logger: WrappedLogger, name: str, event_dict: MutableMapping[str, Any]) -> EventDict:
    return dict(event_dict)
