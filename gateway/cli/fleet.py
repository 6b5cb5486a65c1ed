"""`fleet`: every gateway under the topic prefix, from their retained `status` and `stats`.

It subscribes to `<prefix>/+/status` and `<prefix>/+/stats` with a client of its own (no Last Will) and never
publishes anything. The command line hands in the transport, so this module does not load the MQTT client.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn, TextIO

from gateway.cli.table import render_table
from gateway.errors import EX_FAILURE, EX_OK
from gateway.session import InboundMessage, Session, Transport

CLEAR_SCREEN = "\x1b[H\x1b[2J"
STALE_AFTER = 180.0  # seconds, when the stats do not say their interval
STALE_INTERVALS = 3  # stats older than this many of their intervals are stale
REDRAW_EVERY = 1.0
ERROR_WIDTH = 60
HEADERS = (
    "id",
    "status",
    "since",
    "version",
    "uptime",
    "broker",
    "buffered",
    "dropped",
    "rejected",
    "last seen",
    "last error",
)


@dataclass
class Seen:
    """What the broker has told us about one gateway so far."""

    status: str | None = None
    since: datetime | None = None
    stats: dict[str, Any] | None = None
    stats_unreadable: bool = False

    def set_status(self, payload: bytes, *, changed_at: datetime | None) -> None:
        """The status payload (empty: cleared); `changed_at` is when a live change was seen, None if retained."""
        status = payload.decode(errors="replace") or None
        if changed_at is not None and status != self.status:
            self.since = changed_at
        self.status = status

    def set_stats(self, payload: bytes) -> None:
        """The stats payload (empty: cleared); anything but a JSON object is unreadable, never fatal."""
        self.stats, self.stats_unreadable = None, False
        if not payload:
            return
        try:
            stats = json.loads(payload)
        except ValueError:
            stats = None
        if isinstance(stats, dict):
            self.stats = stats
        else:
            self.stats_unreadable = True

    @property
    def empty(self) -> bool:
        """Nothing is known any more (both retained topics cleared)."""
        return self.status is None and self.stats is None and not self.stats_unreadable


@dataclass
class Fleet:
    """Every gateway seen under one topic prefix; `track_changes` records when a status changes (`--watch`)."""

    prefix: str
    track_changes: bool = False
    gateways: dict[str, Seen] = field(default_factory=dict)

    @property
    def filters(self) -> tuple[str, str]:
        """The two subscriptions: every gateway's status and stats."""
        return f"{self.prefix}/+/status", f"{self.prefix}/+/stats"

    def apply(self, message: InboundMessage, now: datetime) -> bool:
        """Fold one message in; True when it was a gateway's status or stats."""
        parsed = self._split(message.topic)
        if parsed is None:
            return False
        gateway_id, leaf = parsed
        seen = self.gateways.setdefault(gateway_id, Seen())
        if leaf == "status":
            live = self.track_changes and not message.retained
            seen.set_status(message.payload, changed_at=now if live else None)
        else:
            seen.set_stats(message.payload)
        if seen.empty:
            del self.gateways[gateway_id]
        return True

    def _split(self, topic: str) -> tuple[str, str] | None:
        head = f"{self.prefix}/"
        if not topic.startswith(head):
            return None
        gateway_id, _, leaf = topic.removeprefix(head).partition("/")
        return (gateway_id, leaf) if gateway_id and leaf in ("status", "stats") else None


@dataclass(frozen=True)
class Row:
    """One gateway as `fleet` shows it; None where it is not known."""

    id: str
    status: str | None
    since: datetime | None
    version: str | None
    uptime: float | None
    broker: str | None
    buffered: int | None
    dropped: int | None
    rejected: int | None
    last_error: str | None
    stats_ts: str | None
    age: float | None
    stale: bool
    stats_unreadable: bool
    stats: Mapping[str, Any] | None

    @property
    def problems(self) -> list[str]:
        """Why this gateway fails the check: not online, an error in its stats, or unreadable stats."""
        found = [] if self.status == "online" else [self.status or "no status"]
        if self.last_error is not None:
            found.append(f"error: {self.last_error}")
        if self.stats_unreadable:
            found.append("unreadable stats")
        return found


def build_rows(state: Fleet, now: datetime) -> list[Row]:
    """One row per gateway, sorted by id."""
    return [make_row(gateway_id, seen, now) for gateway_id, seen in sorted(state.gateways.items())]


def make_row(gateway_id: str, seen: Seen, now: datetime) -> Row:
    """The row of one gateway from its status and stats (missing fields stay None)."""
    stats = seen.stats or {}
    ts = _text(stats, "ts")
    taken = _parse_ts(ts)
    age = max(0.0, (now - taken).total_seconds()) if taken is not None else None
    return Row(
        id=gateway_id,
        status=seen.status,
        since=seen.since,
        version=_text(stats, "version"),
        uptime=_number(stats, "uptime"),
        broker=_text(stats, "broker"),
        buffered=_count(stats, "buffered"),
        dropped=_count(stats, "dropped"),
        rejected=_count(stats, "rejected"),
        last_error=_error(stats),
        stats_ts=ts,
        age=age,
        stale=age is not None and age > stale_after(stats),
        stats_unreadable=seen.stats_unreadable,
        stats=seen.stats,
    )


def stale_after(stats: Mapping[str, Any]) -> float:
    """Seconds after which stats are stale: 3 of their `stats_interval` when they say it, else 3 minutes."""
    interval = _number(stats, "stats_interval")
    return STALE_INTERVALS * interval if interval is not None and interval > 0 else STALE_AFTER


def exit_code(rows: Sequence[Row]) -> int:
    """0 when there is at least one gateway and every one is online without an error, else 1."""
    return EX_OK if rows and not any(row.problems for row in rows) else EX_FAILURE


def render(rows: Sequence[Row]) -> str:
    """The table, then one line per gateway with problems."""
    table = render_table(HEADERS, [_cells(row) for row in rows])
    problems = [f"PROBLEM {row.id}: {'; '.join(row.problems)}\n" for row in rows if row.problems]
    return table + ("\n" + "".join(problems) if problems else "")


def to_json(rows: Sequence[Row]) -> str:
    """A JSON list, one object per gateway, with its problems and its raw stats."""
    return json.dumps([_as_dict(row) for row in rows], indent=2, ensure_ascii=False) + "\n"


def _as_dict(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "since": _iso(row.since) if row.since is not None else None,
        "version": row.version,
        "uptime": row.uptime,
        "broker": row.broker,
        "buffered": row.buffered,
        "dropped": row.dropped,
        "rejected": row.rejected,
        "last_error": row.last_error,
        "stats_ts": row.stats_ts,
        "age": round(row.age, 3) if row.age is not None else None,
        "stale": row.stale,
        "problems": row.problems,
        "stats": row.stats,
    }


def _cells(row: Row) -> tuple[str, ...]:
    counts = tuple(_or_unknown(count) for count in (row.buffered, row.dropped, row.rejected))
    return (
        row.id,
        row.status or "?",
        row.since.astimezone().strftime("%H:%M:%S") if row.since is not None else "-",
        row.version or "?",
        duration(row.uptime) if row.uptime is not None else "?",
        row.broker or "?",
        *counts,
        _last_seen(row),
        _shorten(row.last_error) if row.last_error is not None else "-",
    )


def _last_seen(row: Row) -> str:
    if row.stats_unreadable:
        return "unreadable"
    if row.age is None:
        return "?"
    return f"{duration(row.age)} ago" + (" STALE" if row.stale else "")


def duration(seconds: float) -> str:
    """A short human duration: 42s, 17m, 5h03m, 2d07h."""
    whole = int(seconds)
    if whole < 120:
        return f"{whole}s"
    if whole < 2 * 3600:
        return f"{whole // 60}m"
    if whole < 2 * 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def _shorten(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= ERROR_WIDTH else line[: ERROR_WIDTH - 3] + "..."


def _or_unknown(value: object) -> str:
    return "?" if value is None else str(value)


def _text(stats: Mapping[str, Any], key: str) -> str | None:
    value = stats.get(key)
    return value if isinstance(value, str) and value else None


def _number(stats: Mapping[str, Any], key: str) -> float | None:
    value = stats.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _count(stats: Mapping[str, Any], key: str) -> int | None:
    value = stats.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _error(stats: Mapping[str, Any]) -> str | None:
    """A non-null, non-empty `last_error` means the gateway reports an error."""
    value = stats.get("last_error")
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _parse_ts(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Inbox:
    """A session's messages, waited for with a timeout; the pending receive is kept, never cancelled midway
    (cancelling it would close the session's message generator)."""

    def __init__(self, session: Session) -> None:
        self._messages: AsyncIterator[InboundMessage] = session.messages()
        self._pending: asyncio.Task[InboundMessage] | None = None

    async def get(self, timeout: float) -> InboundMessage | None:
        """The next message, or None when none arrives within `timeout` seconds."""
        self._pending = self._pending or asyncio.ensure_future(anext(self._messages))
        done, _ = await asyncio.wait({self._pending}, timeout=max(0.0, timeout))
        if not done:
            return None
        task, self._pending = self._pending, None
        return task.result()

    def close(self) -> None:
        """Give up the pending receive."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


async def collect(session: Session, inbox: Inbox, state: Fleet, settle: float, clock: Clock = utc_now) -> None:
    """Subscribe, then fold messages in until `settle` seconds have passed without a new retained one."""
    for topic_filter in state.filters:
        await session.subscribe(topic_filter, qos=1)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle
    while (remaining := deadline - loop.time()) > 0:
        message = await inbox.get(remaining)
        if message is not None and state.apply(message, clock()) and message.retained:
            deadline = loop.time() + settle


@dataclass(frozen=True)
class FleetOptions:
    """What `fleet` looks at and how it reports: `broker` only names the broker in messages."""

    prefix: str
    broker: str
    settle: float = 1.0
    watch: bool = False
    as_json: bool = False


async def fleet(
    transport: Transport, options: FleetOptions, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Show every gateway under the prefix once (exit 0 when all are online without errors), or live."""
    out, err = out or sys.stdout, err or sys.stderr
    state = Fleet(options.prefix, track_changes=options.watch)
    async with transport.connect() as session:
        inbox = Inbox(session)
        try:
            await collect(session, inbox, state, options.settle)
            if options.watch:
                await watch(inbox, state, options, out)
        finally:
            inbox.close()
    return report(build_rows(state, utc_now()), options, out, err)


def report(rows: Sequence[Row], options: FleetOptions, out: TextIO, err: TextIO) -> int:
    """Print the table (or the JSON list) of a one-shot run and return its exit code."""
    out.write(to_json(rows) if options.as_json else render(rows))
    if not rows:
        err.write(f"no gateways under {options.prefix} on {options.broker}\n")
    return exit_code(rows)


async def watch(inbox: Inbox, state: Fleet, options: FleetOptions, out: TextIO, clock: Clock = utc_now) -> NoReturn:
    """Redraw the table every second, folding messages in meanwhile, until cancelled (Ctrl-C)."""
    tty = out.isatty()
    loop = asyncio.get_running_loop()
    while True:
        out.write((CLEAR_SCREEN if tty else "\n") + live_view(state, options, clock()))
        out.flush()
        next_draw = loop.time() + REDRAW_EVERY
        while (remaining := next_draw - loop.time()) > 0:
            message = await inbox.get(remaining)
            if message is not None:
                state.apply(message, clock())


def live_view(state: Fleet, options: FleetOptions, now: datetime) -> str:
    """A heading with the time, then the table (or a line saying no gateway is there yet)."""
    rows = build_rows(state, now)
    heading = f"fleet under {options.prefix} on {options.broker} at {now.astimezone():%H:%M:%S}\n\n"
    if not rows:
        return heading + f"no gateways under {options.prefix} on {options.broker} yet\n"
    return heading + render(rows)
