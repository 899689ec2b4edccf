"""The durable queue: SQLite in WAL mode with ``synchronous=FULL`` (every commit is fsync'd).

A producer is acknowledged only after its commit returns, so a ``kill -9`` or a power cut
loses nothing that was acknowledged. Items leave the queue only when the server acknowledged
them. Bounds: ``max_items`` and ``max_bytes`` (dropping the oldest routine readings first, alarm
readings last) and ``max_age_s`` for routine readings.

``max_bytes`` is SQLite's ``max_page_count``: an insert that would grow the file past it fails
with ``SQLITE_FULL``, as it does when the disk itself is full; either way the queue drops the
oldest routine readings (then alarm readings) in chunks and retries, so the newest readings are
kept and a producer is acknowledged only once its readings are on disk.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from infrasight.edge.items import EdgeReading, Priority

__all__ = ["EdgeQueue", "QueueFullError", "QueueStats", "QueuedCapture", "QueuedItem"]

#: Share of the queue dropped per attempt when the file or the disk is full.
_FULL_DROP_SHARE = 0.05
#: Item ids per DELETE when acknowledging (below SQLite's 32,766 bound variables).
_ACK_CHUNK = 900
#: Attempts (each after a drop) before a put gives up on a full disk.
_FULL_ATTEMPTS = 40


class QueueFullError(Exception):
    """Nothing is left to drop and the readings still do not fit: not queued, not acknowledged."""


_LOGGER = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    priority INTEGER NOT NULL,
    channel TEXT NOT NULL,
    ts_us INTEGER NOT NULL,
    value REAL NOT NULL,
    unit TEXT,
    enqueued_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS items_send ON items (priority DESC, id);
CREATE INDEX IF NOT EXISTS items_enqueued ON items (enqueued_at);
CREATE TABLE IF NOT EXISTS dead (
    id INTEGER PRIMARY KEY, key TEXT, channel TEXT, ts_us INTEGER, value REAL, unit TEXT,
    error TEXT, failed_at REAL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS captures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    priority INTEGER NOT NULL,
    camera TEXT NOT NULL,
    ts_us INTEGER NOT NULL,
    body BLOB NOT NULL,
    enqueued_at REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedItem:
    """A queued reading with its row id (what :meth:`EdgeQueue.ack` takes)."""

    id: int
    reading: EdgeReading


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedCapture:
    """A queued capture (an analysed frame): row id, key, camera and the request body."""

    id: int
    key: str
    camera: str
    body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueStats:
    """Depth, age of the oldest item (s), drops and dead letters, for status and heartbeats."""

    depth: int
    alarm_depth: int
    oldest_age_s: float | None
    dropped_routine: int
    dropped_alarm: int
    dead: int
    sent: int
    capture_depth: int = 0
    captures_sent: int = 0
    dropped_captures: int = 0


class EdgeQueue:
    """Thread-safe store-and-forward queue in one SQLite file."""

    def __init__(
        self,
        path: Path,
        *,
        max_items: int = 5_000_000,
        max_age_s: float = 90 * 86400.0,
        max_bytes: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self.max_items = max_items
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(_SCHEMA)
        self.max_bytes = max_bytes

    @property
    def max_bytes(self) -> int | None:
        """Most bytes of the queue file (its write-ahead log adds up to about 4 MB)."""
        return self._max_bytes

    @max_bytes.setter
    def max_bytes(self, value: int | None) -> None:
        with self._lock:
            page = int(self._db.execute("PRAGMA page_size").fetchone()[0])
            pages = int(self._db.execute("PRAGMA page_count").fetchone()[0])
            # never below the current size: SQLite would ignore it; drops bring it down later
            limit = (1 << 31) - 2 if value is None else max(value // page, pages, 8)
            self._db.execute(f"PRAGMA max_page_count = {int(limit)}")
            self._max_bytes = value

    def used_bytes(self) -> int:
        """Bytes of the queue file in use (free pages excluded)."""
        with self._lock:
            page = int(self._db.execute("PRAGMA page_size").fetchone()[0])
            pages = int(self._db.execute("PRAGMA page_count").fetchone()[0])
            free = int(self._db.execute("PRAGMA freelist_count").fetchone()[0])
        return (pages - free) * page

    def _now(self) -> float:
        return float(self._clock())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, readings: Sequence[EdgeReading]) -> int:
        """Queue ``readings`` durably (one fsync'd transaction); return how many were new.

        A reading already queued (same channel and time) is ignored.
        """
        now = self._now()
        rows = [
            (r.key, int(r.priority), r.channel, r.ts_us, r.value, r.unit, now) for r in readings
        ]
        with self._lock:
            for _ in range(_FULL_ATTEMPTS):
                try:
                    return self._insert(rows, now)
                except sqlite3.OperationalError as err:
                    if "full" not in str(err):
                        raise
                    if not self._drop_for_space():
                        break
            raise QueueFullError("the queue file or the disk is full and nothing is left to drop")

    def _insert(self, rows: Sequence[tuple[object, ...]], now: float) -> int:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO items (key, priority, channel, ts_us, value, unit,"
                " enqueued_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            added = self._db.total_changes - before
            self._enforce_bounds(now)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        return added

    def _drop_for_space(self) -> bool:
        """Drop a chunk of the oldest items: routine readings, then captures without cracks,
        then alarm readings, then captures with cracks; False when the queue is empty."""
        depth = int(self._db.execute("SELECT count(*) FROM items").fetchone()[0])
        captures = int(self._db.execute("SELECT count(*) FROM captures").fetchone()[0])
        if depth == 0 and captures == 0:
            return False
        routine = self._db.execute(
            "SELECT 1 FROM items WHERE priority = ? LIMIT 1", (int(Priority.ROUTINE),)
        ).fetchone()
        chunk = max(1, round(depth * _FULL_DROP_SHARE))
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if routine is not None:
                self._drop(chunk)
            elif not self._drop_capture(Priority.ROUTINE):
                if depth:
                    self._drop(chunk)
                else:
                    self._drop_capture(Priority.ALARM)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        _LOGGER.warning("queue file or disk full: oldest items dropped")
        return True

    def _drop_capture(self, priority: Priority) -> bool:
        dropped = self._db.execute(
            "DELETE FROM captures WHERE id = (SELECT id FROM captures WHERE priority = ? "
            "ORDER BY id LIMIT 1)",
            (int(priority),),
        ).rowcount
        self._bump("dropped_captures", dropped)
        return bool(dropped)

    def _bump(self, name: str, amount: int) -> None:
        if amount:
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (name, amount),
            )

    def _enforce_bounds(self, now: float) -> None:
        aged = self._db.execute(
            "DELETE FROM items INDEXED BY items_enqueued WHERE enqueued_at < ? AND priority = ?",
            (now - self.max_age_s, int(Priority.ROUTINE)),
        ).rowcount
        self._bump("dropped_routine", aged)
        low = self._db.execute("SELECT min(id) FROM items").fetchone()[0]
        high = self._db.execute("SELECT max(id) FROM items").fetchone()[0]
        if low is None or high - low + 1 <= self.max_items:
            return  # ids only grow: the span bounds the depth without counting
        depth = int(self._db.execute("SELECT count(*) FROM items").fetchone()[0])
        self._drop(depth - self.max_items)

    def _drop(self, excess: int) -> None:
        """Drop ``excess`` items: the oldest routine readings, then the oldest alarm readings."""
        for priority in (Priority.ROUTINE, Priority.ALARM):
            if excess <= 0:
                break
            dropped = self._db.execute(
                "DELETE FROM items WHERE id IN (SELECT id FROM items WHERE priority = ? "
                "ORDER BY id LIMIT ?)",
                (int(priority), excess),
            ).rowcount
            self._bump(f"dropped_{priority.name.lower()}", dropped)
            excess -= dropped

    def _select(self, sql: str, params: tuple[object, ...]) -> list[QueuedItem]:
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [
            QueuedItem(
                id=row[0],
                reading=EdgeReading(
                    channel=row[1],
                    ts_us=row[2],
                    value=row[3],
                    unit=row[4],
                    priority=Priority(row[5]),
                ),
            )
            for row in rows
        ]

    def live(self, limit: int, window_s: float, *, since: float | None = None) -> list[QueuedItem]:
        """The newest items (at most ``limit``, newest first) queued within ``window_s`` seconds,
        or since ``since`` (epoch s) when that is earlier."""
        cutoff = self._now() - window_s
        if since is not None:
            cutoff = min(cutoff, since)
        # ids grow with the time queued: the first id of the range, then a rowid range
        return self._select(
            "SELECT id, channel, ts_us, value, unit, priority FROM items WHERE id >= ("
            "SELECT id FROM items INDEXED BY items_enqueued WHERE enqueued_at >= ? "
            "ORDER BY enqueued_at LIMIT 1) ORDER BY id DESC LIMIT ?",
            (cutoff, limit),
        )

    def backfill(self, limit: int, *, before: float | None = None) -> list[QueuedItem]:
        """The oldest items, alarm readings first (at most ``limit``); with ``before`` (epoch
        s) only items queued before it (the live sender takes the newer ones)."""
        if before is None:
            return self._select(
                "SELECT id, channel, ts_us, value, unit, priority FROM items "
                "ORDER BY priority DESC, id LIMIT ?",
                (limit,),
            )
        return self._select(
            "SELECT id, channel, ts_us, value, unit, priority FROM items INDEXED BY items_send "
            "WHERE enqueued_at < ? ORDER BY priority DESC, id LIMIT ?",
            (before, limit),
        )

    def ack(self, ids: Sequence[int]) -> None:
        """Forget items the server acknowledged."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            before = self._db.total_changes
            ordered = sorted(ids)
            for start in range(0, len(ordered), _ACK_CHUNK):
                chunk = ordered[start : start + _ACK_CHUNK]
                self._db.execute(
                    f"DELETE FROM items WHERE id IN ({','.join('?' * len(chunk))})", chunk
                )
            self._bump("sent", self._db.total_changes - before)
            self._db.execute("COMMIT")

    def bury(self, item: QueuedItem, error: str) -> None:
        """Move an item the server rejected for good into the dead-letter table."""
        r = item.reading
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR REPLACE INTO dead (id, key, channel, ts_us, value, unit, error,"
                " failed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (item.id, r.key, r.channel, r.ts_us, r.value, r.unit, error, self._now()),
            )
            self._db.execute("DELETE FROM items WHERE id = ?", (item.id,))
            self._db.execute("COMMIT")

    def put_capture(self, key: str, camera: str, ts_us: int, body: bytes, *, cracks: int) -> bool:
        """Queue an analysed frame durably (fsync'd); False when its key is queued already.

        A capture with cracks is kept like an alarm reading when space runs out; one without
        is dropped right after routine readings.

        Raises
        ------
        QueueFullError
            When it does not fit even after dropping everything that may be dropped.
        """
        row = (key, int(Priority.ALARM if cracks else Priority.ROUTINE), camera, ts_us, body)
        with self._lock:
            for _ in range(_FULL_ATTEMPTS):
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                    try:
                        added = self._db.execute(
                            "INSERT OR IGNORE INTO captures (key, priority, camera, ts_us, body,"
                            " enqueued_at) VALUES (?, ?, ?, ?, ?, ?)",
                            (*row, self._now()),
                        ).rowcount
                        self._db.execute("COMMIT")
                    except BaseException:
                        if self._db.in_transaction:
                            self._db.execute("ROLLBACK")
                        raise
                    return bool(added)
                except sqlite3.OperationalError as err:
                    if "full" not in str(err):
                        raise
                    if not self._drop_for_space():
                        break
            raise QueueFullError("the queue file or the disk is full and nothing is left to drop")

    def captures(self, limit: int) -> list[QueuedCapture]:
        """The oldest queued captures (at most ``limit``), in the order they were taken."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, key, camera, body FROM captures ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [QueuedCapture(id=r[0], key=r[1], camera=r[2], body=bytes(r[3])) for r in rows]

    def ack_capture(self, capture_id: int) -> None:
        """Forget a capture the server acknowledged."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            changed = self._db.execute("DELETE FROM captures WHERE id = ?", (capture_id,)).rowcount
            self._bump("captures_sent", changed)
            self._db.execute("COMMIT")

    def bury_capture(self, capture: QueuedCapture, error: str) -> None:
        """Move a capture the server refused for good into the dead-letter table."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO dead (key, channel, ts_us, value, unit, error, failed_at)"
                " VALUES (?, ?, NULL, NULL, NULL, ?, ?)",
                (capture.key, f"camera:{capture.camera}", error, self._now()),
            )
            self._db.execute("DELETE FROM captures WHERE id = ?", (capture.id,))
            self._db.execute("COMMIT")

    def stats(self) -> QueueStats:
        """Depth, oldest age and counters."""
        with self._lock:
            depth = self._db.execute("SELECT count(*) FROM items").fetchone()[0]
            alarm_depth = self._db.execute(
                "SELECT count(*) FROM items WHERE priority > 0"
            ).fetchone()[0]
            oldest = self._db.execute("SELECT min(enqueued_at) FROM items").fetchone()[0]
            counters = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
            dead = self._db.execute("SELECT count(*) FROM dead").fetchone()[0]
            capture_depth = self._db.execute("SELECT count(*) FROM captures").fetchone()[0]
        return QueueStats(
            capture_depth=int(capture_depth),
            captures_sent=int(counters.get("captures_sent", 0)),
            dropped_captures=int(counters.get("dropped_captures", 0)),
            depth=int(depth),
            alarm_depth=int(alarm_depth),
            oldest_age_s=None if oldest is None else max(0.0, self._now() - float(oldest)),
            dropped_routine=int(counters.get("dropped_routine", 0)),
            dropped_alarm=int(counters.get("dropped_alarm", 0)),
            dead=int(dead),
            sent=int(counters.get("sent", 0)),
        )
