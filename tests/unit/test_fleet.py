"""The fleet table, JSON and exit code from retained status and stats payloads, and the read-only collector."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from gateway.cli.fleet import HEADERS, Fleet, Inbox, Row, build_rows, collect, duration, exit_code, render, to_json
from gateway.errors import EX_FAILURE, EX_OK
from gateway.session import InboundMessage

PREFIX = "site/pi-mqtt-gateway"
NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)


def ts(seconds_ago: float) -> str:
    """An ISO timestamp `seconds_ago` before NOW, as the gateway writes it."""
    return (NOW - timedelta(seconds=seconds_ago)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stats(seconds_ago: float = 5, **fields: Any) -> bytes:
    """A stats payload as the gateway publishes it, overridable field by field."""
    base: dict[str, Any] = {
        "uptime": 812.4,
        "accepted": 10,
        "published": 10,
        "buffered": 2,
        "dropped": 0,
        "rejected": 1,
        "last_error": None,
        "ts": ts(seconds_ago),
    }
    return json.dumps(base | fields).encode()


def retained(gateway_id: str, leaf: str, payload: bytes) -> InboundMessage:
    """A retained message on `<PREFIX>/<gateway_id>/<leaf>`."""
    return InboundMessage(f"{PREFIX}/{gateway_id}/{leaf}", payload, retained=True)


def fleet_of(*messages: InboundMessage, track_changes: bool = False) -> Fleet:
    """A fleet with `messages` folded in at NOW."""
    state = Fleet(PREFIX, track_changes=track_changes)
    for message in messages:
        state.apply(message, NOW)
    return state


def rows_of(*messages: InboundMessage) -> dict[str, Row]:
    """The rows built at NOW, by gateway id."""
    return {row.id: row for row in build_rows(fleet_of(*messages), NOW)}


def cells(text: str) -> dict[str, list[str]]:
    """Table lines split on runs of two or more spaces, by their first cell."""
    return {parts[0]: parts for line in text.splitlines() if (parts := re.split(r"\s{2,}", line.strip())) != [""]}


class TestRows:
    def test_status_and_stats_make_one_row(self) -> None:
        """A gateway's status and stats give its status, version, uptime, broker, counts and stats age."""
        row = rows_of(
            retained("shed", "status", b"online"),
            retained("shed", "stats", stats(12, version="1.4.0", broker="mq2.lan:1883")),
        )["shed"]
        assert (row.status, row.since, row.version, row.uptime, row.broker) == (
            "online",
            None,
            "1.4.0",
            812.4,
            "mq2.lan:1883",
        )
        assert (row.buffered, row.dropped, row.rejected, row.last_error) == (2, 0, 1, None)
        assert (row.age, row.stale, row.problems) == (12.0, False, [])

    def test_what_is_missing_stays_unknown(self) -> None:
        """Stats without a status, or a status without stats, still give a row with what is known."""
        rows = rows_of(retained("a-stats-only", "stats", stats()), retained("b-status-only", "status", b"online"))
        assert rows["a-stats-only"].status is None
        assert rows["a-stats-only"].problems == ["no status"]
        assert rows["a-stats-only"].broker is None  # an older gateway: no "broker" key
        assert (rows["b-status-only"].buffered, rows["b-status-only"].age) == (None, None)
        assert rows["b-status-only"].problems == []

    def test_rows_are_sorted_by_id(self) -> None:
        """Rows come out sorted by gateway id, whatever the order the broker delivered them in."""
        state = fleet_of(*(retained(name, "status", b"online") for name in ("zeta", "alpha", "mid")))
        assert [row.id for row in build_rows(state, NOW)] == ["alpha", "mid", "zeta"]

    def test_other_topics_are_ignored(self) -> None:
        """Only `<prefix>/<id>/status` and `<prefix>/<id>/stats` count: not sensors, not other prefixes."""
        state = Fleet(PREFIX)
        assert not state.apply(InboundMessage(f"{PREFIX}/shed/sensor/status", b"1", True), NOW)
        assert not state.apply(InboundMessage("other/shed/status", b"online", True), NOW)
        assert state.gateways == {}
        assert state.filters == (f"{PREFIX}/+/status", f"{PREFIX}/+/stats")

    def test_unreadable_stats_are_a_problem_not_a_crash(self) -> None:
        """Stats that are not a JSON object are reported as unreadable; the status still shows."""
        row = rows_of(retained("shed", "status", b"online"), retained("shed", "stats", b"[1, 2"))["shed"]
        assert (row.status, row.stats_unreadable, row.problems) == ("online", True, ["unreadable stats"])
        assert "unreadable" in cells(render([row]))["shed"]

    def test_clearing_both_topics_forgets_the_gateway(self) -> None:
        """An empty payload clears a topic; a gateway with neither status nor stats left disappears."""
        state = fleet_of(retained("gone", "status", b"offline"), retained("gone", "stats", stats()))
        state.apply(InboundMessage(f"{PREFIX}/gone/stats", b"", retained=False), NOW)
        assert build_rows(state, NOW)[0].age is None
        state.apply(InboundMessage(f"{PREFIX}/gone/status", b"", retained=False), NOW)
        assert state.gateways == {}


class TestStale:
    def test_stale_after_three_minutes_without_an_interval(self) -> None:
        """Stats with no `stats_interval` are stale once older than 3 minutes."""
        rows = rows_of(retained("fresh", "stats", stats(179)), retained("old", "stats", stats(181)))
        assert (rows["fresh"].stale, rows["old"].stale) == (False, True)
        assert cells(render([rows["old"]]))["old"][-2] == "3m ago STALE"

    def test_stale_after_three_intervals_when_the_stats_say_it(self) -> None:
        """Stats that carry their `stats_interval` are stale after three of them."""
        rows = rows_of(
            retained("fresh", "stats", stats(29, stats_interval=10)),
            retained("old", "stats", stats(31, stats_interval=10)),
        )
        assert (rows["fresh"].stale, rows["old"].stale) == (False, True)

    def test_stale_is_flagged_not_failed(self) -> None:
        """Stale stats are flagged but do not fail the check on their own (a Pi's clock may be off)."""
        rows = rows_of(retained("old", "status", b"online"), retained("old", "stats", stats(3600)))
        assert rows["old"].stale
        assert exit_code(list(rows.values())) == EX_OK


class TestExitCode:
    def test_all_online_without_errors_is_ok(self) -> None:
        """Every gateway online with a null or empty `last_error`: exit 0."""
        rows = rows_of(
            retained("a", "status", b"online"),
            retained("a", "stats", stats(last_error=None)),
            retained("b", "status", b"online"),
            retained("b", "stats", stats(last_error="")),
        )
        assert exit_code(list(rows.values())) == EX_OK

    def test_an_offline_gateway_fails(self) -> None:
        """One offline gateway among good ones: exit 1, and it says why."""
        rows = rows_of(retained("a", "status", b"online"), retained("b", "status", b"offline"))
        assert exit_code(list(rows.values())) == EX_FAILURE
        assert rows["b"].problems == ["offline"]

    def test_a_reported_error_fails(self) -> None:
        """An online gateway whose stats carry a non-null `last_error` fails the check."""
        rows = rows_of(retained("a", "status", b"online"), retained("a", "stats", stats(last_error="disk full")))
        assert exit_code(list(rows.values())) == EX_FAILURE
        assert rows["a"].problems == ["error: disk full"]

    def test_no_gateway_at_all_fails(self) -> None:
        """Nothing under the prefix is a failure: a monitoring check must not pass on an empty broker."""
        assert exit_code([]) == EX_FAILURE


class TestOutput:
    def test_the_table_shows_every_column(self) -> None:
        """The table has one line per gateway with status, since, version, uptime, broker, counts, age, error."""
        rows = rows_of(
            retained("barn", "status", b"offline"),
            retained("barn", "stats", stats(65, uptime=4000, last_error="broker refused reading")),
            retained("shed", "status", b"online"),
        )
        table = cells(render(list(rows.values())))
        assert tuple(table["id"]) == HEADERS
        assert table["barn"] == [
            "barn",
            "offline",
            "-",
            "?",
            "66m",
            "?",
            "2",
            "0",
            "1",
            "65s ago",
            "broker refused reading",
        ]
        assert table["shed"] == ["shed", "online", "-", "?", "?", "?", "?", "?", "?", "?", "-"]
        assert table["PROBLEM barn: offline; error: broker refused reading"]

    def test_long_errors_are_shortened_in_the_table_only(self) -> None:
        """A long last error is cut to one short line in the table and kept whole in the JSON."""
        error = "x" * 200
        rows = list(rows_of(retained("a", "stats", stats(last_error=error))).values())
        assert cells(render(rows))["a"][-1] == "x" * 57 + "..."
        assert json.loads(to_json(rows))[0]["last_error"] == error

    def test_json_lists_every_gateway(self) -> None:
        """`--json` gives one object per gateway with its fields, problems and raw stats."""
        rows = rows_of(
            retained("a", "status", b"online"),
            retained("a", "stats", stats(10, broker="mq1:1883")),
            retained("b", "status", b"offline"),
        )
        listed = json.loads(to_json(list(rows.values())))
        assert [item["id"] for item in listed] == ["a", "b"]
        first = listed[0]
        assert (first["status"], first["since"], first["broker"], first["age"], first["stale"]) == (
            "online",
            None,
            "mq1:1883",
            10.0,
            False,
        )
        assert (first["problems"], first["stats"]["published"]) == ([], 10)
        assert (listed[1]["problems"], listed[1]["stats"], listed[1]["uptime"]) == (["offline"], None, None)

    def test_durations_read_at_a_glance(self) -> None:
        """Uptimes and ages are short: seconds, minutes, hours and minutes, days and hours."""
        durations = [duration(seconds) for seconds in (42, 119, 1020, 18180, 198000)]
        assert durations == ["42s", "119s", "17m", "5h03m", "2d07h"]


class TestSince:
    def test_a_live_change_during_watch_is_timed(self) -> None:
        """While watching, a status that changes is stamped with when it changed; retained ones are not."""
        state = fleet_of(retained("shed", "status", b"online"), track_changes=True)
        assert state.gateways["shed"].since is None
        later = NOW + timedelta(seconds=30)
        state.apply(InboundMessage(f"{PREFIX}/shed/status", b"offline", retained=False), later)
        state.apply(InboundMessage(f"{PREFIX}/shed/status", b"offline", retained=False), later + timedelta(seconds=9))
        row = build_rows(state, later)[0]
        assert row.since == later  # the repeated `offline` is not a change
        assert json.loads(to_json([row]))[0]["since"] == "2026-12-02T12:00:30.000Z"
        assert cells(render([row]))["shed"][2] == later.astimezone().strftime("%H:%M:%S")

    def test_one_shot_never_stamps(self) -> None:
        """Without --watch, even a live status change leaves `since` unknown ("-")."""
        state = fleet_of(retained("shed", "status", b"online"))
        state.apply(InboundMessage(f"{PREFIX}/shed/status", b"offline", retained=False), NOW)
        assert build_rows(state, NOW)[0].since is None


class FakeSession:
    """A session that delivers queued messages and records subscriptions and publishes."""

    def __init__(self, messages: list[InboundMessage]) -> None:
        self.queue: asyncio.Queue[InboundMessage] = asyncio.Queue()
        for message in messages:
            self.queue.put_nowait(message)
        self.subscribed: list[tuple[str, int]] = []
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self.published.append((topic, payload))

    async def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        self.subscribed.append((topic_filter, qos))

    async def messages(self) -> AsyncIterator[InboundMessage]:
        while True:
            yield await self.queue.get()

    async def wait_closed(self, on_message: Callable[[InboundMessage], None] | None = None) -> NoReturn:
        raise AssertionError("not used by fleet")


class TestCollect:
    async def test_collect_subscribes_reads_and_never_publishes(self) -> None:
        """The collector subscribes to every status and stats, folds in what is retained, publishes nothing."""
        session = FakeSession([retained("a", "status", b"online"), retained("b", "stats", stats())])
        state = Fleet(PREFIX)
        inbox = Inbox(session)
        try:
            await collect(session, inbox, state, settle=0.05, clock=lambda: NOW)
        finally:
            inbox.close()
        assert session.subscribed == [(f"{PREFIX}/+/status", 1), (f"{PREFIX}/+/stats", 1)]
        assert sorted(state.gateways) == ["a", "b"]
        assert session.published == []
