"""The readings hot path: bulk insert that ignores re-sent data, and downsampling in SQL.

These functions talk to the DB-API cursor of the session's connection directly: an ORM object per
reading would cost more than the whole rest of the ingest path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = [
    "Bucket",
    "bucket_width_us",
    "count_conflicts",
    "downsample",
    "fetch_last",
    "fetch_series",
    "insert_readings",
    "time_bounds",
]

_SQLITE_INSERT = (
    "INSERT INTO readings (channel_id, ts, value, quality) VALUES (?, ?, ?, 0) "
    "ON CONFLICT DO NOTHING"
)
_PG_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS readings_stage "
    "(channel_id integer, ts bigint, value double precision) ON COMMIT DELETE ROWS"
)
_PG_MERGE = (
    "INSERT INTO readings (channel_id, ts, value, quality) "
    "SELECT channel_id, ts, value, 0 FROM readings_stage ON CONFLICT DO NOTHING"
)


def _dbapi_connection(session: Session) -> Any:
    return session.connection().connection.dbapi_connection


def insert_readings(session: Session, rows: Sequence[tuple[int, int, float]]) -> int:
    """Insert ``(channel_id, ts_us, value)`` rows in the session's transaction.

    Rows whose (channel, time) already exists, in the table or earlier in ``rows``, are skipped.

    Returns
    -------
    int
        How many rows were new.
    """
    if not rows:
        return 0
    raw = _dbapi_connection(session)
    cursor = raw.cursor()
    try:
        if session.get_bind().dialect.name == "postgresql":
            cursor.execute(_PG_STAGE)
            with cursor.copy("COPY readings_stage (channel_id, ts, value) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(_PG_MERGE)
            inserted = int(cursor.rowcount)
            cursor.execute("TRUNCATE readings_stage")
        else:
            cursor.executemany(_SQLITE_INSERT, rows)
            inserted = int(cursor.rowcount)
    finally:
        cursor.close()
    return inserted


def _fetch_range(
    session: Session, channel_id: int, lo_us: int, hi_us: int
) -> tuple[np.ndarray, np.ndarray]:
    p = "%s" if session.get_bind().dialect.name == "postgresql" else "?"
    sql = f"SELECT ts, value FROM readings WHERE channel_id = {p} AND ts >= {p} AND ts <= {p}"
    cursor = _dbapi_connection(session).cursor()
    try:
        cursor.execute(sql + " ORDER BY ts", (channel_id, lo_us, hi_us))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    ts = np.array([r[0] for r in rows], dtype=np.int64)
    return ts, np.array([r[1] for r in rows], dtype=np.float64)


def count_conflicts(session: Session, rows: Sequence[tuple[int, int, float]]) -> int:
    """How many of ``(channel_id, ts_us, value)`` rows differ from the value now stored.

    Call after :func:`insert_readings`: a row that was stored matches itself; a re-sent reading
    (in the table before, or earlier in ``rows``) with another value is a conflict.
    """
    by_channel: dict[int, list[tuple[int, float]]] = {}
    for channel_id, stamp, value in rows:
        by_channel.setdefault(channel_id, []).append((stamp, value))
    conflicts = 0
    for channel_id, pairs in by_channel.items():
        sent = np.array([p[0] for p in pairs], dtype=np.int64)
        vals = np.array([p[1] for p in pairs], dtype=np.float64)
        stamps, stored = _fetch_range(session, channel_id, int(sent.min()), int(sent.max()))
        if not stamps.size:
            continue
        pos = np.clip(np.searchsorted(stamps, sent), 0, stamps.size - 1)
        hit = stamps[pos] == sent
        differ = hit & ~np.isclose(vals, stored[pos], rtol=1e-12, atol=0.0)
        conflicts += int(np.sum(differ))
    return conflicts


def fetch_series(
    session: Session, channel_id: int, *, after_us: int | None = None, from_us: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A channel's readings after ``after_us`` (exclusive) or from ``from_us`` (inclusive).

    Returns
    -------
    times_us, values : numpy.ndarray
        int64 microseconds since the epoch and float64 values, in time order.
    """
    bound, op = (after_us, ">") if after_us is not None else (from_us, ">=")
    sql = "SELECT ts, value FROM readings WHERE channel_id = {p}"
    params: tuple[int, ...] = (channel_id,)
    if bound is not None:
        sql += f" AND ts {op} {{p}}"
        params = (channel_id, bound)
    sql += " ORDER BY ts"
    is_pg = session.get_bind().dialect.name == "postgresql"
    cursor = _dbapi_connection(session).cursor()
    try:
        cursor.execute(sql.format(p="%s" if is_pg else "?"), params)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    table = np.array(rows, dtype=np.float64)
    return np.array([r[0] for r in rows], dtype=np.int64), table[:, 1]


def fetch_last(session: Session, channel_id: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The channel's last ``count`` readings in time order (times in µs, values)."""
    is_pg = session.get_bind().dialect.name == "postgresql"
    mark = "%s" if is_pg else "?"
    cursor = _dbapi_connection(session).cursor()
    try:
        cursor.execute(
            f"SELECT ts, value FROM readings WHERE channel_id = {mark} "
            f"ORDER BY ts DESC LIMIT {mark}",
            (channel_id, count),
        )
        rows = cursor.fetchall()[::-1]
    finally:
        cursor.close()
    if not rows:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    return (
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.float64),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Bucket:
    """Aggregate of the readings in ``[start_us, start_us + width)``."""

    start_us: int
    minimum: float
    mean: float
    maximum: float
    count: int


def time_bounds(session: Session, channel_id: int) -> tuple[int, int] | None:
    """First and last reading time of a channel (microseconds), or None when it has none."""
    row = session.execute(
        text("SELECT MIN(ts), MAX(ts) FROM readings WHERE channel_id = :c"), {"c": channel_id}
    ).one()
    if row[0] is None:
        return None
    return int(row[0]), int(row[1])


def bucket_width_us(start_us: int, end_us: int, max_points: int) -> int:
    """Bucket width (µs) so that ``[start_us, end_us)`` fits in at most ``max_points`` buckets.

    Widths above one second are rounded up to whole seconds, so bucket times stay readable.
    """
    width = max(1, -(-(end_us - start_us) // max_points))
    if width > 1_000_000:
        width = -(-width // 1_000_000) * 1_000_000
    return width


def downsample(
    session: Session, channel_id: int, start_us: int, end_us: int, max_points: int
) -> list[Bucket]:
    """Aggregate readings of ``[start_us, end_us)`` into at most ``max_points`` equal buckets.

    The grouping runs in the database; only the buckets cross the wire.
    """
    if end_us <= start_us:
        return []
    width = bucket_width_us(start_us, end_us, max_points)
    result = session.execute(
        text(
            "SELECT (ts - :start) / :width AS b, MIN(value), AVG(value), MAX(value), COUNT(*) "
            "FROM readings WHERE channel_id = :c AND ts >= :start AND ts < :end "
            "GROUP BY b ORDER BY b"
        ),
        {"c": channel_id, "start": start_us, "end": end_us, "width": width},
    )
    return [
        Bucket(
            start_us=start_us + int(b) * width,
            minimum=float(lo),
            mean=float(mean),
            maximum=float(hi),
            count=int(n),
        )
        for b, lo, mean, hi, n in result
    ]
