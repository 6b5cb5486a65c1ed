"""The outbox's SQLite file: blocking calls only, run on the outbox's own thread, never on the event loop.

One table of readings keyed by `seq` (an `INTEGER PRIMARY KEY`, so the row id is the seq), one of
quarantined readings, and one of counters (the `seq` mark). WAL mode; inserts commit with
`synchronous=FULL` (durable), deletes after an acknowledgement with `NORMAL` (a lost delete only causes a
duplicate, and the next FULL commit makes it durable anyway). README: "Nothing lost".
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

DB_FILE = "outbox.db"
SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL,
    reason TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
SEQ_KEY = "next_seq"  # the row key mark: every stored message has a row seq
READING_KEY = "next_reading"  # the readings' own `seq` mark: other messages (availability, configs) take none


@dataclass(frozen=True, slots=True)
class Message:
    """A stored reading, ready to publish: its `seq` is fixed, so a resend carries the same one."""

    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    control: bool = False  # in the control lane (gateway.lanes), never stored

    @property
    def size(self) -> int:
        """The bytes it counts against the outbox's byte cap (topic and payload)."""
        return len(self.topic) + len(self.payload)


@dataclass(frozen=True, slots=True)
class StoredState:
    """What a restart finds: where `seq` resumes and how much waits."""

    next_seq: int
    rows: int
    bytes: int
    quarantined: int
    moved_aside: Path | None
    next_reading: int = 1


@dataclass(frozen=True, slots=True)
class Batch:
    """One transaction's worth of changes; `next_seq` is the seq mark to record with it."""

    inserts: Sequence[Message] = ()
    deletes: Sequence[int] = ()
    quarantine: Sequence[tuple[Message, str]] = ()
    next_seq: int | None = None
    next_reading: int | None = None  # always written together with next_seq

    @property
    def durable(self) -> bool:
        """Whether it must be synced (inserts and the seq mark must survive power loss; deletes need not)."""
        return bool(self.inserts or self.quarantine or self.next_seq is not None)


class OutboxStore:
    """The SQLite file behind the outbox. Not thread-safe: use it from one thread only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def open(self) -> StoredState:
        """Open (creating or, when corrupt, moving aside and recreating) and report what is stored."""
        moved_aside = None
        try:
            self._connect()
            state = self._state()
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise
            self.close_quietly()
            moved_aside = self._move_aside()
            self._connect()
            state = self._state()
        return StoredState(state[0], state[1], state[2], state[3], moved_aside, state[4])

    def write(self, batch: Batch) -> None:
        """Apply `batch` in one transaction: durable (FULL) when it inserts, cheap (NORMAL) when it only deletes."""
        db = self._conn()
        db.execute(f"PRAGMA synchronous={'FULL' if batch.durable else 'NORMAL'}")
        try:
            with _transaction(db):
                if batch.inserts:
                    db.executemany("INSERT OR REPLACE INTO outbox VALUES (?, ?, ?, ?, ?)", _rows(batch.inserts))
                if batch.quarantine:
                    now = time.time()
                    db.executemany(
                        "INSERT OR REPLACE INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [(*_row(m), reason, now) for m, reason in batch.quarantine],
                    )
                    db.executemany("DELETE FROM outbox WHERE seq = ?", [(m.seq,) for m, _ in batch.quarantine])
                if batch.deletes:
                    db.executemany("DELETE FROM outbox WHERE seq = ?", [(seq,) for seq in batch.deletes])
                if batch.next_seq is not None:
                    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (SEQ_KEY, batch.next_seq))
                if batch.next_reading is not None:
                    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (READING_KEY, batch.next_reading))
        finally:
            db.execute("PRAGMA synchronous=FULL")

    def load(self, after_seq: int, limit: int) -> list[Message]:
        """Up to `limit` stored messages with a seq above `after_seq`, oldest first."""
        cursor = self._conn().execute(
            "SELECT seq, topic, payload, qos, retain FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
        )
        return [Message(seq, topic, bytes(payload), qos, bool(retain)) for seq, topic, payload, qos, retain in cursor]

    def close(self, next_seq: int | None, next_reading: int | None = None) -> None:
        """Record the exact seq marks, fold the WAL into the database, and close."""
        if self._db is None:
            return
        try:
            if next_seq is not None:
                self.write(Batch(next_seq=next_seq, next_reading=next_reading))
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self.close_quietly()

    def close_quietly(self) -> None:
        """Close without writing anything (after an error)."""
        if self._db is not None:
            db, self._db = self._db, None
            with suppress(sqlite3.Error):
                db.close()

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; `_transaction` opens them where we want them.
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db = db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=OFF")
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("database disk image is malformed (quick_check failed)")
        with _transaction(db):
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _state(self) -> tuple[int, int, int, int, int]:
        db = self._conn()
        mark = db.execute("SELECT value FROM meta WHERE key = ?", (SEQ_KEY,)).fetchone()
        reading_mark = db.execute("SELECT value FROM meta WHERE key = ?", (READING_KEY,)).fetchone()
        rows, size, top = db.execute(
            "SELECT count(*), coalesce(sum(length(topic) + length(payload)), 0), coalesce(max(seq), 0) FROM outbox"
        ).fetchone()
        quarantined, quarantine_top = db.execute("SELECT count(*), coalesce(max(seq), 0) FROM quarantine").fetchone()
        next_seq = max(mark[0] if mark else 1, top + 1, quarantine_top + 1, 1)
        # A file written before readings had their own mark: their seqs were row seqs, all below next_seq.
        next_reading = reading_mark[0] if reading_mark else next_seq
        return int(next_seq), int(rows), int(size), int(quarantined), int(next_reading)

    def _move_aside(self) -> Path:
        target = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                source.replace(Path(f"{target}{suffix}"))
        return target

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise sqlite3.OperationalError("the outbox database is not open")
        return self._db


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One explicit transaction: the connection is in autocommit mode, where `with db:` would not open one
    and every row of an executemany would be its own commit (and its own fsync)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _row(message: Message) -> tuple[int, str, bytes, int, int]:
    return (message.seq, message.topic, message.payload, message.qos, int(message.retain))


def _rows(messages: Iterable[Message]) -> list[tuple[int, str, bytes, int, int]]:
    return [_row(m) for m in messages]


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """Corrupt or not a database at all (as opposed to a full disk or a read-only directory)."""
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "file is encrypted" in text


def read_summary(path: Path) -> tuple[int, int, int] | None:
    """(waiting rows, quarantined rows, next reading seq) of an outbox file, read-only; None if there is none."""
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT count(*), coalesce(max(seq), 0) FROM outbox").fetchone()
            quarantined = db.execute("SELECT count(*) FROM quarantine").fetchone()[0]
            mark = db.execute("SELECT value FROM meta WHERE key = ?", (SEQ_KEY,)).fetchone()
            reading_mark = db.execute("SELECT value FROM meta WHERE key = ?", (READING_KEY,)).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    next_seq = max(int(mark[0]) if mark else 1, int(rows[1]) + 1)
    return int(rows[0]), int(quarantined), int(reading_mark[0]) if reading_mark else next_seq
